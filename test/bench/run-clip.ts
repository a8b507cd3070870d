// Runs the real daemon (capture → detect → track → classify → events, MQTT optional) over one video
// file, every frame, as fast as it goes, and keeps what came out: events, every stage timing, CPU and
// memory. Shared by the bench and the clip tests.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Daemon } from '../../src/app/daemon.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { createLogger } from '../../src/system/logger.js';
import { STAGES, type Stage } from '../../src/system/stats.js';
import { MemorySink } from '../../src/sinks/memory-sink.js';
import type { EmotionEvent } from '../../src/types.js';

export interface ClipRunOptions {
  /** Video file. */
  clip: string;
  /** ONNX model (absolute, or relative to the install directory). */
  model: string;
  /** ONNX Runtime intra-op threads. */
  threads: number;
  /** More settings by key, as command-line flags would give them ('detector.detect_width': '0'). */
  settings?: Record<string, string | boolean>;
  /** Publish through the daemon's MQTT parts to this broker (mqtt.enabled); off when undefined. */
  mqttUrl?: string;
  /** "none" (default): every frame as fast as it goes; "realtime": at the clip's frame rate, as a camera. */
  pace?: 'none' | 'realtime';
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'silent';
}

export interface ClipRun extends RunRecord {
  sink: MemorySink;
}

/** What the reports read of a run: a ClipRun, or one that came over the bench worker's IPC channel (the sink's
 * arrays only). */
export interface RunRecord {
  clip: string;
  sink: Pick<MemorySink, 'events' | 'faces' | 'cameras'>;
  frames: number;
  framesBad: number;
  /** Frames dropped by the latest-frame slot (the pipeline was busy): only paced runs drop. */
  framesDropped: number;
  /** Frames read and dropped undecoded: the motion gate's idle rate (detector.idle_fps). */
  framesSkipped: number;
  facesClassified: number;
  /** Every sample of every stage, in ms (the daemon's own windows keep only the last 512). */
  samples: Record<Stage, number[]>;
  wallMs: number;
  /** User + system CPU of this process over the run (ONNX, OpenCV and decoder threads included). */
  cpuMs: number;
  /** Highest RSS sampled every 50 ms during the run. */
  rssPeakBytes: number;
  /** The process's resident high-water mark so far (getrusage). */
  maxRssBytes: number;
  /** MQTT parts the daemon started (0 = none, or the publisher is not wired). */
  mqttParts: number;
  /** Frame clock of the clip's first frame (events' times are on this clock). */
  firstFrameMs: number;
  /** CPU ms of this process between consecutive processed frames (all threads: decode, OpenCV, ONNX). */
  cpuPerFrameMs: number[];
}

let emptyConfigFile: string | undefined;

/** An empty config file: a developer's /etc/emotiond/config.json must not change what is measured. */
function emptyConfig(): string {
  if (emptyConfigFile && fs.existsSync(emptyConfigFile)) return emptyConfigFile;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-bench-'));
  emptyConfigFile = path.join(dir, 'config.json');
  fs.writeFileSync(emptyConfigFile, '{}\n');
  return emptyConfigFile;
}

/** The daemon's configuration from its defaults plus these settings: no config file, no environment. */
export function configWith(flags: Record<string, string | boolean> = {}): Config {
  return loadConfig({ file: emptyConfig(), env: {}, flags }).config;
}

/** The settings a clip run uses: every frame of the file, no MQTT unless asked, quiet logs. */
export function clipSettings(opts: ClipRunOptions): Record<string, string | boolean> {
  return {
    'device.id': 'bench',
    'source.uri': opts.clip,
    'source.pace': opts.pace ?? 'none',
    'source.loop': false,
    'classifier.model': opts.model,
    'classifier.threads': String(opts.threads),
    'mqtt.enabled': opts.mqttUrl !== undefined,
    ...(opts.mqttUrl !== undefined ? { 'mqtt.url': opts.mqttUrl, 'mqtt.embedded': false, 'mqtt.protocol_version': '4' } : {}),
    'system.state_dir': path.join(os.tmpdir(), 'emotiond-bench-state'),
    'log.level': opts.logLevel ?? 'warn',
    'log.pretty': 'no',
    ...opts.settings,
  };
}

export async function runClip(opts: ClipRunOptions): Promise<ClipRun> {
  if (!fs.existsSync(opts.clip)) throw new Error(`clip not found: ${opts.clip}`);
  const loaded = loadConfig({ file: emptyConfig(), env: {}, flags: clipSettings(opts) });
  const { config } = loaded;
  const logger = createLogger({ level: config.log.level, pretty: 'no' });
  const sink = new MemorySink();
  const daemon = new Daemon({ config, logger, redactedConfig: loaded.redacted, sinks: [sink] });

  const samples = Object.fromEntries(STAGES.map((s) => [s, [] as number[]])) as Record<Stage, number[]>;
  const cpuPerFrameMs: number[] = [];
  let cpuLast: NodeJS.CpuUsage | null = null;
  daemon.stats.addSampleListener((stage: Stage, ms: number): void => {
    samples[stage].push(ms);
    if (stage !== 'frame') return;
    const now = process.cpuUsage();
    if (cpuLast) cpuPerFrameMs.push((now.user - cpuLast.user + now.system - cpuLast.system) / 1000);
    cpuLast = now;
  });
  // The capture loop retries a source that fails for ever (right for a camera): a clip that cannot be
  // read must end the run instead.
  const failed = new Promise<never>((_resolve, reject) => {
    sink.onCamera = (c) => {
      if (c.state === 'offline') reject(new Error(`${opts.clip}: ${c.error ?? 'source offline'}`));
    };
  });
  let rssPeakBytes = process.memoryUsage.rss();
  const sampler = setInterval(() => {
    rssPeakBytes = Math.max(rssPeakBytes, process.memoryUsage.rss());
  }, 50);
  let cpu0 = process.cpuUsage();
  let t0 = performance.now();
  try {
    await daemon.start();
    cpu0 = process.cpuUsage();
    t0 = performance.now();
    await Promise.race([daemon.sourceEnded, failed]);
  } finally {
    clearInterval(sampler);
    await daemon.stop();
  }
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  rssPeakBytes = Math.max(rssPeakBytes, process.memoryUsage.rss());
  return {
    clip: opts.clip,
    sink,
    frames: daemon.stats.framesProcessed,
    framesBad: daemon.stats.framesBad,
    framesDropped: daemon.stats.framesDropped,
    framesSkipped: daemon.stats.framesSkipped,
    facesClassified: daemon.stats.facesClassified,
    samples,
    wallMs,
    cpuMs: (cpu.user + cpu.system) / 1000,
    rssPeakBytes,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    mqttParts: (daemon.mqtt ? 1 : 0) + (config.mqtt.enabled && config.mqtt.embedded ? 1 : 0),
    firstFrameMs: daemon.stats.firstFrameMs ?? 0,
    cpuPerFrameMs,
  };
}

/** A run as it crosses a process boundary (plain data). */
export function runRecord(r: ClipRun): RunRecord {
  const { events, faces, cameras } = r.sink;
  return { ...r, sink: { events, faces, cameras } };
}

/** Distinct track ids that appeared, in order of appearance. */
export function tracksSeen(events: readonly EmotionEvent[]): number[] {
  return [...new Set(events.filter((e) => e.type === 'face_appeared').map((e) => e.track))];
}
