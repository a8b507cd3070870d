// The recognition itself, as the composition root (daemon.ts) runs it: the model and the stages (detect, track,
// classify, events) loaded, the capture loop reading the source into the latest-frame slot, and the frames taken
// from the slot through the pipeline, whose output goes to the sink it is given (the privacy filter in front of
// every output). It owns the pause, the camera state and what ends the run (a file's end, a source given up).
import type { Config } from '../config/schema.js';
import type { Logger } from '../system/logger.js';
import { zeroScores, type CameraState, type EmotionScores, type EventSink, type FrameTap } from '../types.js';
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
import type { PipelineStats } from '../system/stats.js';
import { fromRoot } from '../system/paths.js';
import { applyRuntimeEnv } from '../system/runtime-env.js';
import { FrameClock, monotonicMs } from '../system/clock.js';
import { PausedFile } from './paused-file.js';

interface RecognitionDeps {
  config: Config;
  logger: Logger;
  stats: PipelineStats;
  /** Where everything the pipeline makes goes: the privacy filter in front of the outputs. */
  out: EventSink;
  /** Replaces OpenCV capture (tests). */
  openSource?: CaptureDeps['open'];
  /** Replaces the face classifier (tests: one that stops classifying). */
  classifier?: (model: EmotionModel, maxFaces: number, logger: Logger, stillHz: number) => FaceClassifier;
  /** Sees frames with the tracks found in them (`emotiond preview` only; never the service). */
  frameTap?: FrameTap;
  /** Where the pause is kept across restarts; undefined = not kept. */
  pausedFile?: string;
  /** The source delivered its first frame. */
  onFirstFrame: () => void;
}

export class Recognition {
  private readonly log: Logger;
  private readonly slot = new LatestFrameSlot();
  private readonly pausedFile?: PausedFile;
  private model?: EmotionModel;
  private pipeline?: FramePipeline;
  private room?: RoomWindow;
  private capture?: CaptureLoop;
  /** The source's own process (source.isolation), when it has one. */
  private sources?: IsolatedSources;
  private loop?: Promise<void>;
  private loading?: Promise<void>;
  private paused = false;
  private ended = false;
  private endedResolve!: () => void;
  /** Resolves when a file source without `loop` has been processed to its end. */
  readonly sourceEnded = new Promise<void>((r) => (this.endedResolve = r));
  private failedResolve!: (reason: string) => void;
  /** Resolves with the reason when the capture loop gave up on the source: stop, and exit non-zero for a restart. */
  readonly sourceFailed = new Promise<string>((r) => (this.failedResolve = r));
  /** The camera state last published (retained on MQTT): a stop leaves it offline. */
  private lastCamera?: CameraState;

  constructor(private readonly deps: RecognitionDeps) {
    this.log = deps.logger.child({ module: 'daemon' });
    if (deps.pausedFile) this.pausedFile = new PausedFile(deps.pausedFile, this.log);
  }

  /** The pause of the last run, the native libraries' environment, the model, the cascade and the stages. A stop
   * meanwhile (`signal`) ends it at its next step; a model that finishes loading after it is released. */
  load(signal: AbortSignal): Promise<void> {
    this.loading ??= this.loadAll(signal);
    return this.loading;
  }

  private async loadAll(signal: AbortSignal): Promise<void> {
    const { config, logger } = this.deps;
    // A pause from before a restart holds: before MQTT says `paused` and before the first frame.
    if (this.pausedFile?.read()) {
      this.paused = true;
      this.log.info('paused, as the last run was: no frame is processed until a {"paused":false} command');
    }
    // First the native libraries' environment: before the model loads and the camera opens.
    applyRuntimeEnv();
    const modelPath = fromRoot(config.classifier.model);
    const model = await EmotionModel.load(modelPath, { threads: config.classifier.threads });
    if (signal.aborted) {
      await model.release();
      signal.throwIfAborted();
    }
    this.model = model;
    const info = model.info;
    this.log.info({ model: modelPath, classes: info.classes, version: info.metadata['emotiond.version'], step_hz: info.stepHz }, 'model loaded');
    if (info.stepHzAssumed)
      this.log.warn({ model: modelPath, step_hz: info.stepHz }, 'the model does not say the step rate it was trained for (emotiond.step_hz): assuming it');
    const detector = new FaceDetector(config.detector, resolveCascade(config.detector.cascade));
    this.log.info({ cascade: detector.cascadePath }, 'cascade loaded');
    const device = config.device.id;
    // Cameras and streams run on the monotonic clock; files on media time (the same timings at any speed).
    const clock = new FrameClock(sourceKind(config.source.uri) === 'file');
    const wall = (frameMs: number): number => clock.wall(frameMs);
    const tracker = new FaceTracker(config.tracker);
    const classifier = (this.deps.classifier ?? ((m, n, l, still) => new FaceClassifier(m, n, l, still)))(
      model,
      config.classifier.max_faces,
      logger.child({ module: 'classify' }),
      config.classifier.still_hz,
    );
    this.deps.stats.sources = { detect: () => detector.stats(), classify: () => classifier.rates(tracker.confirmedTracks) };
    const gate = new EmotionGate(
      { margin: config.events.margin, hold_s: config.events.hold_s, first_steps: config.events.first_label_steps },
      { device, wall },
    );
    this.room = new RoomWindow(device, clock.now(), config.privacy.min_faces, wall);
    this.pipeline = new FramePipeline({
      device,
      detector,
      tracker,
      classifier,
      gate,
      room: this.room,
      sink: this.deps.out,
      stats: this.deps.stats,
      roomIntervalS: config.events.room_interval_s,
      clock,
      // The preview shows every frame.
      idleFps: this.deps.frameTap ? 0 : config.detector.idle_fps,
    });
    this.capture = this.captureLoop(clock);
  }

  private captureLoop(clock: FrameClock): CaptureLoop {
    const { config, logger } = this.deps;
    if (!this.deps.openSource && isolates(config.source)) this.sources = new IsolatedSources(logger.child({ module: 'capture' }));
    const sources = this.sources;
    return new CaptureLoop({
      settings: config.source,
      slot: this.slot,
      stats: this.deps.stats,
      logger: logger.child({ module: 'capture' }),
      events: {
        online: (p) => {
          this.publishCamera(this.cameraState('online', p.width, p.height, p.fps, null));
          this.deps.onFirstFrame();
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
      // Paused, no frame is decoded; idle, idle_fps a second.
      wants: (timestampMs) => !this.paused && (this.pipeline?.wants(timestampMs) ?? true),
    });
  }

  /** Opens the source and takes its frames through the pipeline (after load()). */
  startCapture(): void {
    if (!this.capture || this.loop) return;
    this.loop = this.run();
    this.capture.start();
  }

  /** Stops in reverse order: the camera, then the pipeline, which ends every face and publishes the last room window.
   * `guard` runs each step so that one failure does not block the rest. */
  async stopCapture(guard: (what: string, fn: () => Promise<void> | void) => Promise<void>): Promise<void> {
    const captureStopped = guard('capture', () => this.capture?.stop());
    // Ends an open or a read in flight in the source's process at once (the loop knows it is stopping).
    this.sources?.close();
    await captureStopped;
    // Before the sinks stop: the retained camera state must not say online once nothing reads the camera.
    if (this.loop && this.lastCamera?.state !== 'offline') this.publishCamera(this.cameraState('offline', null, null, null, null));
    this.slot.close();
    await guard('pipeline', () => this.loop);
    await guard('final events', () => this.finish());
  }

  /** Frees the model (after stopCapture()); a load still under way is waited for (the model cannot be cancelled). */
  async release(): Promise<void> {
    await this.loading?.catch(() => undefined);
    await this.model?.release();
    this.model = undefined;
  }

  /** Source reads abandoned after the stall timeout that have not returned (the capture loop's count). */
  get stuckReads(): number {
    return this.capture?.stuckReads ?? 0;
  }

  /** Face-seconds per emotion in the room summaries so far (events/room-window.ts). */
  emotionSeconds(): EmotionScores {
    return this.room?.emotionSeconds() ?? zeroScores();
  }

  /** Take frames until the slot closes; a bad frame is counted and skipped. */
  private async run(): Promise<void> {
    const { stats } = this.deps;
    let badLogged = 0;
    for (;;) {
      const frame = await this.slot.take();
      if (!frame) break;
      if (this.paused) {
        frame.mat.release();
        stats.skipped();
        continue;
      }
      const tap = this.deps.frameTap;
      const copy = tap?.wants(monotonicMs()) ? frame.mat.copy() : undefined;
      try {
        await this.pipeline?.process(frame);
      } catch (err) {
        stats.badFrame('pipeline');
        if (badLogged++ < 10 || badLogged % 1000 === 0) this.log.warn({ err, seq: frame.info.seq, bad: stats.framesBad }, 'frame skipped');
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

  private publishCamera(state: CameraState): void {
    this.lastCamera = state;
    this.deps.out.camera(state);
  }

  private cameraState(state: 'online' | 'offline', width: number | null, height: number | null, fps: number | null, error: string | null): CameraState {
    const c = this.deps.config;
    return {
      device: c.device.id,
      time: new Date().toISOString(),
      state,
      source: describeSource(c.source.uri),
      width,
      height,
      fps: fps !== null && fps > 0 ? Math.round(fps * 100) / 100 : null,
      error,
      notice: c.privacy.notice === '' ? null : c.privacy.notice,
    };
  }

  setPaused(paused: boolean): void {
    if (paused === this.paused) return;
    this.paused = paused;
    this.pausedFile?.write(paused);
    if (paused) {
      this.pipeline?.endAll();
      // No frame is read into the pipeline while paused: nothing waits on it (what a frame released unprocessed said).
      this.deps.stats.skipped();
    }
    this.log.info({ paused }, paused ? 'paused' : 'resumed');
  }

  isPaused(): boolean {
    return this.paused;
  }

  resetTracks(): number {
    return this.pipeline?.endAll() ?? 0;
  }
}
