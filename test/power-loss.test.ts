// Power cuts during a broker outage (npm run power-loss) in short, as CI runs it: five SIGKILLs of the built
// daemon at random moments on the same queue file, then the broker comes back. The 50-kill run and its figures
// are in the closing notes of issue #33; here the targets that hold at any length.
import { spawn } from 'node:child_process';
import test from 'ava';
import { mosquittoMissing } from './helpers/mosquitto.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { missingModel } from './helpers/shared-data.js';
import { missingFfmpeg } from './helpers/media-tools.js';

testUnless(firstMissing(mosquittoMissing(), missingFfmpeg(), missingModel()), { serial: true })(
  'power loss: 5 SIGKILLs during a broker outage; the queue file always parses, every queued event is delivered once',
  async (t) => {
    t.timeout(4 * 60_000);
    const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import=tsx', 'test/soak/power-loss.ts', '--kills', '5', '--seed', '7'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.once('error', reject);
      child.once('exit', (c) => resolve({ code: c, out: text }));
    });
    t.log(out.trim().split('\n').slice(-2).join('\n'));
    const r = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Record<string, number | boolean>;
    t.is(r['kills'], 5);
    t.true((r['queued_before_kills'] as number) > 0, 'events were queued during the outage');
    t.is(r['unparseable_files'], 0);
    t.is(r['vanished_from_file'], 0);
    t.is(r['lost'], 0);
    t.is(r['duplicates'], 0);
    t.is(r['delivered_once'], r['queued_before_kills']);
    t.is(r['orphan_source_processes'], 0, 'the camera process ends with the daemon');
    t.is(r['tmp_files_left'], 0);
    t.is(code, 0, out);
  },
);
