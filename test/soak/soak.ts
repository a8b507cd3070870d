// `npm run soak -- --minutes N [--seed S] [--clip FILE]`: the built daemon, run as the service runs it (the
// unit's NODE_OPTIONS and MALLOC_ARENA_MAX), reads a clip served as a live MJPEG stream over HTTP by ffmpeg
// and publishes to a real mosquitto, while camera outages, broker outages with a power cut (SIGKILL) in the
// middle, bursts of malformed commands, wall-clock jumps (+1 day, then -25 h, through libfaketime), a full disk
// during a broker outage (its state directory is a small tmpfs, filled), a camera whose open wedges (a server
// that accepts and never answers) and a power cut while connected are injected on a schedule (plan.ts). It
// samples memory and fds and /healthz, counts events against what the outbox accepted, and ends with one JSON
// line of results. The full disk needs root (mount), the clock jumps libfaketime: without them those faults are
// skipped, and said so.
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MqttClient } from 'mqtt';
import { Mosquitto, freePort } from '../helpers/mosquitto.js';
import { connectClient } from '../helpers/mqtt-client.js';
import { DEMO_CLIP, threeFaces } from '../helpers/clips/reference.js';
import { sharedDataDir } from '../helpers/clips/data.js';
import { topicsFor } from '../../src/contract/topics.js';
import { faultPlan, type Fault } from './plan.js';
import { MjpegStream } from './stream.js';
import { medianOver, sampleProcess, type Sample } from './sampler.js';
import { EventLedger, type OutboxCounts } from './ledger.js';
import { DaemonProcess, ensureBuilt } from './daemon-process.js';
import { FakeWallClock, missingFaketime } from '../helpers/faketime.js';
import { fill, mountTmpfs, tmpfsMissing, type Tmpfs } from '../helpers/tmpfs.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const DEVICE = 'soak';
const topics = topicsFor('emotiond', DEVICE);
/** The longest the end of a run waits for the outbox to drain and the subscriber to catch up. */
const DRAIN_TIMEOUT_MS = 60_000;

interface Options {
  minutes: number;
  seed: number;
  clip?: string;
}

function parseOptions(argv: string[]): Options {
  const opts: Options = { minutes: 60, seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const [key, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = (): string => inline ?? argv[++i] ?? '';
    if (key === '--minutes') opts.minutes = Number(value());
    else if (key === '--seed') opts.seed = Number(value());
    else if (key === '--clip') opts.clip = path.resolve(value());
    else throw new Error(`soak: unknown option ${argv[i]} (use --minutes N, --seed S, --clip FILE)`);
  }
  return opts;
}

function pickClip(opts: Options): { path: string; faces: number | null } {
  if (opts.clip) return { path: opts.clip, faces: null };
  const data = sharedDataDir();
  if (data) {
    const c = threeFaces(data);
    return { path: c.path, faces: c.faces };
  }
  console.log(`soak: no shared data (../shared/data or EMOTIOND_DATA_DIR): the demo clip (one face) instead of the three-face clip`);
  return { path: DEMO_CLIP, faces: 1 };
}

/** Figures the subscriber gathers from the daemon's topics. */
class Watch {
  readonly ledger = new EventLedger();
  /** Wall times (ms) at which the camera topic said online. */
  readonly onlineTimes: number[] = [];
  /** Rejected command payloads: earlier daemon processes (killed or crashed) and the one running now. */
  private rejectedEarlier = 0;
  private rejectedNow = 0;
  lastEventMs = 0;
  /** face_gone durations and room windows that are negative or longer than an hour (a clock jump leaking in). */
  badDurations = 0;

  rejectedCommands(): number {
    return this.rejectedEarlier + this.rejectedNow;
  }

  /** A daemon process ended (crash or power cut): what it counted stays counted. */
  processEnded(): void {
    this.ledger.processEnded();
    this.rejectedEarlier += this.rejectedNow;
    this.rejectedNow = 0;
  }

  onMessage(topic: string, payload: Buffer): void {
    const text = payload.toString();
    if (topic === topics.events) {
      this.ledger.event(text);
      this.lastEventMs = Date.now();
      const d = (JSON.parse(text) as { duration_s?: number }).duration_s;
      if (d !== undefined && !(d >= 0 && d <= 3600)) this.badDurations += 1;
      return;
    }
    try {
      const body = JSON.parse(text) as Record<string, unknown>;
      // Arrival on the soak's clock: the daemon's own stamps follow its (jumping) wall clock.
      if (topic === topics.camera && body['state'] === 'online') this.onlineTimes.push(Date.now());
      if (topic === topics.room && !(Number(body['window_s']) >= 0 && Number(body['window_s']) <= 3600)) this.badDurations += 1;
      if (topic === topics.stats) {
        const mqtt = body['mqtt'] as OutboxCounts & { rejected_commands: number };
        this.ledger.stats(mqtt);
        this.rejectedNow = mqtt.rejected_commands;
      }
    } catch {
      // retained clears and discovery configs are not ours to check here
    }
  }
}

/** Payloads a broken or hostile client might send to the command topics. */
function malformedCommands(): Array<[string, string | Buffer]> {
  const bad: Array<string | Buffer> = [
    '',
    '{',
    'null',
    '[]',
    '"paused"',
    '{"paused":"yes"}',
    '{"paused":1}',
    '{"transaction":{}}',
    '{"paused":true,"extra":1}',
    Buffer.from([0xff, 0xfe, 0x00, 0x01]),
    'x'.repeat(256 * 1024),
    '{"__proto__":{"paused":true}}',
  ];
  const out: Array<[string, string | Buffer]> = [];
  for (let i = 0; i < 20; i++) {
    for (const p of bad) out.push([topics.set, p]);
    out.push([topics.request('health_check'), bad[i % bad.length]!]);
    out.push([topics.request('no_such_request'), '{}']);
  }
  return out;
}

async function burst(url: string): Promise<void> {
  const client = await connectClient(url, { clientId: 'emotiond-soak-commands', protocolVersion: 4 });
  for (const [topic, payload] of malformedCommands()) await client.publishAsync(topic, payload, { qos: 0 });
  await client.endAsync();
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const plan = faultPlan(opts.minutes, opts.seed);
  const clip = pickClip(opts);
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-soak-'));
  console.log(`soak: ${opts.minutes} min on ${path.basename(clip.path)}; ${plan.faults.length} faults; logs in ${runDir}`);
  ensureBuilt(ROOT);

  const brokerPort = await freePort();
  const brokerUrl = `mqtt://127.0.0.1:${brokerPort}`;
  const broker = new Mosquitto([{ port: brokerPort }], { persistence: true });
  await broker.start();
  const watch = new Watch();
  // A persistent session at QoS 1: the broker keeps what arrives while the subscriber is away, and (with
  // persistence) across its own restart, so a loss counted here is the daemon's.
  const sub: MqttClient = await connectClient(brokerUrl, { clientId: 'emotiond-soak-sub', clean: false, protocolVersion: 4, reconnectPeriod: 500 });
  sub.on('message', (topic, payload) => watch.onMessage(topic, payload));
  await sub.subscribeAsync(`${topics.root}/#`, { qos: 1 });

  const stream = new MjpegStream(clip.path, await freePort());
  stream.up();
  // The state directory on a small tmpfs that a fault fills; the daemon's wall clock under libfaketime.
  const noTmpfs = tmpfsMissing();
  const noFaketime = missingFaketime();
  if (noTmpfs) console.log(`soak: the full-disk faults are skipped: ${noTmpfs}`);
  if (noFaketime) console.log(`soak: the clock jumps are skipped: ${noFaketime}`);
  const stateFs: Tmpfs | undefined = noTmpfs ? undefined : mountTmpfs(4096);
  const stateDir = path.join(runDir, 'state');
  if (stateFs) fs.symlinkSync(stateFs.dir, stateDir);
  const wall = noFaketime ? undefined : new FakeWallClock(path.join(runDir, 'faketime'));
  const httpPort = await freePort();
  const daemon = new DaemonProcess({
    root: ROOT,
    runDir,
    args: [
      '--source',
      stream.url,
      '--mqtt-url',
      brokerUrl,
      '--device-id',
      DEVICE,
      '--mqtt-stats-interval-s',
      '2',
      '--mqtt-queue-file',
      'outbox.jsonl',
      '--http-enabled',
      '--http-port',
      String(httpPort),
    ],
    env: wall?.env(),
    onCrash: () => watch.processEnded(),
    onKilled: () => watch.processEnded(),
  });
  daemon.start();
  const health = healthProbe(httpPort);

  const t0 = Date.now();
  const since = (): number => (Date.now() - t0) / 1000;
  const samples: Sample[] = [];
  const sampler = setInterval(() => {
    const s = daemon.pid === undefined ? undefined : sampleProcess(daemon.pid, since());
    if (s) samples.push(s);
  }, 2000);
  const backs: number[] = [];
  const wedgeBacks: number[] = [];
  let cameraOutages = 0;
  let brokerOutages = 0;
  let clockOffsetH = 0;
  let clockJumpsInjected = 0;
  let diskFullS = 0;
  let wedges = 0;

  const apply = async (f: Fault): Promise<void> => {
    await sleep(Math.max(0, f.at_s * 1000 - (Date.now() - t0)));
    console.log(`soak: ${since().toFixed(0)} s: ${f.kind}${f.down_s ? ` down ${f.down_s} s` : ''}`);
    if (f.kind === 'camera') {
      await stream.down();
      cameraOutages += 1;
      await sleep(f.down_s * 1000);
      stream.up();
      backs.push(await cameraBack(watch, await stream.listening()));
    } else if (f.kind === 'broker') {
      // A power cut in the middle of the outage: what the outbox queued must survive it.
      await broker.stop();
      brokerOutages += 1;
      await sleep((f.down_s * 1000) / 2);
      await daemon.kill();
      await sleep((f.down_s * 1000) / 2);
      await broker.start();
    } else if (f.kind === 'clock_forward' || f.kind === 'clock_back') {
      if (!wall) return;
      clockOffsetH += f.kind === 'clock_forward' ? 24 : -25;
      wall.set(`${clockOffsetH >= 0 ? '+' : ''}${clockOffsetH}h`);
      clockJumpsInjected += 1;
    } else if (f.kind === 'disk_full') {
      // The broker goes away, then the card fills up: events must wait in memory.
      await broker.stop();
      brokerOutages += 1;
      await sleep(2000);
      const filler = stateFs ? fill(stateFs.dir) : undefined;
      const full = Date.now();
      await sleep(f.down_s * 1000);
      if (filler) {
        fs.rmSync(filler);
        diskFullS += (Date.now() - full) / 1000;
      }
      await sleep(3000);
      await broker.start();
    } else if (f.kind === 'wedge') {
      // The camera's server accepts and never answers: every open blocks until it gives up or is ended.
      await stream.down();
      wedges += 1;
      const hole = await blackHole(stream.port);
      await sleep(f.down_s * 1000);
      await hole.close();
      stream.up();
      wedgeBacks.push(await cameraBack(watch, await stream.listening()));
    } else if (f.kind === 'kill') {
      await daemon.kill();
    } else {
      await burst(brokerUrl);
    }
  };
  for (const f of plan.faults) await apply(f);
  await sleep(Math.max(0, plan.total_s * 1000 - (Date.now() - t0)));
  clearInterval(sampler);

  // The end: the camera goes away for good, the tracks end, and the outbox drains to the subscriber.
  await stream.down();
  await drain(watch);
  const stopped = await daemon.stop();
  await sub.endAsync();
  await broker.stop();
  health.stop();
  stateFs?.unmount();

  // Both windows are normal running: the 30 s before the first fault and the last 30 s (after the last recovery).
  const startWin: [number, number] = [Math.max(5, plan.warmup_s - 30), plan.warmup_s];
  const endWin: [number, number] = [plan.total_s - 30, plan.total_s];
  const fig = (k: 'rss_mb' | 'anon_mb' | 'fds', w: [number, number]): number => medianOver(samples, k, w[0], w[1]);
  const round1 = (x: number): number => Math.round(x * 10) / 10;
  const published = watch.ledger.published();
  const result = {
    minutes: opts.minutes,
    clip: path.basename(clip.path),
    rss_start_mb: round1(fig('rss_mb', startWin)),
    rss_end_mb: round1(fig('rss_mb', endWin)),
    rss_growth_mb: round1(fig('rss_mb', endWin) - fig('rss_mb', startWin)),
    rss_peak_mb: round1(Math.max(...samples.map((s) => s.rss_mb))),
    anon_start_mb: round1(fig('anon_mb', startWin)),
    anon_growth_mb: round1(fig('anon_mb', endWin) - fig('anon_mb', startWin)),
    fds_growth: fig('fds', endWin) - fig('fds', startWin),
    events_published: published,
    events_received: watch.ledger.received,
    events_lost: published - watch.ledger.distinct(),
    duplicates: watch.ledger.duplicates,
    camera_outages: cameraOutages,
    camera_back_s_max: backs.length ? round1(Math.max(...backs)) : null,
    broker_outages: brokerOutages,
    rejected_commands: watch.rejectedCommands(),
    crashes: daemon.crashes + (stopped === 0 ? 0 : 1),
    kills: daemon.kills,
    clock_jumps: wall ? clockJumpsLogged(daemon.logFile) : null,
    clock_jumps_injected: clockJumpsInjected,
    bad_durations: watch.badDurations,
    disk_full_s: stateFs ? round1(diskFullS) : null,
    wedged_camera: wedges,
    wedge_back_s_max: wedgeBacks.length ? round1(Math.max(...wedgeBacks)) : null,
    healthz_max_ms: health.maxMs(),
    healthz_answers: health.answers(),
  };
  console.log(`soak: camera back after ${backs.map((b) => b.toFixed(1)).join(', ')} s; stop exit ${stopped}; daemon log ${daemon.logFile}`);
  console.log(JSON.stringify(result));
}

/** Steps of the wall clock the daemon logged (one warn line each, with its size), over all its processes. */
function clockJumpsLogged(logFile: string): number {
  return fs
    .readFileSync(logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"jump_s"')).length;
}

/** A camera whose server accepts connections and never answers; close() also ends the connections it holds. */
async function blackHole(port: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** GET /healthz every second: the slowest answer (while the daemon runs; a restart's refused connections aside). */
function healthProbe(port: number): { maxMs(): number | null; answers(): number; stop(): void } {
  let max: number | null = null;
  let answers = 0;
  let running = true;
  void (async () => {
    while (running) {
      const t0 = performance.now();
      // Refused while a killed daemon restarts: not counted; no answer within 5 s: counted as 5 s.
      const ok = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5000) }).then(
        async (r) => (await r.text(), true),
        (err: Error) => err.name === 'TimeoutError',
      );
      if (ok) {
        answers += 1;
        max = Math.max(max ?? 0, Math.round(performance.now() - t0));
      }
      await sleep(1000);
    }
  })();
  return { maxMs: () => max, answers: () => answers, stop: () => (running = false) };
}

/** Seconds from the stream's return (ffmpeg listening) to the daemon's next frame (its camera topic saying online). */
async function cameraBack(watch: Watch, upMs: number, timeoutMs = 60_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const t = watch.onlineTimes.find((ms) => ms >= upMs);
    if (t !== undefined) return (t - upMs) / 1000;
    await sleep(100);
  }
  return Infinity;
}

/** Waits until the daemon's outbox is empty and no event came for 5 s (tracks ended, all delivered). */
async function drain(watch: Watch): Promise<void> {
  const end = Date.now() + DRAIN_TIMEOUT_MS;
  while (Date.now() < end) {
    if (watch.ledger.queueEmpty() && Date.now() - watch.lastEventMs > 5000) return;
    await sleep(500);
  }
  console.log(`soak: the outbox did not drain within ${DRAIN_TIMEOUT_MS / 1000} s`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
