// Health counters and per-stage timings, owned by the composition root and written by the stages.
import type { ClassifyStats, DetectStats } from '../types.js';
import { quantile } from './quantile.js';

export const STAGES = ['capture', 'detect', 'track', 'classify', 'events', 'publish', 'frame'] as const;
export type Stage = (typeof STAGES)[number];

/** Keeps the last `size` samples for median and p95. */
export class TimingWindow {
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

export interface StatsSnapshot {
  frames_in: number;
  frames_processed: number;
  frames_dropped: number;
  frames_bad: number;
  source_reopens: number;
  faces_classified: number;
  active_tracks: number;
  fps: number;
  stage_ms: Record<Stage, { median: number; p95: number }>;
  /** The sweep for new faces: seconds a full sweep took (the longest a new face waits), its frames, the smallest face. */
  detect: DetectStats | null;
  /** LSTM steps per second per face, over the faces present. */
  classify: ClassifyStats | null;
  uptime_s: number;
}

export class PipelineStats {
  framesIn = 0;
  framesProcessed = 0;
  framesDropped = 0;
  framesBad = 0;
  sourceReopens = 0;
  facesClassified = 0;
  activeTracks = 0;
  /** Frame clock (ms since the epoch; media time for files) of the first frame processed: tools measure from it. */
  firstFrameMs: number | null = null;
  /** Where the detector's and the classifier's figures come from (wired by the composition root); read when a
   * snapshot is taken, not on every frame. */
  sources: { detect?: () => DetectStats; classify?: () => ClassifyStats } = {};
  /** Wall time of the last processed frame (ms since epoch); the watchdog checks it for progress. */
  lastProgressMs = 0;
  /** End of the capture loop's latest deliberate reopen back-off (ms since epoch; 0 = none yet). */
  sourceRetryUntilMs = 0;
  /** The capture loop gave up on the source (reads stuck for good, or source.give_up_s without a frame). */
  sourceFailed = false;
  /** Source reads abandoned after the stall timeout that have not returned: each holds a libuv worker thread,
   * and Node joins those threads at exit, so while one is stuck the process cannot exit normally. */
  stuckReads = 0;
  private readonly timings = new Map<Stage, TimingWindow>(STAGES.map((s) => [s, new TimingWindow()]));
  private readonly startedMs = Date.now();
  private readonly recent: number[] = [];

  /** Time spent in event sinks since the last frame was accounted (see takePublishMs). */
  private publishMs = 0;

  addPublish(ms: number): void {
    this.publishMs += ms;
  }

  /** The sink time gathered since the last call: the frame's 'publish' stage. */
  takePublishMs(): number {
    const ms = this.publishMs;
    this.publishMs = 0;
    return ms;
  }

  /** Sees every timing sample (the benchmark keeps them all; the windows keep the last 512). */
  onSample?: (stage: Stage, ms: number) => void;
  /** More observers of every sample (the /metrics histograms), beside onSample. */
  private readonly sampleListeners = new Set<(stage: Stage, ms: number) => void>();

  /** Adds an observer of every timing sample; returns the function that removes it. */
  addSampleListener(fn: (stage: Stage, ms: number) => void): () => void {
    this.sampleListeners.add(fn);
    return () => this.sampleListeners.delete(fn);
  }

  time(stage: Stage, ms: number): void {
    this.timings.get(stage)?.add(ms);
    this.onSample?.(stage, ms);
    for (const fn of this.sampleListeners) fn(stage, ms);
  }

  /**
   * Liveness for the systemd watchdog: a frame was processed within `windowMs`, or the capture loop is
   * waiting to reopen a failed source (an unplugged camera) or left that wait less than `windowMs` ago.
   * A hung read or a blocked event loop satisfies neither, and nothing does once the source was given up.
   */
  alive(nowMs: number, windowMs: number): boolean {
    if (this.sourceFailed) return false;
    return nowMs - this.lastProgressMs < windowMs || nowMs < this.sourceRetryUntilMs + windowMs;
  }

  processed(nowMs = Date.now()): void {
    this.framesProcessed += 1;
    this.lastProgressMs = nowMs;
    this.recent.push(nowMs);
    while (this.recent.length > 0 && (this.recent[0] ?? 0) < nowMs - 5000) this.recent.shift();
  }

  /** Processed frames per second over the last five seconds. */
  fps(nowMs = Date.now()): number {
    const live = this.recent.filter((t) => t >= nowMs - 5000);
    if (live.length < 2) return 0;
    const span = (nowMs - (live[0] ?? nowMs)) / 1000;
    return span > 0 ? (live.length - 1) / span : 0;
  }

  snapshot(nowMs = Date.now()): StatsSnapshot {
    const stage_ms = {} as Record<Stage, { median: number; p95: number }>;
    for (const s of STAGES) {
      const { median, p95 } = this.timings.get(s)?.summary() ?? { median: 0, p95: 0 };
      stage_ms[s] = { median: round(median), p95: round(p95) };
    }
    return {
      frames_in: this.framesIn,
      frames_processed: this.framesProcessed,
      frames_dropped: this.framesDropped,
      frames_bad: this.framesBad,
      source_reopens: this.sourceReopens,
      faces_classified: this.facesClassified,
      active_tracks: this.activeTracks,
      fps: round(this.fps(nowMs)),
      stage_ms,
      detect: this.sources.detect?.() ?? null,
      classify: this.sources.classify?.() ?? null,
      uptime_s: Math.round((nowMs - this.startedMs) / 1000),
    };
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
