// One slot between capture and the pipeline: a new frame replaces an unprocessed one, which is
// released and reported as dropped (put() returns false; the capture loop counts it in the stats). Capture therefore never waits for the rest of the pipeline.
import type cv from '../system/opencv.js';
import type { FrameInfo } from '../types.js';

export interface Frame {
  mat: cv.Mat;
  info: FrameInfo;
}

export class LatestFrameSlot {
  private frame: Frame | null = null;
  private waiter: ((f: Frame | null) => void) | null = null;
  private drainWaiters: Array<() => void> = [];
  private closed = false;

  /** Offer a frame; returns false when it replaced (dropped) an unprocessed one. */
  put(frame: Frame): boolean {
    if (this.closed) {
      frame.mat.release();
      return false;
    }
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w(frame);
      return true;
    }
    const replaced = this.frame !== null;
    // A dropped first frame of a (re)opened source passes that on: the detector must still search the next whole.
    if (this.frame?.info.fresh) frame.info.fresh = true;
    this.frame?.mat.release();
    this.frame = frame;
    return !replaced;
  }

  /** The newest frame, waiting for one if the slot is empty; null once closed. */
  take(): Promise<Frame | null> {
    if (this.frame) {
      const f = this.frame;
      this.frame = null;
      this.notifyDrained();
      return Promise.resolve(f);
    }
    if (this.closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  /** Resolves once the slot is empty (used by lossless file pacing: read the next frame meanwhile). */
  drained(): Promise<void> {
    if (this.closed || this.frame === null) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  /** No more frames will come: the one in the slot is still delivered, then take() gives null. */
  end(): void {
    this.closed = true;
    if (this.frame === null) {
      this.waiter?.(null);
      this.waiter = null;
    }
    this.notifyDrained();
  }

  /** Stop now: an unprocessed frame is released. */
  close(): void {
    this.closed = true;
    this.frame?.mat.release();
    this.frame = null;
    this.waiter?.(null);
    this.waiter = null;
    this.notifyDrained();
  }

  private notifyDrained(): void {
    const ws = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of ws) w();
  }
}
