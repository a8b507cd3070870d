// Face detection with an OpenCV cascade on a downscaled, equalised gray frame. A full-frame search
// runs every `full_every` frames; in between only the neighbourhood of each live track is searched.
import cv from '../system/opencv.js';
import type { Box, Detection } from '../types.js';
import type { Config } from '../config/schema.js';
import { EmotiondError, asError, cvCall } from '../errors.js';
import { iou } from '../track/geometry.js';

export type DetectorSettings = Config['detector'];

export interface DetectResult {
  detections: Detection[];
  /** True when this frame got a full-frame search. */
  full: boolean;
}

export class FaceDetector {
  private readonly classifier: cv.CascadeClassifier;
  private frames = 0;

  constructor(
    private readonly settings: DetectorSettings,
    readonly cascadePath: string,
  ) {
    try {
      this.classifier = new cv.CascadeClassifier(cascadePath);
    } catch (thrown) {
      throw new EmotiondError('EMD_CASCADE_LOAD', `${cascadePath}: ${asError(thrown).message}`);
    }
  }

  /** Detect faces in an 8-bit gray frame. `tracks` are the boxes of live tracks (frame coordinates). */
  detect(gray: cv.Mat, tracks: readonly Box[]): DetectResult {
    const s = this.settings;
    const scale = s.detect_width > 0 && gray.cols > s.detect_width ? s.detect_width / gray.cols : 1;
    const small = scale < 1 ? cvCall('downscale frame', () => gray.resize(Math.round(gray.rows * scale), s.detect_width, 0, 0, cv.INTER_AREA)) : gray;
    const eq = s.equalize ? cvCall('equalise frame', () => small.equalizeHist()) : small;
    try {
      const full = this.frames % s.full_every === 0;
      this.frames += 1;
      const found = full ? this.searchAll(eq) : tracks.flatMap((t) => this.searchAround(eq, scaleBox(t, scale)));
      const detections = suppress(found).map((d) => ({ box: scaleBox(d.box, 1 / scale), score: d.score }));
      return { detections, full };
    } finally {
      if (eq !== small) eq.release();
      if (small !== gray) small.release();
    }
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

  private searchAll(img: cv.Mat): Detection[] {
    const { min, max } = this.sizes(Math.min(img.rows, img.cols));
    return this.run(img, min, max);
  }

  /** Search a window around one track; returns at most the one box that best continues it. */
  private searchAround(img: cv.Mat, track: Box): Detection[] {
    const side = Math.max(track.width, track.height);
    const m = this.settings.roi_margin * side;
    const x0 = Math.max(0, Math.floor(track.x - m));
    const y0 = Math.max(0, Math.floor(track.y - m));
    const x1 = Math.min(img.cols, Math.ceil(track.x + track.width + m));
    const y1 = Math.min(img.rows, Math.ceil(track.y + track.height + m));
    if (x1 - x0 < 24 || y1 - y0 < 24) return [];
    const limits = this.sizes(Math.min(img.rows, img.cols));
    const minPx = Math.max(limits.min, Math.floor(side * 0.7));
    const maxPx = Math.min(limits.max, Math.ceil(side * 1.4), x1 - x0, y1 - y0);
    if (maxPx < minPx) return [];
    const region = cvCall('crop search window', () => img.getRegion(new cv.Rect(x0, y0, x1 - x0, y1 - y0)));
    try {
      const found = this.run(region, minPx, maxPx).map((d) => ({ ...d, box: { ...d.box, x: d.box.x + x0, y: d.box.y + y0 } }));
      found.sort((a, b) => iou(b.box, track) - iou(a.box, track));
      return found.slice(0, 1);
    } finally {
      region.release();
    }
  }
}

function scaleBox(b: Box, k: number): Box {
  return { x: b.x * k, y: b.y * k, width: b.width * k, height: b.height * k };
}

/** Non-maximum suppression: of boxes overlapping by IoU > 0.3 keep the one with more votes (then larger). */
export function suppress(dets: Detection[]): Detection[] {
  const sorted = [...dets].sort((a, b) => b.score - a.score || b.box.width - a.box.width);
  const kept: Detection[] = [];
  for (const d of sorted) if (!kept.some((k) => iou(k.box, d.box) > 0.3 || contains(k.box, d.box))) kept.push(d);
  return kept;
}

/** True when `inner` lies (almost) entirely inside `outer`: a face inside a face is one face. */
function contains(outer: Box, inner: Box): boolean {
  const ix = Math.max(0, Math.min(outer.x + outer.width, inner.x + inner.width) - Math.max(outer.x, inner.x));
  const iy = Math.max(0, Math.min(outer.y + outer.height, inner.y + inner.height) - Math.max(outer.y, inner.y));
  return ix * iy >= 0.8 * inner.width * inner.height;
}
