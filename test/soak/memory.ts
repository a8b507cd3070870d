// `npm run memory -- [--seconds N] [--root DIR] [--clip NAME]`: the daemon's memory as the service runs it (the
// unit's NODE_OPTIONS and MALLOC_ARENA_MAX, the built entry point, a real mosquitto) on the demo clip, the
// three-face clip and the 1920x1080 classroom, each played at its own frame rate: peak RSS, PSS and anonymous
// memory from /proc/PID/smaps_rollup, sampled every 0.5 s. --root runs another checkout's build (a before/after
// comparison); its dist/ and node_modules/ must be there. --clip (repeatable) keeps only the clips named.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Mosquitto, freePort } from '../helpers/mosquitto.js';
import { DEMO_CLIP, classrooms, threeFaces } from '../helpers/clips/reference.js';
import { sharedDataDir } from '../helpers/clips/data.js';
import { DaemonProcess, ensureBuilt } from './daemon-process.js';
import { sampleProcess } from './sampler.js';

interface Peak {
  rss_mb: number;
  pss_mb: number;
  anon_mb: number;
}

async function measure(root: string, clip: string, seconds: number, brokerUrl: string): Promise<Peak & { samples: number }> {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-memory-'));
  let crashed = false;
  const daemon = new DaemonProcess({ root, runDir, args: ['--source', clip, '--source-loop', 'true', '--source-pace', 'realtime', '--mqtt-url', brokerUrl, '--device-id', 'memory'], onCrash: () => (crashed = true) });
  daemon.start();
  const peak: Peak = { rss_mb: 0, pss_mb: 0, anon_mb: 0 };
  let samples = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end && !crashed) {
    await sleep(500);
    const r = daemon.pid === undefined ? undefined : sampleProcess(daemon.pid, 0);
    if (!r) continue;
    samples += 1;
    for (const k of ['rss_mb', 'pss_mb', 'anon_mb'] as const) peak[k] = Math.max(peak[k], r[k]);
  }
  await daemon.stop();
  if (crashed) throw new Error(`the daemon exited during the run: see ${daemon.logFile}`);
  return { ...peak, samples };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const seconds = Number(opt('--seconds') ?? 60);
  const root = path.resolve(opt('--root') ?? path.resolve(import.meta.dirname, '../..'));
  ensureBuilt(root);
  const data = sharedDataDir();
  let clips: Array<[string, string]> = [['demo', DEMO_CLIP]];
  if (data) clips.push(['three faces', threeFaces(data).path], ['classroom 1080p', (classrooms(data)[1] as { path: string }).path]);
  else console.log('memory: no shared data: the three-face and classroom clips are skipped');
  const only = args.flatMap((a, i) => (a === '--clip' ? [args[i + 1] ?? ''] : []));
  if (only.length > 0) clips = clips.filter(([name]) => only.includes(name));
  const port = await freePort();
  const broker = new Mosquitto([{ port }]);
  await broker.start();
  try {
    for (const [name, clip] of clips) {
      const r = await measure(root, clip, seconds, `mqtt://127.0.0.1:${port}`);
      console.log(JSON.stringify({ clip: name, root, seconds, peak_rss_mb: r.rss_mb, peak_pss_mb: r.pss_mb, peak_anon_mb: r.anon_mb, samples: r.samples }));
    }
  } finally {
    await broker.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
