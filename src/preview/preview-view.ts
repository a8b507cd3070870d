// `emotiond preview`: turns frames into JPEGs with the face boxes and labels drawn on them, a few times a
// second, for the installer's browser. Keeps only the latest JPEG; every Mat it gets is released here.
import cv from '../system/opencv.js';
import type { FrameTap } from '../types.js';
import type { TrackedFace } from '../types.js';
import { monotonicMs } from '../system/clock.js';

interface PreviewViewOptions {
  /** JPEGs per second at most (default 8). */
  fps?: number;
  /** The detector's smallest face, in pixels when >= 1 or as a fraction of the shorter side (detector.min_size). */
  minSize: number;
  /** When the preview stops (monotonic clock, system/clock.ts), shown on every image. */
  endsAtMs: number;
  /** The monotonic clock (default monotonicMs). */
  now?: () => number;
}

type Listener = (jpeg: Buffer) => void;

const GREEN = new cv.Vec3(80, 200, 60);
const AMBER = new cv.Vec3(0, 190, 255);
const WHITE = new cv.Vec3(255, 255, 255);
const BLACK = new cv.Vec3(0, 0, 0);

export class PreviewView implements FrameTap {
  /** The latest JPEG, or undefined before the first frame. */
  latest: Buffer | undefined;
  /** JPEGs made so far. */
  count = 0;
  private lastMs = 0;
  private readonly periodMs: number;
  private readonly listeners = new Set<Listener>();
  private readonly now: () => number;

  constructor(private readonly opts: PreviewViewOptions) {
    this.periodMs = 1000 / (opts.fps ?? 8);
    this.now = opts.now ?? monotonicMs;
  }

  /** Calls `fn` with every new JPEG; returns a function that stops it. */
  subscribe(fn: Listener): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  wants(nowMs: number): boolean {
    if (nowMs - this.lastMs < this.periodMs) return false;
    this.lastMs = nowMs;
    return true;
  }

  frame(mat: cv.Mat, tracks: readonly TrackedFace[]): void {
    let bgr: cv.Mat | undefined;
    try {
      bgr = mat.channels === 1 ? mat.cvtColor(cv.COLOR_GRAY2BGR) : mat.channels === 4 ? mat.cvtColor(cv.COLOR_BGRA2BGR) : mat;
      this.draw(bgr, tracks);
      this.latest = cv.imencode('.jpg', bgr, [cv.IMWRITE_JPEG_QUALITY, 80]);
      this.count += 1;
    } finally {
      if (bgr && bgr !== mat) bgr.release();
      mat.release();
    }
    for (const fn of this.listeners) fn(this.latest);
  }

  private draw(img: cv.Mat, tracks: readonly TrackedFace[]): void {
    const minPx = this.opts.minSize >= 1 ? this.opts.minSize : Math.round(this.opts.minSize * Math.min(img.cols, img.rows));
    for (const t of tracks) {
      const b = t.geometry.box;
      const confirmed = t.geometry.status === 'confirmed';
      const colour = confirmed ? GREEN : AMBER;
      img.drawRectangle(new cv.Rect(Math.round(b.x), Math.round(b.y), Math.round(b.width), Math.round(b.height)), colour, 2);
      const what = confirmed ? (t.label.committed ?? 'classifying') : 'new face';
      label(img, `#${t.id} ${Math.round(b.width)} px ${what}`, Math.round(b.x), Math.max(16, Math.round(b.y) - 6), colour);
    }
    const left = Math.max(0, Math.ceil((this.opts.endsAtMs - this.now()) / 1000));
    const faces = tracks.filter((t) => t.geometry.status === 'confirmed').length;
    label(img, `emotiond preview  ${img.cols}x${img.rows}  faces: ${faces}  smallest found: ${minPx} px  stops in ${left} s`, 6, 18, WHITE);
  }
}

/** Text on a dark band, readable on any image. */
function label(img: cv.Mat, text: string, x: number, y: number, colour: cv.Vec3): void {
  const font = cv.FONT_HERSHEY_SIMPLEX;
  const width = Math.min(img.cols - x, Math.round(text.length * 8.2) + 6);
  if (width > 0) img.drawRectangle(new cv.Rect(Math.max(0, x - 3), Math.max(0, y - 14), width, 19), BLACK, -1);
  img.putText(text, new cv.Point2(x, y), font, 0.45, colour, 1);
}
