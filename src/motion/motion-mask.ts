// Where the frame moved, on a small copy of the gray frame (cells of a few pixels, each the mean of its
// pixels, so that sensor noise averages out). A cell is compared with its reference, the value it had when it
// last moved, not with the previous frame: a slow change (a face that fades in, someone sitting down slowly)
// adds up until it counts. A change of the whole picture's brightness (a lamp, the camera's auto-exposure) is
// taken out first: the references are scaled by the median ratio of the cells. What still changes over more
// than SCENE_SHARE of the cells is a new scene (the camera moved, a file looped): the caller searches it all.
import cv from '../system/opencv.js';
import { cvCall } from '../errors.js';
import type { Box } from '../types.js';
import { cellsUnder } from '../geometry.js';

/** One frame's motion, on a grid of cells over the frame. */
export interface MotionFrame {
  cols: number;
  rows: number;
  /** Frame pixels per cell, across and down. */
  cellW: number;
  cellH: number;
  /** 1 for each cell (row by row) that moved on this frame. */
  moved: Uint8Array;
  /** Cells that moved. */
  count: number;
  /** The whole picture changed (or this is the first frame): every cell is new. */
  scene: boolean;
}

/** Share of the cells that moving at once makes a new scene rather than motion. */
export const SCENE_SHARE = 0.35;
/** Cells darker than this (references) do not vote on the brightness ratio: their ratio is mostly noise. */
const DARK = 12;
/** Brightness ratios are voted on in bins of 0.5 %, from x0.5 to x2. */
const RATIO_MIN = 0.5;
const RATIO_BIN = 0.005;
const BINS = Math.round((2 - RATIO_MIN) / RATIO_BIN);
/** Every STRIDE-th cell votes on the ratio (a median needs no more). */
const STRIDE = 3;

export class MotionMask {
  private ref: Float32Array | null = null;
  private grid = { cols: 0, rows: 0 };

  /** `threshold`: change of a cell's mean, in gray levels, that counts as motion. */
  constructor(private readonly threshold: number) {}

  /** The cell side for a frame whose smallest face is `minFace` pixels: a power of two near a quarter of it
   * (whole pixels per cell make the shrink fast), from 4 to 32. */
  static cellFor(minFace: number): number {
    return 2 ** Math.max(2, Math.min(5, Math.floor(Math.log2(Math.max(4, minFace / 4)))));
  }

  /** Compare an 8-bit gray frame with the references; `cell` is the cell side in frame pixels. */
  update(gray: cv.Mat, cell: number): MotionFrame {
    const cols = Math.max(1, Math.round(gray.cols / cell));
    const rows = Math.max(1, Math.round(gray.rows / cell));
    const cells = cvCall('shrink frame for motion', () => cellMeans(gray, rows, cols));
    const frame = { cols, rows, cellW: gray.cols / cols, cellH: gray.rows / rows };
    if (!this.ref || this.grid.cols !== cols || this.grid.rows !== rows) {
      this.grid = { cols, rows };
      this.ref = Float32Array.from(cells);
      return { ...frame, moved: new Uint8Array(cols * rows).fill(1), count: cols * rows, scene: true };
    }
    const { moved, count } = compareCells(cells, this.ref, this.threshold);
    if (count > SCENE_SHARE * cells.length) {
      this.ref.set(cells);
      return { ...frame, moved: moved.fill(1), count: cells.length, scene: true };
    }
    return { ...frame, moved, count, scene: false };
  }

  /** Forget the references: the next frame is a new scene. */
  reset(): void {
    this.ref = null;
  }
}

/** Most pixels a resize of the shrink may make: OpenCV does one that small on the calling thread, while a larger
 * one is split over its thread pool, whose workers then spin idle for longer than the work took. */
const SERIAL_PX = 65536;

/** The mean of each cell of `gray` (`rows` x `cols` cells), row by row, as INTER_AREA makes it. When each cell is
 * a whole number of pixels, the frame is shrunk in pieces of whole cell rows, each halved while it stays at least
 * twice its cells: OpenCV's area resize has a vector path for a factor of 2 only, and three halvings cost a
 * seventh of one resize by 8 (each cell the same mean, up to the rounding of the steps: one gray level). */
export function cellMeans(gray: cv.Mat, rows: number, cols: number): Uint8Array {
  const fy = gray.rows / rows;
  const fx = gray.cols / cols;
  if (!Number.isInteger(fx) || !Number.isInteger(fy) || (fx === 1 && fy === 1)) return matBytes(gray.resize(rows, cols, 0, 0, cv.INTER_AREA));
  const out = new Uint8Array(rows * cols);
  // Cell rows per piece: its first halving makes at most SERIAL_PX pixels.
  const per = Math.max(1, Math.floor((4 * SERIAL_PX) / (gray.cols * fy)));
  for (let r0 = 0; r0 < rows; r0 += per) {
    const n = Math.min(per, rows - r0);
    const piece = n === rows ? gray : gray.getRegion(new cv.Rect(0, r0 * fy, gray.cols, n * fy));
    try {
      out.set(matBytes(halved(piece, n, cols)), r0 * cols);
    } finally {
      if (piece !== gray) piece.release();
    }
  }
  return out;
}

/** `src` resized to `rows` x `cols` (INTER_AREA), halved while it stays at least twice that size. */
function halved(src: cv.Mat, rows: number, cols: number): cv.Mat {
  let cur = src;
  try {
    while (cur.cols >= 2 * cols && cur.rows >= 2 * rows && cur.cols % 2 === 0 && cur.rows % 2 === 0) {
      const half = cur.resize(cur.rows / 2, cur.cols / 2, 0, 0, cv.INTER_AREA);
      if (cur !== src) cur.release();
      cur = half;
    }
    if (cur === src || cur.cols !== cols || cur.rows !== rows) return cur.resize(rows, cols, 0, 0, cv.INTER_AREA);
    const done = cur;
    cur = src;
    return done;
  } finally {
    if (cur !== src) cur.release();
  }
}

/** A copy of a 1-channel Mat's bytes; the Mat is released. */
function matBytes(mat: cv.Mat): Uint8Array {
  try {
    return new Uint8Array(mat.getData());
  } finally {
    mat.release();
  }
}

/** The median brightness ratio of `cells` to `ref` (1 when too few cells are bright enough to tell). */
export function brightnessRatio(cells: Uint8Array, ref: Float32Array): number {
  const hist = new Uint32Array(BINS);
  let n = 0;
  for (let i = 0; i < cells.length; i += STRIDE) {
    const r = ref[i] as number;
    if (r < DARK) continue;
    const bin = Math.max(0, Math.min(BINS - 1, Math.floor(((cells[i] as number) / r - RATIO_MIN) / RATIO_BIN)));
    hist[bin] = (hist[bin] as number) + 1;
    n += 1;
  }
  if (n < cells.length / STRIDE / 10) return 1;
  let seen = 0;
  for (let b = 0; b < BINS; b++) {
    seen += hist[b] as number;
    if (seen * 2 >= n) return RATIO_MIN + (b + 0.5) * RATIO_BIN;
  }
  return 1;
}

/** Scale the references by the brightness ratio, then mark the cells that differ from their reference by more
 * than `threshold` and make their current value the reference. Pure: `ref` is updated in place. */
export function compareCells(cells: Uint8Array, ref: Float32Array, threshold: number): { moved: Uint8Array; count: number; gain: number } {
  const gain = brightnessRatio(cells, ref);
  if (Math.abs(gain - 1) > RATIO_BIN) for (let i = 0; i < ref.length; i++) ref[i] = (ref[i] as number) * gain;
  const moved = new Uint8Array(cells.length);
  let count = 0;
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i] as number;
    if (Math.abs(c - (ref[i] as number)) > threshold) {
      moved[i] = 1;
      ref[i] = c;
      count += 1;
    }
  }
  return { moved, count, gain };
}

/** Whether any cell of the motion mask that moved on this frame overlaps `box` (frame pixels). */
export function movedIn(motion: MotionFrame, box: Box): boolean {
  const { c0, c1, r0, r1 } = cellsUnder(motion, box);
  for (let r = r0; r <= r1; r++) for (let c = c0; c <= c1; c++) if (motion.moved[r * motion.cols + c] === 1) return true;
  return false;
}
