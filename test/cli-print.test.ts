// `emotiond run --print | head`: the reader going away ends the printing, not the daemon.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { shippedModel } from './helpers/shared-data.js';

const DEMO = path.resolve('deploy/demo/demo-faces.avi');
const ready = shippedModel() !== null && fs.existsSync(DEMO);
if (!ready) console.log(`cli-print: skipped: needs models/emotion-cnn-lstm.int8.onnx and ${DEMO} (deploy/setup.sh)`);

(ready ? test : test.skip)('a closed stdout stops --print and the daemon runs on to the end of the clip (exit 0)', async (t) => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'run',
      '--source',
      DEMO,
      '--source-pace',
      'none',
      '--no-mqtt-enabled',
      '--no-http-enabled',
      '--print',
      '--log-pretty',
      'no',
    ],
    {
      env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 90_000);
  // Like `head -1`: read the first line, then close the pipe.
  const first = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.slice(0, out.indexOf('\n')));
    });
  });
  child.stdout.destroy();
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(killer);
  t.like(JSON.parse(first) as object, { type: 'camera', state: 'online' });
  t.is(code, 0, stderr.slice(-3000));
});
