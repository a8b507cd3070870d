// The composition root: builds every stage with its dependencies, starts them in order (sinks first,
// the camera last) and stops them in reverse, each stop guarded so one failure does not block the rest.
import type { Config } from '../config/schema.js';
import type { Logger } from '../system/logger.js';
import type { CameraState, DaemonControl, EventSink, TrackedFace } from '../types.js';
import type cv from '../system/opencv.js';
import { EmotionModel } from '../classify/emotion-model.js';
import { FaceClassifier } from '../classify/face-classifier.js';
import { FaceDetector } from '../detect/face-detector.js';
import { resolveCascade } from '../detect/cascade-file.js';
import { FaceTracker } from '../track/face-tracker.js';
import { EmotionGate } from '../events/emotion-gate.js';
import { RoomWindow } from '../events/room-window.js';
import { LatestFrameSlot } from '../capture/latest-frame-slot.js';
import { CaptureLoop, type CaptureDeps } from '../capture/capture-loop.js';
import { describeSource, sourceKind } from '../capture/opencv-source.js';
import { IsolatedSources, isolates } from '../source-process/isolated-source.js';
import { FramePipeline } from '../pipeline/frame-pipeline.js';
import { PROGRESS_WINDOW_MS, PipelineStats } from '../system/stats.js';
import { fromRoot, readVersion } from '../system/paths.js';
import { applyRuntimeEnv } from '../system/runtime-env.js';
import { FanOutSink } from '../sinks/fan-out-sink.js';
import { PrivacyFilter, withShownCounts } from '../events/privacy-filter.js';
import { readMemory } from '../system/memory.js';
import { PausedFile } from './paused-file.js';
import { ClockWatch, FrameClock, monotonicMs } from '../system/clock.js';

/** A part started before the camera and stopped after it (MQTT publisher, embedded broker, ...). */
export interface Part {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A part that also receives events. */
export interface SinkPart extends Part {
  readonly sink: EventSink;
  /** True once the part can deliver (MQTT connected); READY waits for it up to ready_timeout_s. */
  isReady?(): boolean;
}

export interface DaemonDeps {
  config: Config;
  logger: Logger;
  /** The configuration as shown to users (secrets redacted). */
  redactedConfig: () => Config;
  /** Sinks and parts made by the caller, started in this order before the camera. */
  parts?: Array<Part | SinkPart>;
  /** Extra sinks that need no start/stop (stdout, tests). */
  sinks?: EventSink[];
  /** Replaces OpenCV capture (tests). */
  openSource?: CaptureDeps['open'];
  /** Replaces the face classifier (tests: one that stops classifying). */
  classifier?: (model: EmotionModel, maxFaces: number, logger: Logger) => FaceClassifier;
  /** Progress hooks for systemd. */
  onReady?: () => void;
  /** Sees frames with the tracks found in them (`emotiond preview` only; never the service). */
  frameTap?: FrameTap;
  /** Where the pause is kept across restarts (`emotiond run`: state_dir/paused.json); undefined = not kept. */
  pausedFile?: string;
}

/** Gets a copy of a frame after it was processed, with the tracks as they stand after it. */
export interface FrameTap {
  /** Asked before each frame: whether a copy is wanted (a copy costs a frame's memory and time). */
  wants(nowMs: number): boolean;
  /** The copy, which the tap owns and must release. */
  frame(mat: cv.Mat, tracks: readonly TrackedFace[]): void;
}

export class Daemon implements DaemonControl {
  readonly stats = new PipelineStats();
  readonly version = readVersion();
  private readonly log: Logger;
  private readonly fan: FanOutSink;
  /** The only way out for what the pipeline emits: privacy settings applied in front of every sink. */
  private readonly out: PrivacyFilter;
  private readonly slot = new LatestFrameSlot();
  private model?: EmotionModel;
  private pipeline?: FramePipeline;
  private capture?: CaptureLoop;
  /** The source's own process (source.isolation), when it has one. */
  private sources?: IsolatedSources;
  private loop?: Promise<void>;
  private started: Array<Part> = [];
  private paused = false;
  private ended = false;
  private firstFrame = false;
  private readyTold = false;
  private endedResolve!: () => void;
  /** Resolves when a file source without `loop` has been processed to its end. */
  readonly sourceEnded = new Promise<void>((r) => (this.endedResolve = r));
  private failedResolve!: (reason: string) => void;
  /** Resolves with the reason when the capture loop gave up on the source: stop, and exit non-zero for a restart. */
  readonly sourceFailed = new Promise<string>((r) => (this.failedResolve = r));
  /** The camera state last published (retained on MQTT): a stop leaves it offline. */
  private lastCamera?: CameraState;
  private readonly pausedFile?: PausedFile;
  /** Once a second: the wall clock against the monotonic one, and which stages make no progress. */
  private healthTimer?: NodeJS.Timeout;
  private readonly clockWatch: ClockWatch;
  private stalledShown: string[] = [];

  constructor(private readonly deps: DaemonDeps) {
    this.log = deps.logger.child({ module: 'daemon' });
    this.fan = new FanOutSink(this.log, this.stats);
    this.out = new PrivacyFilter(deps.config.privacy, this.fan);
    for (const s of deps.sinks ?? []) this.fan.add(s);
    if (deps.pausedFile) this.pausedFile = new PausedFile(deps.pausedFile, this.log);
    this.clockWatch = new ClockWatch({ onJump: (ms) => this.clockJumped(ms) });
  }

  async start(): Promise<void> {
    const { config, logger } = this.deps;
    // A pause from before a restart holds: before MQTT says `paused` and before the first frame.
    if (this.pausedFile?.read()) {
      this.paused = true;
      this.log.info('paused, as the last run was: no frame is processed until a {"paused":false} command');
    }
    // First the native libraries' environment: before the model loads and the camera opens.
    applyRuntimeEnv();
    const modelPath = fromRoot(config.classifier.model);
    this.model = await EmotionModel.load(modelPath, { threads: config.classifier.threads });
    const info = this.model.info;
    this.log.info({ model: modelPath, classes: info.classes, version: info.metadata['emotiond.version'], step_hz: info.stepHz }, 'model loaded');
    if (info.stepHzAssumed) this.log.warn({ model: modelPath, step_hz: info.stepHz }, 'the model does not say the step rate it was trained for (emotiond.step_hz): assuming it');
    const detector = new FaceDetector(config.detector, resolveCascade(config.detector.cascade), config.tracker.max_age_s);
    this.log.info({ cascade: detector.cascadePath }, 'cascade loaded');
    const device = config.device.id;
    // Cameras and streams run on the monotonic clock; files on media time (the same timings at any speed).
    const clock = new FrameClock(sourceKind(config.source.uri) === 'file');
    const wall = (frameMs: number): number => clock.wall(frameMs);
    const tracker = new FaceTracker(config.tracker);
    const classifier = (this.deps.classifier ?? ((m, n, l) => new FaceClassifier(m, n, l)))(this.model, config.classifier.max_faces, logger.child({ module: 'classify' }));
    this.stats.sources = { detect: () => detector.stats(), classify: () => classifier.rates(tracker.confirmedTracks) };
    const gate = new EmotionGate({ margin: config.events.margin, hold_s: config.events.hold_s, first_steps: config.events.first_label_steps }, { device, emit: (e) => this.out.event(e), wall });
    this.pipeline = new FramePipeline({
      device,
      detector,
      tracker,
      classifier,
      gate,
      room: new RoomWindow(device, clock.now(), config.privacy.min_faces, wall),
      sink: this.out,
      stats: this.stats,
      roomIntervalS: config.events.room_interval_s,
      clock,
    });
    for (const part of this.deps.parts ?? []) {
      await part.start();
      this.started.push(part);
      if ('sink' in part) this.fan.add(part.sink);
      this.log.info({ part: part.name }, 'started');
    }
    if (!this.deps.openSource && isolates(config.source)) this.sources = new IsolatedSources(logger.child({ module: 'capture' }));
    const sources = this.sources;
    this.capture = new CaptureLoop({
      settings: config.source,
      slot: this.slot,
      stats: this.stats,
      logger: logger.child({ module: 'capture' }),
      events: {
        online: (p) => {
          this.firstFrame = true;
          this.publishCamera(this.cameraState('online', p.width, p.height, p.fps, null));
          this.maybeReady();
        },
        offline: (error) => this.publishCamera(this.cameraState('offline', null, null, null, error)),
        ended: () => this.slot.end(),
        failed: (reason) => {
          this.publishCamera(this.cameraState('offline', null, null, null, reason));
          this.failedResolve(reason);
        },
      },
      open: this.deps.openSource ?? (sources ? (s, o) => sources.open(s, o) : undefined),
      // Only the preview shows frames; the pipeline needs gray.
      colour: this.deps.frameTap !== undefined,
      clock,
    });
    this.loop = this.run();
    this.capture.start();
    this.healthTimer = setInterval(() => this.checkHealth(), 1000);
    this.healthTimer.unref();
    const timeout = setTimeout(() => this.maybeReady(true), config.system.ready_timeout_s * 1000);
    timeout.unref();
  }

  /** Stop in reverse order: camera, pipeline (ending every face), sinks and parts, model. */
  async stop(): Promise<void> {
    const guard = async (what: string, fn: () => Promise<void> | void): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        this.log.error({ err, what }, 'stop step failed');
      }
    };
    clearInterval(this.healthTimer);
    const captureStopped = guard('capture', () => this.capture?.stop());
    // Ends an open or a read in flight in the source's process at once (the loop knows it is stopping).
    this.sources?.close();
    await captureStopped;
    // Before the sinks stop: the retained camera state must not say online once nothing reads the camera.
    if (this.capture && this.lastCamera?.state !== 'offline') this.publishCamera(this.cameraState('offline', null, null, null, null));
    this.slot.close();
    await guard('pipeline', () => this.loop);
    await guard('final events', () => this.finish());
    for (const part of [...this.started].reverse()) await guard(part.name, () => part.stop());
    this.started = [];
    await guard('model', () => this.model?.release());
    this.log.info(this.stats.snapshot(), 'stopped');
  }

  /** Take frames until the slot closes; a bad frame is counted and skipped. */
  private async run(): Promise<void> {
    let badLogged = 0;
    for (;;) {
      const frame = await this.slot.take();
      if (!frame) break;
      if (this.paused) {
        frame.mat.release();
        this.stats.skipped();
        continue;
      }
      const tap = this.deps.frameTap;
      const copy = tap?.wants(monotonicMs()) ? frame.mat.copy() : undefined;
      try {
        await this.pipeline?.process(frame);
      } catch (err) {
        this.stats.framesBad += 1;
        if (badLogged++ < 10 || badLogged % 1000 === 0) this.log.warn({ err, seq: frame.info.seq, bad: this.stats.framesBad }, 'frame skipped');
      }
      if (copy) this.tapFrame(copy);
    }
    await this.finish();
    this.endedResolve();
  }

  private tapFrame(copy: cv.Mat): void {
    try {
      this.deps.frameTap?.frame(copy, this.pipeline?.tracks ?? []);
    } catch (err) {
      this.log.warn({ err }, 'frame tap failed');
    }
  }

  /** Faces still present end with the source; the last room window is published. Runs once. */
  private finish(): void {
    if (this.ended || !this.pipeline) return;
    this.ended = true;
    this.pipeline.endAll();
    this.pipeline.flushRoom();
  }

  /** A step of the wall clock: said once, with its size; durations and tracks are not touched (monotonic). */
  private clockJumped(jumpMs: number): void {
    this.stats.clockJumps += 1;
    this.stats.clockJumpLastS = Math.round(jumpMs / 100) / 10;
    this.log.warn({ jump_s: this.stats.clockJumpLastS, now: new Date().toISOString() }, `the wall clock jumped ${jumpMs > 0 ? 'forward' : 'back'} by ${describeSeconds(Math.abs(jumpMs) / 1000)} (NTP sync or a manual change): events are stamped with the new time; durations, tracks and timers run on the monotonic clock and are unaffected`);
  }

  private checkHealth(): void {
    this.clockWatch.check();
    const stalled = this.paused ? [] : this.stats.stalled();
    const fresh = stalled.filter((s) => !this.stalledShown.includes(s));
    if (fresh.length > 0) this.log.warn({ stalled, source_failed: this.stats.sourceFailed }, `no progress for ${PROGRESS_WINDOW_MS / 1000} s in: ${stalled.join(', ')}; /healthz fails and the watchdog is not fed`);
    else if (stalled.length === 0 && this.stalledShown.length > 0) this.log.info({ recovered: this.stalledShown }, 'every stage makes progress again');
    this.stalledShown = stalled;
  }

  private maybeReady(timedOut = false): void {
    if (this.readyTold || !this.model) return;
    const sinksReady = this.started.every((p) => !('isReady' in p) || typeof p.isReady !== 'function' || p.isReady());
    if (timedOut || (this.firstFrame && sinksReady)) {
      this.readyTold = true;
      this.log.info({ camera: this.firstFrame, sinks: sinksReady }, 'ready');
      this.deps.onReady?.();
    }
  }

  /** Whether the systemd watchdog may be fed: paused, or every stage makes progress (PipelineStats.stalled). */
  makingProgress(): boolean {
    return this.paused || this.stats.alive();
  }

  /** Parts call this when they become ready (MQTT connected). */
  partReady(): void {
    this.maybeReady();
  }

  private publishCamera(state: CameraState): void {
    this.lastCamera = state;
    this.out.camera(state);
  }

  private cameraState(state: 'online' | 'offline', width: number | null, height: number | null, fps: number | null, error: string | null): CameraState {
    const c = this.deps.config;
    return { device: c.device.id, time: new Date().toISOString(), state, source: describeSource(c.source.uri), width, height, fps: fps !== null && fps > 0 ? Math.round(fps * 100) / 100 : null, error, notice: c.privacy.notice === '' ? null : c.privacy.notice };
  }

  // DaemonControl: what MQTT commands may ask of the running daemon.
  setPaused(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    this.pausedFile?.write(paused);
    if (paused) this.pipeline?.endAll();
    this.log.info({ paused }, paused ? 'paused' : 'resumed');
  }

  isPaused(): boolean {
    return this.paused;
  }

  resetTracks(): number {
    return this.pipeline?.endAll() ?? 0;
  }

  health(): Record<string, unknown> {
    const memory = readMemory();
    const cpu = process.cpuUsage();
    return {
      version: this.version,
      paused: this.paused,
      ...withShownCounts(this.stats.snapshot(), this.deps.config.privacy.min_faces),
      rss_mb: memory.rss_mb,
      memory,
      cpu_s: Math.round((cpu.user + cpu.system) / 1e4) / 100,
    };
  }

  config(): Record<string, unknown> {
    return this.deps.redactedConfig() as unknown as Record<string, unknown>;
  }
}

function describeSeconds(s: number): string {
  if (s >= 3600) return `${Math.round(s / 360) / 10} h`;
  if (s >= 60) return `${Math.round(s / 6) / 10} min`;
  return `${Math.round(s * 10) / 10} s`;
}
