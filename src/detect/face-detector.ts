// Face detection with an OpenCV cascade on a downscaled, equalised gray frame. The full-frame search
// is spread over `full_every` frames, one band of face sizes per frame (bands of equal cost), so no
// frame pays for the whole pyramid; every frame also searches the neighbourhood of each live track.
import fs from 'node:fs';
import cv from '../system/opencv.js';
import type { Box, Detection } from '../types.js';
import type { Config } from '../config/schema.js';
import { EmotiondError, asError, cvCall } from '../errors.js';
import { iou } from '../track/geometry.js';

export type DetectorSettings = Config['detector'];

/** Face width the track-window search works at (the window is shrunk to it; never below 1.5 cascade windows).
 * 36 px (1.5 windows of the Haar cascade) costs ~half of 48 px per track: 44 -> 54 frames/s on the three-face
 * bench clip on a 2-core AVX2 machine, with the same tracks and detection tests passing. */
const TRACK_FACE_PX = 36;

export interface DetectResult {
  detections: Detection[];
  /** Which band of face sizes the full-frame search covered on this frame (0 = the smallest faces; -1 = all). */
  band: number;
}

/** Face-size bands (in pixels of the detection image) that split the cascade's pyramid into `n` parts
 * of about equal cost. A pyramid level's cost grows with 1/size^2; neighbouring bands overlap by one
 * level so that a face whose votes straddle a boundary is still found in one of them. */
export function sizeBands(windowPx: number, minPx: number, maxPx: number, scaleFactor: number, n: number): Array<{ min: number; max: number }> {
  // OpenCV's pyramid: windows of windowPx * scaleFactor^k, kept when within [minPx, maxPx].
  const levels: number[] = [];
  for (let s = windowPx; s <= maxPx; s *= scaleFactor) if (s >= minPx) levels.push(s);
  if (levels.length === 0 || n <= 1) return [{ min: minPx, max: maxPx }];
  // Positions scanned at a level ~ 1/size^2; OpenCV steps 2 px at small scales and 1 px once the window
  // is more than twice the cascade's, which makes those levels four times as dear.
  const cost = levels.map((s) => (s > 2 * windowPx ? 4 : 1) / (s * s));
  const total = cost.reduce((a, b) => a + b, 0);
  const bands: Array<{ min: number; max: number }> = [];
  let acc = 0;
  let start = 0;
  for (let i = 0; i < levels.length; i++) {
    acc += cost[i] as number;
    const last = i === levels.length - 1;
    if (last || acc >= (total * (bands.length + 1)) / n) {
      const lo = levels[Math.max(0, start - 1)] as number;
      bands.push({ min: Math.floor(lo), max: last ? maxPx : Math.ceil((levels[i + 1] ?? maxPx) as number) });
      start = i + 1;
    }
    if (bands.length === n) break;
  }
  const lastBand = bands[bands.length - 1];
  if (lastBand) lastBand.max = maxPx;
  return bands;
}

export class FaceDetector {
  private readonly classifier: cv.CascadeClassifier;
  /** The cascade's training window: the smallest face it can find. */
  private readonly window: number;
  private frames = 0;
  private cachedBands?: { side: number; min: number; max: number; bands: Array<{ min: number; max: number }> };

  constructor(
    private readonly settings: DetectorSettings,
    readonly cascadePath: string,
  ) {
    try {
      this.classifier = new cv.CascadeClassifier(cascadePath);
    } catch (thrown) {
      throw new EmotiondError('EMD_CASCADE_LOAD', `${cascadePath}: ${asError(thrown).message}`);
    }
    this.window = cascadeWindow(cascadePath);
  }

  /** Detect faces in an 8-bit gray frame. `tracks` are the boxes of live tracks (frame coordinates). */
  detect(gray: cv.Mat, tracks: readonly Box[]): DetectResult {
    const s = this.settings;
    const scale = s.detect_width > 0 && gray.cols > s.detect_width ? s.detect_width / gray.cols : 1;
    const small = scale < 1 ? cvCall('downscale frame', () => gray.resize(Math.round(gray.rows * scale), s.detect_width, 0, 0, cv.INTER_AREA)) : gray;
    const eq = s.equalize ? cvCall('equalise frame', () => small.equalizeHist()) : small;
    try {
      const { min, max, bands } = this.bandsFor(Math.min(eq.rows, eq.cols));
      // The first frame gets the whole pyramid at once, so that faces present at start are found at once.
      const band = this.frames === 0 ? -1 : this.frames % bands.length;
      this.frames += 1;
      const range = band < 0 ? { min, max } : (bands[band] as { min: number; max: number });
      const tracked = tracks.flatMap((t) => this.searchAround(eq, scaleBox(t, scale)));
      const found = [...this.searchBand(eq, eq !== gray, range, tracked), ...tracked];
      const detections = suppress(found).map((d) => ({ box: scaleBox(d.box, 1 / scale), score: d.score }));
      return { detections, band };
    } finally {
      if (eq !== small) eq.release();
      if (small !== gray) small.release();
    }
  }

  /** The full-frame search of one size band. Faces the track searches just found are painted flat grey
   * first: they are already detected, and a face is where a cascade is dearest (most windows there pass
   * many stages), so on the three-face bench clip this halves the cost of the band (24.7 -> 11.3 ms for
   * the whole pyramid). Only boxes found in this frame are masked, so a face that moved away is not hidden.
   * `own` = `eq` is this frame's scratch image (downscaled or equalised here), painted in place; otherwise
   * it is the caller's frame, which the classifier still crops, and a copy is painted. */
  private searchBand(eq: cv.Mat, own: boolean, range: { min: number; max: number }, tracked: readonly Detection[]): Detection[] {
    if (tracked.length === 0) return this.run(eq, range.min, range.max);
    const masked = own ? eq : cvCall('copy frame for the band search', () => eq.copy());
    try {
      for (const { box } of tracked) {
        const rect = clipRect(box, masked.cols, masked.rows);
        if (rect) cvCall('mask tracked face', () => masked.drawRectangle(rect, MASK_GREY, -1));
      }
      return this.run(masked, range.min, range.max);
    } finally {
      if (masked !== eq) masked.release();
    }
  }

  /** The size bands depend only on the frame size: computed once per size, not per frame. */
  private bandsFor(side: number): { min: number; max: number; bands: Array<{ min: number; max: number }> } {
    if (this.cachedBands?.side !== side) {
      const { min, max } = this.sizes(side);
      this.cachedBands = { side, min, max, bands: sizeBands(this.window, min, max, this.settings.scale_factor, this.settings.full_every) };
    }
    return this.cachedBands;
  }

  private sizes(side: number): { min: number; max: number } {
    return { min: Math.max(12, Math.round(this.settings.min_size * side)), max: Math.max(12, Math.round(this.settings.max_size * side)) };
  }

  private run(img: cv.Mat, minPx: number, maxPx: number): Detection[] {
    const s = this.settings;
    const res = cvCall('detectMultiScale', () =>
      this.classifier.detectMultiScale(img, {
        scaleFactor: s.scale_factor,
        minNeighbors: s.min_neighbors,
        minSize: new cv.Size(minPx, minPx),
        maxSize: new cv.Size(maxPx, maxPx),
      }),
    );
    return res.objects.map((r, i) => ({ box: { x: r.x, y: r.y, width: r.width, height: r.height }, score: res.numDetections[i] ?? 0 }));
  }

  /** Search a window around one track; returns at most the one box that best continues it. The window
   * is first shrunk so that the face is about TRACK_FACE_PX wide: a large face costs what a small one does. */
  private searchAround(img: cv.Mat, track: Box): Detection[] {
    const side = Math.max(track.width, track.height);
    const m = this.settings.roi_margin * side;
    const x0 = Math.max(0, Math.floor(track.x - m));
    const y0 = Math.max(0, Math.floor(track.y - m));
    const x1 = Math.min(img.cols, Math.ceil(track.x + track.width + m));
    const y1 = Math.min(img.rows, Math.ceil(track.y + track.height + m));
    const k = Math.min(1, Math.max(TRACK_FACE_PX, this.window * 1.5) / side);
    const w = Math.round((x1 - x0) * k);
    const h = Math.round((y1 - y0) * k);
    const minPx = Math.max(this.window, Math.floor(side * k * 0.7));
    const maxPx = Math.min(Math.ceil(side * k * 1.4), w, h);
    if (maxPx < minPx) return [];
    const region = cvCall('crop search window', () => img.getRegion(new cv.Rect(x0, y0, x1 - x0, y1 - y0)));
    const shrunk = k < 1 ? cvCall('shrink search window', () => region.resize(h, w, 0, 0, cv.INTER_AREA)) : region;
    try {
      const found = this.run(shrunk, minPx, maxPx).map((d) => ({ ...d, box: { x: x0 + d.box.x / k, y: y0 + d.box.y / k, width: d.box.width / k, height: d.box.height / k } }));
      found.sort((a, b) => iou(b.box, track) - iou(a.box, track));
      return found.slice(0, 1);
    } finally {
      if (shrunk !== region) shrunk.release();
      region.release();
    }
  }
}

/** The window size declared in a cascade XML (24 for the Haar frontal face cascade). */
export function cascadeWindow(file: string): number {
  const head = fs.readFileSync(file, 'utf8').slice(0, 4096);
  const w = /<width>\s*(\d+)\s*<\/width>/.exec(head)?.[1];
  const h = /<height>\s*(\d+)\s*<\/height>/.exec(head)?.[1];
  return Math.max(Number(w ?? 24), Number(h ?? 24));
}

/** The grey that tracked faces are painted with before the band search (mid-grey of an equalised frame). */
const MASK_GREY = new cv.Vec3(128, 128, 128);

/** The integer rectangle of a box inside a w x h image, or undefined when nothing of it is inside. */
function clipRect(b: Box, w: number, h: number): cv.Rect | undefined {
  const x0 = Math.max(0, Math.round(b.x));
  const y0 = Math.max(0, Math.round(b.y));
  const x1 = Math.min(w, Math.round(b.x + b.width));
  const y1 = Math.min(h, Math.round(b.y + b.height));
  return x1 > x0 && y1 > y0 ? new cv.Rect(x0, y0, x1 - x0, y1 - y0) : undefined;
}

function scaleBox(b: Box, k: number): Box {
  return { x: b.x * k, y: b.y * k, width: b.width * k, height: b.height * k };
}

/** Non-maximum suppression: of boxes overlapping by IoU > 0.3 keep the one with more votes; of nested
 * boxes keep the outer one (a face-sized box inside a face is a part of it), with the better votes. */
export function suppress(dets: Detection[]): Detection[] {
  const sorted = [...dets].sort((a, b) => b.score - a.score || b.box.width - a.box.width);
  const kept: Detection[] = [];
  for (const d of sorted) {
    const i = kept.findIndex((k) => iou(k.box, d.box) > 0.3 || contains(k.box, d.box) || contains(d.box, k.box));
    if (i < 0) kept.push(d);
    else if (contains(d.box, (kept[i] as Detection).box) && d.box.width > 1.2 * (kept[i] as Detection).box.width) kept[i] = { box: d.box, score: (kept[i] as Detection).score };
  }
  return kept;
}

/** True when `inner` lies (almost) entirely inside `outer`: a face inside a face is one face. */
function contains(outer: Box, inner: Box): boolean {
  const ix = Math.max(0, Math.min(outer.x + outer.width, inner.x + inner.width) - Math.max(outer.x, inner.x));
  const iy = Math.max(0, Math.min(outer.y + outer.height, inner.y + inner.height) - Math.max(outer.y, inner.y));
  return ix * iy >= 0.8 * inner.width * inner.height;
}
