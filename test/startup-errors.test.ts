// Start-time errors that a restart cannot fix (a missing or corrupt model, a missing or bad cascade, an
// unreadable password, CA, certificate or key file) exit 78 with one line naming the path and the reason and
// no stack trace, so that systemd (RestartPreventExitStatus=78) does not restart-loop. Failures that a restart
// can fix (a port in use, a broker that is down) do not exit 78.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import { resolveCascade } from '../src/detect/cascade-file.js';
import { shippedModel } from './helpers/shared-data.js';
import { tmpDir } from './publish-helpers.js';

const MODEL = shippedModel() ?? (process.env.EMOTIOND_TEST_MODEL ? path.resolve(process.env.EMOTIOND_TEST_MODEL) : null);
const DEMO = path.resolve('deploy/demo/demo-faces.avi');
if (!MODEL) console.log('startup-errors: tests that need a loadable model skipped: no models/emotion-cnn-lstm.int8.onnx and no EMOTIOND_TEST_MODEL');
if (!fs.existsSync(DEMO)) console.log(`startup-errors: the broker-down test skipped: ${DEMO} missing (deploy/make-demo-clip.sh)`);
const withModel = MODEL ? test.serial : test.serial.skip;
const withClip = MODEL && fs.existsSync(DEMO) ? test.serial : test.serial.skip;

interface Exit {
  code: number | null;
  stderr: string;
}

/** `emotiond run` from the sources with JSON logs; resolves when it exits (killed after 60 s). */
function run(args: string[]): Promise<Exit> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '--log-pretty', 'no', '--no-mqtt-discovery', ...args], {
    env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stderr });
    }),
  );
}

function file(name: string, content: string | Uint8Array): string {
  const f = path.join(tmpDir('emotiond-start-'), name);
  fs.writeFileSync(f, content);
  return f;
}

/** Exit 78, a fatal line naming `where` and matching `reason`, and no stack trace anywhere on stderr. */
function assertConfigExit(t: import('ava').ExecutionContext, r: Exit, where: string, reason: RegExp): void {
  t.is(r.code, 78, r.stderr.slice(-3000));
  const fatal = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string })
    .filter((l) => l.level === 60);
  t.is(fatal.length, 1, r.stderr.slice(-3000));
  const msg = fatal[0]?.msg ?? '';
  t.true(msg.includes(where), `names ${where}: ${msg}`);
  t.regex(msg, reason);
  t.false(/"stack"|\n\s+at .+:\d+:\d+\)?/.test(r.stderr), `no stack trace: ${r.stderr.slice(-3000)}`);
}

const SOURCE = ['--source', '/nonexistent/clip.avi', '--mqtt-url', 'mqtt://127.0.0.1:1'];

test.serial('a missing model exits 78 naming the path', async (t) => {
  const missing = '/nonexistent/emotion.onnx';
  assertConfigExit(t, await run([...SOURCE, '--classifier-model', missing]), missing, /no such file/i);
});

withModel('a truncated ONNX model exits 78 naming the path', async (t) => {
  const bytes = fs.readFileSync(MODEL as string);
  const truncated = file('truncated.onnx', bytes.subarray(0, Math.floor(bytes.length / 2)));
  assertConfigExit(t, await run([...SOURCE, '--classifier-model', truncated]), truncated, /truncated|not a readable ONNX/i);
});

test.serial('a file that is not a model exits 78 naming the path', async (t) => {
  const text = file('notes.onnx', 'this is not an ONNX model\n'.repeat(20));
  assertConfigExit(t, await run([...SOURCE, '--classifier-model', text]), text, /ONNX|metadata/);
});

withModel('a missing cascade exits 78 naming the path', async (t) => {
  const missing = '/nonexistent/face.xml';
  assertConfigExit(t, await run([...SOURCE, '--classifier-model', MODEL as string, '--detector-cascade', missing]), missing, /exists|no such file/i);
});

// OpenCV aborts the process (SIGABRT, no exit code at all) on each of these unless they are caught first.
withModel('a cascade that is not a cascade, is cut short, or is a directory, exits 78 naming the path', async (t) => {
  const bad = file('face.xml', '<?xml version="1.0"?>\n<opencv_storage><nothing/></opencv_storage>\n');
  assertConfigExit(t, await run([...SOURCE, '--classifier-model', MODEL as string, '--detector-cascade', bad]), bad, /cascade/i);
  const real = fs.readFileSync(resolveCascade('haar'));
  const cut = file('cut.xml', real.subarray(0, Math.floor(real.length / 2)));
  assertConfigExit(t, await run([...SOURCE, '--classifier-model', MODEL as string, '--detector-cascade', cut]), cut, /cut short/);
  const dir = tmpDir('emotiond-cascade-dir-');
  assertConfigExit(t, await run([...SOURCE, '--classifier-model', MODEL as string, '--detector-cascade', dir]), dir, /directory/i);
});

withModel('an unreadable password file exits 78 naming the path', async (t) => {
  const missing = '/nonexistent/mqtt_password';
  assertConfigExit(
    t,
    await run([...SOURCE, '--classifier-model', MODEL as string, '--mqtt-username', 'u', '--mqtt-password-file', missing]),
    missing,
    /no such file/i,
  );
  const dir = tmpDir('emotiond-pw-dir-');
  assertConfigExit(t, await run([...SOURCE, '--classifier-model', MODEL as string, '--mqtt-username', 'u', '--mqtt-password-file', dir]), dir, /directory/i);
});

withModel('an unreadable CA, certificate or key file exits 78 naming the path', async (t) => {
  for (const flag of ['--mqtt-ca-file', '--mqtt-cert-file', '--mqtt-key-file']) {
    const missing = `/nonexistent/${flag.slice(7)}.pem`;
    assertConfigExit(
      t,
      await run([...SOURCE, '--mqtt-url', 'mqtts://127.0.0.1:1', '--classifier-model', MODEL as string, flag, missing]),
      missing,
      /no such file/i,
    );
  }
});

withModel('an embedded broker port in use exits 1 (a restart can fix it), not 78', async (t) => {
  const busy = net.createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => busy.close());
  const port = (busy.address() as net.AddressInfo).port;
  const r = await run([...SOURCE, '--classifier-model', MODEL as string, '--mqtt-embedded', '--mqtt-embedded-port', String(port)]);
  t.is(r.code, 1, r.stderr.slice(-3000));
  t.regex(r.stderr, /EADDRINUSE/);
});

withClip('a broker that is down is not a start-time error: the clip is processed and the daemon exits 0', async (t) => {
  const r = await run([
    '--source',
    DEMO,
    '--source-pace',
    'none',
    '--classifier-model',
    MODEL as string,
    '--mqtt-url',
    'mqtt://127.0.0.1:1',
    '--mqtt-protocol-version',
    '4',
  ]);
  t.is(r.code, 0, r.stderr.slice(-3000));
  t.regex(r.stderr, /MQTT connection error; retrying/);
});
