// `npm run soak -- --minutes N [--seed S] [--clip FILE]`: the built daemon, run as the service runs it (the
// unit's NODE_OPTIONS and MALLOC_ARENA_MAX), reads a clip served as a live MJPEG stream over HTTP by ffmpeg
// and publishes to a real mosquitto, while camera outages, broker outages and bursts of malformed commands
// are injected on a schedule (plan.ts). It samples memory and fds, counts events against what the outbox
// accepted, and ends with one JSON line of results.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { MqttClient } from 'mqtt';
import { Mosquitto, freePort } from '../helpers/mosquitto.js';
import { connectClient } from '../helpers/mqtt-client.js';
import { DEMO_CLIP, threeFaces } from '../helpers/clips/reference.js';
import { sharedDataDir } from '../helpers/clips/data.js';
import { topicsFor } from '../../src/publish/topics.js';
import { faultPlan, type Fault } from './plan.js';
import { MjpegStream } from './stream.js';
import { medianOver, sampleProcess, type Sample } from './sampler.js';
import { EventLedger, type OutboxCounts } from './ledger.js';
import { DaemonProcess, ensureBuilt } from './daemon-process.js';

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
  rejectedCommands = 0;
  lastEventMs = 0;

  onMessage(topic: string, payload: Buffer): void {
    const text = payload.toString();
    if (topic === topics.events) {
      this.ledger.event(text);
      this.lastEventMs = Date.now();
      return;
    }
    try {
      const body = JSON.parse(text) as Record<string, unknown>;
      if (topic === topics.camera && body['state'] === 'online') this.onlineTimes.push(Date.parse(String(body['time'])));
      if (topic === topics.stats) {
        const mqtt = body['mqtt'] as OutboxCounts & { rejected_commands: number };
        this.ledger.stats(mqtt);
        this.rejectedCommands = mqtt.rejected_commands;
      }
    } catch {
      // retained clears and discovery configs are not ours to check here
    }
  }
}

/** Payloads a broken or hostile client might send to the command topics. */
function malformedCommands(): Array<[string, string | Buffer]> {
  const bad: Array<string | Buffer> = ['', '{', 'null', '[]', '"paused"', '{"paused":"yes"}', '{"paused":1}', '{"transaction":{}}', '{"paused":true,"extra":1}', Buffer.from([0xff, 0xfe, 0x00, 0x01]), 'x'.repeat(256 * 1024), '{"__proto__":{"paused":true}}'];
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
  const daemon = new DaemonProcess({ root: ROOT, runDir, args: ['--source', stream.url, '--mqtt-url', brokerUrl, '--device-id', DEVICE, '--mqtt-stats-interval-s', '2'], onCrash: () => watch.ledger.processEnded() });
  daemon.start();

  const t0 = Date.now();
  const since = (): number => (Date.now() - t0) / 1000;
  const samples: Sample[] = [];
  const sampler = setInterval(() => {
    const s = daemon.pid === undefined ? undefined : sampleProcess(daemon.pid, since());
    if (s) samples.push(s);
  }, 2000);
  const backs: number[] = [];
  let cameraOutages = 0;
  let brokerOutages = 0;

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
      await broker.stop();
      brokerOutages += 1;
      await sleep(f.down_s * 1000);
      await broker.start();
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
    rejected_commands: watch.rejectedCommands,
    crashes: daemon.crashes + (stopped === 0 ? 0 : 1),
  };
  console.log(`soak: camera back after ${backs.map((b) => b.toFixed(1)).join(', ')} s; stop exit ${stopped}; daemon log ${daemon.logFile}`);
  console.log(JSON.stringify(result));
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
