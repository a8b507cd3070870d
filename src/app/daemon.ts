// The composition root: builds the whole daemon from the loaded configuration — the recognition (capture, detect,
// track, classify, events; recognition.ts), the outputs the configuration turns on (stdout, the embedded broker,
// MQTT, the dashboard's HTTP server; outputs.ts) behind the privacy filter and the fan-out, and the health watch —
// and runs it: start() starts the parts in order, outputs first and the camera last, and stop() stops them in
// reverse, each stop guarded so that one failure does not block the rest. A stop during the start aborts it: the
// start ends at its next step, and what was started is stopped. `emotiond run`, `emotiond preview`, the tests and
// the bench all build the daemon here.
import type { Config } from '../config/schema.js';
import type { Logger } from '../system/logger.js';
import type { DaemonControl, EmotionScores, EventSink, FrameTap, Part } from '../types.js';
import type { CaptureDeps } from '../capture/capture-loop.js';
import type { EmotionModel } from '../classify/emotion-model.js';
import type { FaceClassifier } from '../classify/face-classifier.js';
import type { MqttPublisher } from '../mqtt/mqtt-publisher.js';
import type { DashboardPart } from '../dashboard/dashboard-part.js';
import { PrivacyFilter, withShownCounts } from '../events/privacy-filter.js';
import { FanOutSink } from '../sinks/fan-out-sink.js';
import { PipelineStats } from '../system/stats.js';
import { readVersion } from '../system/paths.js';
import { buildOutputs } from './outputs.js';
import { HealthWatch } from './health-watch.js';
import { Recognition } from './recognition.js';

export interface DaemonOptions {
  config: Config;
  logger: Logger;
  /** The configuration as shown to users (secrets redacted). */
  redactedConfig: () => Config;
  /** Where `$CREDENTIALS_DIRECTORY` is read from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Sinks beside the outputs, behind the same privacy filter (tests, the bench). */
  sinks?: readonly EventSink[];
  /** Parts beside the outputs, started after them (the preview's server). */
  parts?: readonly Part[];
  /** Replaces OpenCV capture (tests). */
  openSource?: CaptureDeps['open'];
  /** Replaces the face classifier (tests: one that stops classifying). */
  classifier?: (model: EmotionModel, maxFaces: number, logger: Logger, stillHz: number) => FaceClassifier;
  /** Sees frames with the tracks found in them (`emotiond preview` only; never the service). */
  frameTap?: FrameTap;
  /** Where the pause is kept across restarts (`emotiond run`: state_dir/paused.json); undefined = not kept. */
  pausedFile?: string;
  /** Start-up is complete: the camera delivers and the outputs that must be ready are (MQTT connected), or
   * system.ready_timeout_s has passed. */
  onReady?: () => void;
}

type DaemonState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

export class Daemon implements DaemonControl {
  readonly stats = new PipelineStats();
  readonly version = readVersion();
  /** The MQTT publisher (mqtt.enabled), the dashboard's HTTP server (http.enabled). */
  readonly mqtt: MqttPublisher | undefined;
  readonly http: DashboardPart | undefined;
  /** Resolves when a file source without `loop` has been processed to its end. */
  readonly sourceEnded: Promise<void>;
  /** Resolves with the reason when the capture loop gave up on the source: stop, and exit non-zero for a restart. */
  readonly sourceFailed: Promise<string>;
  private readonly log: Logger;
  private readonly recognition: Recognition;
  private readonly watch: HealthWatch;
  /** In start order: the outputs, then the parts given. */
  private readonly parts: readonly Part[];
  /** Aborted by stop(): ends a start under way. */
  private readonly abort = new AbortController();
  private phase: DaemonState = 'new';
  private starting?: Promise<void>;
  private stopping?: Promise<void>;
  /** The parts whose start began, in order (a part is stopped even when its start did not finish). */
  private readonly begun: Part[] = [];
  private firstFrame = false;
  private readyTold = false;
  private readyTimer?: NodeJS.Timeout;

  constructor(private readonly opts: DaemonOptions) {
    const { config, logger } = opts;
    this.log = logger.child({ module: 'daemon' });
    // MQTT commands act on this daemon, and the dashboard reads it: the outputs get it (and what it shows) by name.
    const outputs = buildOutputs({
      config,
      logger,
      version: this.version,
      control: this,
      view: this,
      emotionSeconds: () => this.emotionSeconds(),
      env: opts.env,
    });
    this.mqtt = outputs.publisher;
    this.http = outputs.dashboard;
    this.parts = [...outputs.parts, ...(opts.parts ?? [])];
    // The only way out for what the pipeline emits: the privacy settings applied in front of every sink.
    const out = new PrivacyFilter(config.privacy, new FanOutSink(logger.child({ module: 'daemon' }), [...(opts.sinks ?? []), ...outputs.sinks]));
    this.recognition = new Recognition({
      config,
      logger,
      stats: this.stats,
      out,
      openSource: opts.openSource,
      classifier: opts.classifier,
      frameTap: opts.frameTap,
      pausedFile: opts.pausedFile,
      onFirstFrame: () => {
        this.firstFrame = true;
        this.maybeReady();
      },
    });
    this.sourceEnded = this.recognition.sourceEnded;
    this.sourceFailed = this.recognition.sourceFailed;
    this.watch = new HealthWatch({ stats: this.stats, paused: () => this.isPaused(), logger: this.log });
    this.mqtt?.onConnect(() => this.maybeReady());
  }

  /** Where the daemon is in its life. */
  get state(): DaemonState {
    return this.phase;
  }

  /**
   * Loads the model and the stages, starts the outputs and the given parts in order, then the camera. Rejects with
   * the first failure (the caller stops the daemon), or with an AbortError when stop() (or `signal`) ends the start.
   */
  start(signal?: AbortSignal): Promise<void> {
    // Stopped already: there is nothing to start.
    if (this.stopping) return Promise.reject(this.abort.signal.reason as Error);
    if (signal) signal.addEventListener('abort', () => this.abort.abort(signal.reason), { once: true });
    this.starting ??= this.startAll(this.abort.signal);
    return this.starting;
  }

  private async startAll(signal: AbortSignal): Promise<void> {
    this.phase = 'starting';
    await untilAborted(this.recognition.load(signal), signal);
    for (const part of this.parts) {
      signal.throwIfAborted();
      this.begun.push(part);
      await untilAborted(part.start(signal), signal);
      this.log.info({ part: part.name }, 'started');
    }
    signal.throwIfAborted();
    this.recognition.startCapture();
    this.watch.start();
    this.readyTimer = setTimeout(() => this.maybeReady(true), this.opts.config.system.ready_timeout_s * 1000);
    this.readyTimer.unref();
    this.phase = 'running';
  }

  /** Stops in reverse order: the camera and the pipeline (ending every face), the parts, the model. During a start,
   * ends it first. */
  stop(): Promise<void> {
    this.stopping ??= this.stopAll();
    return this.stopping;
  }

  private async stopAll(): Promise<void> {
    this.phase = 'stopping';
    this.abort.abort(Object.assign(new Error('the daemon was stopped during its start'), { name: 'AbortError' }));
    await this.starting?.catch(() => undefined);
    const guard = async (what: string, fn: () => Promise<void> | void): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        this.log.error({ err, what }, 'stop step failed');
      }
    };
    this.watch.stop();
    clearTimeout(this.readyTimer);
    await this.recognition.stopCapture(guard);
    for (const part of [...this.begun].reverse()) await guard(part.name, () => part.stop());
    await guard('model', () => this.recognition.release());
    this.phase = 'stopped';
    this.log.info(this.stats.snapshot(), 'stopped');
  }

  private maybeReady(timedOut = false): void {
    if (this.readyTold || this.phase === 'stopping' || this.phase === 'stopped') return;
    const outputsReady = this.parts.every((p) => !('isReady' in p) || typeof p.isReady !== 'function' || p.isReady());
    if (timedOut || (this.firstFrame && outputsReady)) {
      this.readyTold = true;
      this.log.info({ camera: this.firstFrame, sinks: outputsReady }, 'ready');
      this.opts.onReady?.();
    }
  }

  /** Whether the systemd watchdog may be fed: paused, or every stage makes progress (PipelineStats.stalled). */
  makingProgress(): boolean {
    return this.isPaused() || this.stats.alive();
  }

  /** Source reads abandoned after the stall timeout that have not returned: each holds a libuv worker thread, which
   * Node joins at exit, so while one is stuck the process cannot exit normally. */
  get stuckReads(): number {
    return this.recognition.stuckReads;
  }

  /** Face-seconds per emotion in the room summaries so far. */
  emotionSeconds(): EmotionScores {
    return this.recognition.emotionSeconds();
  }

  // DaemonControl: what MQTT commands may ask of the running daemon.
  setPaused(paused: boolean): void {
    this.recognition.setPaused(paused);
  }

  isPaused(): boolean {
    return this.recognition.isPaused();
  }

  resetTracks(): number {
    return this.recognition.resetTracks();
  }

  health(): Record<string, unknown> {
    const cpu = process.cpuUsage();
    return {
      version: this.version,
      paused: this.isPaused(),
      ...withShownCounts(this.stats.snapshot(), this.opts.config.privacy.min_faces),
      cpu_s: Math.round((cpu.user + cpu.system) / 1e4) / 100,
    };
  }

  config(): Record<string, unknown> {
    return this.opts.redactedConfig() as unknown as Record<string, unknown>;
  }
}

/** `p`, or a rejection with the signal's reason as soon as it is aborted (`p` may go on; its owner cleans up). */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => undefined);
    return Promise.reject(signal.reason as Error);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
