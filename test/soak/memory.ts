// `npm run memory -- [--seconds N] [--root DIR] [--live] [--isolation auto|process|none] [--clip NAME|FILE]...`:
// the daemon's memory as the service runs it (the unit's NODE_OPTIONS and MALLOC_ARENA_MAX, the built entry point,
// a real mosquitto) on the demo clip, the three-face clip and the 1920x1080 classroom, each played at its own frame
// rate: peak RSS, PSS and anonymous memory from /proc/PID/smaps_rollup, sampled every 0.5 s. --root runs another
// checkout's build (a before/after comparison); its dist/ and node_modules/ must be there. --clip (repeatable)
// keeps only the clips named, or runs a video file given by its path. --live serves each clip as a live MJPEG
// stream (a camera) instead of reading the file; the daemon's source process (source.isolation) is then sampled
// too: its own peaks, and the peak of the two together. CPU seconds of both are printed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Mosquitto, freePort } from '../helpers/mosquitto.js';
import { DEMO_CLIP, classrooms, threeFaces } from '../helpers/clips/reference.js';
import { sharedDataDir } from '../helpers/clips/data.js';
import { DaemonProcess, ensureBuilt } from './daemon-process.js';
import { sampleProcess } from './sampler.js';
import { MjpegStream } from './stream.js';

interface Peak {
  rss_mb: number;
  pss_mb: number;
  anon_mb: number;
}

interface Measured extends Peak {
  samples: number;
  /** The source process (--live with isolation): its peaks, and the peaks of daemon + source together. */
  source?: Peak;
  together?: Peak;
  cpu_s: number;
}

/** The daemon's child processes (its source process). */
function children(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** User + system CPU seconds of a process so far (/proc/PID/stat utime + stime). */
function cpuSeconds(pid: number): number {
  try {
    const fields = fs
      .readFileSync(`/proc/${pid}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

const KEYS = ['rss_mb', 'pss_mb', 'anon_mb'] as const;

async function measure(root: string, clip: string, seconds: number, brokerUrl: string, opts: { live: boolean; isolation?: string }): Promise<Measured> {
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-memory-'));
  let crashed = false;
  const stream = opts.live ? new MjpegStream(clip, await freePort()) : undefined;
  stream?.up();
  if (stream) await stream.listening();
  const source = stream ? ['--source', stream.url] : ['--source', clip, '--source-loop', 'true', '--source-pace', 'realtime'];
  const isolation = opts.isolation ? ['--source-isolation', opts.isolation] : [];
  const daemon = new DaemonProcess({
    root,
    runDir,
    args: [...source, ...isolation, '--mqtt-url', brokerUrl, '--device-id', 'memory'],
    onCrash: () => (crashed = true),
  });
  daemon.start();
  const peak: Peak = { rss_mb: 0, pss_mb: 0, anon_mb: 0 };
  const sourcePeak: Peak = { rss_mb: 0, pss_mb: 0, anon_mb: 0 };
  const together: Peak = { rss_mb: 0, pss_mb: 0, anon_mb: 0 };
  let sawSource = false;
  let samples = 0;
  let cpu = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end && !crashed) {
    await sleep(500);
    const r = daemon.pid === undefined ? undefined : sampleProcess(daemon.pid, 0);
    if (!r) continue;
    samples += 1;
    const kids = children(daemon.pid as number)
      .map((c) => sampleProcess(c, 0))
      .filter((x) => x !== undefined);
    for (const k of KEYS) {
      peak[k] = Math.max(peak[k], r[k]);
      const sum = kids.reduce((n, c) => n + c[k], 0);
      if (kids.length > 0) sourcePeak[k] = Math.max(sourcePeak[k], sum);
      together[k] = Math.max(together[k], r[k] + sum);
    }
    if (kids.length > 0) sawSource = true;
    cpu = cpuSeconds(daemon.pid as number) + children(daemon.pid as number).reduce((n, c) => n + cpuSeconds(c), 0);
  }
  await daemon.stop();
  await stream?.down();
  if (crashed) throw new Error(`the daemon exited during the run: see ${daemon.logFile}`);
  const round = (p: Peak): Peak => ({
    rss_mb: Math.round(p.rss_mb * 10) / 10,
    pss_mb: Math.round(p.pss_mb * 10) / 10,
    anon_mb: Math.round(p.anon_mb * 10) / 10,
  });
  return { ...peak, samples, cpu_s: Math.round(cpu * 10) / 10, ...(sawSource ? { source: round(sourcePeak), together: round(together) } : {}) };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const seconds = Number(opt('--seconds') ?? 60);
  const root = path.resolve(opt('--root') ?? path.resolve(import.meta.dirname, '../..'));
  const live = args.includes('--live');
  const isolation = opt('--isolation');
  ensureBuilt(root);
  const data = sharedDataDir();
  let clips: Array<[string, string]> = [['demo', DEMO_CLIP]];
  if (data) clips.push(['three faces', threeFaces(data).path], ['classroom 1080p', (classrooms(data)[1] as { path: string }).path]);
  else console.log('memory: no shared data: the three-face and classroom clips are skipped');
  const only = args.flatMap((a, i) => (a === '--clip' ? [args[i + 1] ?? ''] : []));
  if (only.length > 0) {
    const files = only.filter((c) => fs.existsSync(c)).map((f): [string, string] => [path.basename(f), path.resolve(f)]);
    clips = [...clips.filter(([name]) => only.includes(name)), ...files];
  }
  const port = await freePort();
  const broker = new Mosquitto([{ port }]);
  await broker.start();
  try {
    for (const [name, clip] of clips) {
      const r = await measure(root, clip, seconds, `mqtt://127.0.0.1:${port}`, { live, isolation });
      const extra = r.source ? { source_process: r.source, daemon_and_source: r.together } : {};
      console.log(
        JSON.stringify({
          clip: name,
          root,
          seconds,
          ...(live ? { live: true, isolation: isolation ?? 'auto' } : {}),
          peak_rss_mb: r.rss_mb,
          peak_pss_mb: r.pss_mb,
          peak_anon_mb: r.anon_mb,
          samples: r.samples,
          cpu_s: r.cpu_s,
          ...extra,
        }),
      );
    }
  } finally {
    await broker.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
