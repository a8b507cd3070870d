// Keeps things on a fixed rate on the frame clock (LSTM steps per face, re-detections per track): each item
// is due one period after its last due time, give or take half a frame, so that on average it runs at the
// rate whatever the frame rate (at 15 fps, 6 Hz alternates 2 and 3 frames); one that waited longer than a
// period is not run twice in a row to catch up.
export class RateKeeper {
  readonly periodMs: number;
  /** Smoothed interval between frames. */
  private frameMs: number | null = null;
  private lastFrameMs: number | null = null;

  constructor(hz: number) {
    this.periodMs = 1000 / hz;
  }

  /** Call once per frame with its time. */
  tick(nowMs: number): void {
    if (this.lastFrameMs !== null && nowMs > this.lastFrameMs) {
      const dt = nowMs - this.lastFrameMs;
      this.frameMs = this.frameMs === null ? dt : 0.9 * this.frameMs + 0.1 * dt;
    }
    this.lastFrameMs = nowMs;
  }

  /** How late an item due at `nextMs` is, in periods: >= 0 means due now; never run before = very late. */
  lateness(nextMs: number | undefined, nowMs: number): number {
    if (nextMs === undefined) return Number.MAX_VALUE;
    const slack = Math.min(this.periodMs / 2, (this.frameMs ?? 0) / 2);
    return (nowMs - nextMs + slack) / this.periodMs;
  }

  /** When an item that ran at `nowMs` (last due at `nextMs`) is due next. */
  next(nextMs: number | undefined, nowMs: number): number {
    return nextMs === undefined ? nowMs + this.periodMs : Math.max(nextMs + this.periodMs, nowMs + this.periodMs / 2);
  }
}
