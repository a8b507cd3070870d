// Keeps things on a fixed rate on the frame clock (LSTM steps per face, re-detections per track): each item
// is due one period after its last due time, give or take half a frame, so that on average it runs at the
// rate whatever the frame rate (at 15 fps, 6 Hz alternates 2 and 3 frames); one that waited longer than a
// period is not run twice in a row to catch up. Items that are done in batches instead take the next tick of the
// rate's grid (tickAfter): all of them come due on the same frames.
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
    return (nowMs - nextMs + this.slack()) / this.periodMs;
  }

  /** The first tick of this rate's grid (the multiples of the period on the frame clock) after the frame at `tMs`,
   * give or take half a frame. Items that use it as their next due time, whenever they last ran, come due on the
   * same frames: each still runs once a period, and what is done in batches (the model's steps) gets one batch per
   * tick. A tick within half a frame after `tMs` counts as `tMs`'s own, so an item does not run on two frames in a
   * row to reach the grid. */
  tickAfter(tMs: number): number {
    return (Math.floor((tMs + this.slack()) / this.periodMs) + 1) * this.periodMs;
  }

  /** When an item that ran at `nowMs` (last due at `nextMs`) is due next. */
  next(nextMs: number | undefined, nowMs: number): number {
    return nextMs === undefined ? nowMs + this.periodMs : Math.max(nextMs + this.periodMs, nowMs + this.periodMs / 2);
  }

  /** Half a frame (at most half a period): how early an item counts as due, for frames that come with jitter. */
  private slack(): number {
    return Math.min(this.periodMs / 2, (this.frameMs ?? 0) / 2);
  }
}
