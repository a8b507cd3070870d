// Health counters and per-stage timings, owned by the composition root and written by the stages. They count; no
// stage reads them back to decide anything (the progress figures are read by health: /healthz, the watchdog).
import type { ClassifyStats, DetectStats } from '../types.js';
import { quantile } from './quantile.js';
import { monotonicMs } from './clock.js';

export const STAGES = ['capture', 'detect', 'track', 'classify', 'events', 'publish', 'frame'] as const;
export type Stage = (typeof STAGES)[number];
/** Why a frame was skipped as bad: unusable from the source, or the pipeline failed on it. */
export type BadFrameCause = 'source' | 'pipeline';

/** A stage that has work and makes no progress for this long is stalled: /healthz fails and the systemd
 * watchdog is no longer fed. */
export const PROGRESS_WINDOW_MS = 15_000;

/** Keeps the last `size` samples for median and p95. */
class TimingWindow {
  private readonly samples: Float64Array;
  private count = 0;
  private next = 0;

  constructor(size = 512) {
    this.samples = new Float64Array(size);
  }

  add(ms: number): void {
    this.samples[this.next] = ms;
    this.next = (this.next + 1) % this.samples.length;
    this.count = Math.min(this.count + 1, this.samples.length);
  }

  summary(): { median: number; p95: number; n: number } {
    if (this.count === 0) return { median: 0, p95: 0, n: 0 };
    const sorted = Array.from(this.samples.subarray(0, this.count)).sort((a, b) => a - b);
    return { median: quantile(sorted, 0.5), p95: quantile(sorted, 0.95), n: this.count };
  }
}

interface StatsSnapshot {
  frames_in: number;
  frames_processed: number;
  frames_dropped: number;
  frames_skipped: number;
  frames_bad: number;
  /** frames_bad by cause: unusable as the source gave it, or the pipeline failed on it. */
  frames_bad_by_cause: Record<BadFrameCause, number>;
  source_reopens: number;
  faces_classified: number;
  active_tracks: number;
  fps: number;
  /** Motion gate: the room is idle (nothing moved, no face, for 2 s), and only detector.idle_fps frames a second are taken. */
  idle: boolean;
  stage_ms: Record<Stage, { median: number; p95: number }>;
  /** The sweep for new faces: seconds a full sweep took (the longest a new face waits), its frames, the smallest face. */
  detect: DetectStats | null;
  /** LSTM steps per second per face, over the faces present. */
  classify: ClassifyStats | null;
  uptime_s: number;
  /** Steps of the wall clock seen since start (NTP's first sync on a board without a real-time clock). */
  clock_jumps: number;
  /** Size of the last one in seconds (positive: forward), null before any. */
  clock_jump_last_s: number | null;
  /** Stages that have work and have made no progress for 15 s (see PipelineStats.stalled). */
  stalled: Stage[];
}

export class PipelineStats {
  framesIn = 0;
  framesProcessed = 0;
  framesDropped = 0;
  /** Frames read from the source and dropped undecoded: the motion gate's idle rate, or a pause. */
  framesSkipped = 0;
  /** Frames skipped as bad, by cause (framesBad: all). */
  readonly framesBadBy: Record<BadFrameCause, number> = { source: 0, pipeline: 0 };
  sourceReopens = 0;
  facesClassified = 0;
  activeTracks = 0;
  /** Motion gate: the room was idle at the last frame (detector.idle_fps frames a second are taken); set by the pipeline. */
  idle = false;
  /** Wall time (ms since the epoch; media time on that scale for files) of the first frame processed: tools
   * measure from it. */
  firstFrameMs: number | null = null;
  /** Where the detector's and the classifier's figures come from (wired by the composition root); read when a
   * snapshot is taken, not on every frame. */
  sources: { detect?: () => DetectStats; classify?: () => ClassifyStats } = {};
  /** Monotonic time (system/clock.ts) of the last processed frame. */
  lastProgressMs = -Infinity;
  /** Monotonic time until which the capture loop is opening the source (at most source.open_timeout_s) or waiting
   * to reopen it after a failure: busy, not stalled. */
  sourceRetryUntilMs = -Infinity;
  /** Monotonic time of the last frame read from the source. */
  lastFrameInMs = -Infinity;
  /** The pipeline stage the frame in progress is in (null between frames): names a pipeline that stalls. */
  currentStage: Stage | null = null;
  /** Steps of the wall clock seen (ClockWatch), and the last one's size in seconds. */
  clockJumps = 0;
  clockJumpLastS: number | null = null;
  /** Since when (monotonic) frames were read and none processed; null when none waits. */
  private unprocessedSinceMs: number | null = null;
  /** Since when (monotonic) frames with confirmed faces were processed and no face was classified. */
  unclassifiedSinceMs: number | null = null;
  /** The capture loop gave up on the source (reads stuck for good, or source.give_up_s without a frame). */
  sourceFailed = false;
  private readonly timings = new Map<Stage, TimingWindow>(STAGES.map((s) => [s, new TimingWindow()]));
  private readonly startedMs = monotonicMs();
  private readonly recent: number[] = [];

  /** Observers of every timing sample (the /metrics histograms, the benchmark, which keeps them all; the windows
   * keep the last 512). */
  private readonly sampleListeners = new Set<(stage: Stage, ms: number) => void>();

  /** Adds an observer of every timing sample; returns the function that removes it. */
  addSampleListener(fn: (stage: Stage, ms: number) => void): () => void {
    this.sampleListeners.add(fn);
    return () => this.sampleListeners.delete(fn);
  }

  time(stage: Stage, ms: number): void {
    this.timings.get(stage)?.add(ms);
    for (const fn of this.sampleListeners) fn(stage, ms);
  }

  /**
   * Liveness for the systemd watchdog and /healthz: no stage is stalled (see stalled()). A blocked event loop
   * never gets to answer, and nothing is alive once the source was given up.
   */
  alive(nowMs = monotonicMs(), windowMs = PROGRESS_WINDOW_MS): boolean {
    return this.stalled(nowMs, windowMs).length === 0;
  }

  /**
   * The stages that have work and made no progress for `windowMs` (monotonic times):
   * capture: no frame from the source, while it is neither being opened nor waiting to be reopened (or given up);
   * the stage a frame is stuck in: frames were read and none was processed;
   * classify: frames with faces present were processed and no face was classified.
   */
  stalled(nowMs = monotonicMs(), windowMs = PROGRESS_WINDOW_MS): Stage[] {
    const out: Stage[] = [];
    const busy = nowMs < this.sourceRetryUntilMs + windowMs;
    if (this.sourceFailed || (!busy && nowMs - Math.max(this.lastFrameInMs, this.startedMs) >= windowMs)) out.push('capture');
    if (this.unprocessedSinceMs !== null && nowMs - this.unprocessedSinceMs >= windowMs) out.push(this.currentStage ?? 'detect');
    if (this.unclassifiedSinceMs !== null && nowMs - this.unclassifiedSinceMs >= windowMs && !out.includes('classify')) out.push('classify');
    return out;
  }

  /** A frame was read from the source. */
  received(nowMs = monotonicMs()): void {
    this.framesIn += 1;
    this.lastFrameInMs = nowMs;
    this.unprocessedSinceMs ??= nowMs;
  }

  /** A frame was read from the source and dropped undecoded (idle or paused): the source is alive, nothing waits. */
  skippedUndecoded(nowMs = monotonicMs()): void {
    this.framesIn += 1;
    this.framesSkipped += 1;
    this.lastFrameInMs = nowMs;
  }

  /** A frame could not be used: empty or malformed from the source ('source': a camera, cable or stream
   * fault), or the pipeline failed on it ('pipeline': a fault of the daemon's, logged with its error). */
  badFrame(cause: BadFrameCause): void {
    this.framesBadBy[cause] += 1;
  }

  /** Frames skipped as bad, all causes. */
  get framesBad(): number {
    return this.framesBadBy.source + this.framesBadBy.pipeline;
  }

  /** A frame was released unprocessed on purpose (paused): nothing waits. */
  skipped(): void {
    this.unprocessedSinceMs = null;
    this.unclassifiedSinceMs = null;
  }

  /** The classifier stepped `count` faces on a frame with `present` confirmed faces. */
  classified(count: number, present: number, nowMs = monotonicMs()): void {
    this.facesClassified += count;
    if (count > 0 || present === 0) this.unclassifiedSinceMs = null;
    else this.unclassifiedSinceMs ??= nowMs;
  }

  processed(nowMs = monotonicMs()): void {
    this.framesProcessed += 1;
    this.lastProgressMs = nowMs;
    this.unprocessedSinceMs = null;
    this.currentStage = null;
    this.recent.push(nowMs);
    while (this.recent.length > 0 && (this.recent[0] ?? 0) < nowMs - 5000) this.recent.shift();
  }

  /** Processed frames per second over the last five seconds. */
  fps(nowMs = monotonicMs()): number {
    const live = this.recent.filter((t) => t >= nowMs - 5000);
    if (live.length < 2) return 0;
    const span = (nowMs - (live[0] ?? nowMs)) / 1000;
    return span > 0 ? (live.length - 1) / span : 0;
  }

  snapshot(nowMs = monotonicMs()): StatsSnapshot {
    const stage_ms = {} as Record<Stage, { median: number; p95: number }>;
    for (const s of STAGES) {
      const { median, p95 } = this.timings.get(s)?.summary() ?? { median: 0, p95: 0 };
      stage_ms[s] = { median: round(median), p95: round(p95) };
    }
    return {
      frames_in: this.framesIn,
      frames_processed: this.framesProcessed,
      frames_dropped: this.framesDropped,
      frames_skipped: this.framesSkipped,
      frames_bad: this.framesBad,
      frames_bad_by_cause: { ...this.framesBadBy },
      source_reopens: this.sourceReopens,
      faces_classified: this.facesClassified,
      active_tracks: this.activeTracks,
      fps: round(this.fps(nowMs)),
      idle: this.idle,
      stage_ms,
      detect: this.sources.detect?.() ?? null,
      classify: this.sources.classify?.() ?? null,
      uptime_s: Math.round((nowMs - this.startedMs) / 1000),
      clock_jumps: this.clockJumps,
      clock_jump_last_s: this.clockJumpLastS,
      stalled: this.stalled(nowMs),
    };
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
