// Box arithmetic shared by the stages (detector, tracker, classifier: none imports another).
import type { Box } from './types.js';

export function area(b: Box): number {
  return Math.max(0, b.width) * Math.max(0, b.height);
}

/** Area of the overlap of two boxes (0 when disjoint). */
function intersection(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  return ix * iy;
}

/** Intersection over union of two boxes (0 when disjoint). */
export function iou(a: Box, b: Box): number {
  const inter = intersection(a, b);
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
}

/** True when `inner` lies (almost) entirely inside `outer`: a face inside a face is one face. */
export function contains(outer: Box, inner: Box): boolean {
  return intersection(outer, inner) >= 0.8 * inner.width * inner.height;
}

/** Whether two detections are one face: they overlap by IoU > 0.3, or one lies inside the other. */
export function sameFace(a: Box, b: Box): boolean {
  return iou(a, b) > 0.3 || contains(a, b) || contains(b, a);
}

/** The box in whole pixels, cut to a `width` x `height` image; null when less than `minSide` pixels of it are inside. */
export function clampBox(box: Box, width: number, height: number, minSide = 1): Box | null {
  const x0 = Math.max(0, Math.round(box.x));
  const y0 = Math.max(0, Math.round(box.y));
  const x1 = Math.min(width, Math.round(box.x + box.width));
  const y1 = Math.min(height, Math.round(box.y + box.height));
  if (x1 - x0 < minSide || y1 - y0 < minSide) return null;
  return { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
}

/** `b` grown on every side by `share` of its longer side. */
export function grown(b: Box, share: number): Box {
  const m = share * Math.max(b.width, b.height);
  return { x: b.x - m, y: b.y - m, width: b.width + 2 * m, height: b.height + 2 * m };
}

/** Distance between box centres divided by the mean box side. */
export function centreDistance(a: Box, b: Box): number {
  const dx = a.x + a.width / 2 - (b.x + b.width / 2);
  const dy = a.y + a.height / 2 - (b.y + b.height / 2);
  const side = (a.width + a.height + b.width + b.height) / 4;
  return side > 0 ? Math.hypot(dx, dy) / side : Infinity;
}

/** Move `from` towards `to` by `k` (0..1). */
export function blend(from: Box, to: Box, k: number): Box {
  return {
    x: from.x + (to.x - from.x) * k,
    y: from.y + (to.y - from.y) * k,
    width: from.width + (to.width - from.width) * k,
    height: from.height + (to.height - from.height) * k,
  };
}

/** The cells of a grid of `cols` x `rows` cells of `cellW` x `cellH` frame pixels that `box` (frame pixels) overlaps,
 * as an inclusive range of columns and rows inside the grid. */
export function cellsUnder(grid: { cols: number; rows: number; cellW: number; cellH: number }, box: Box): { c0: number; c1: number; r0: number; r1: number } {
  return {
    c0: Math.max(0, Math.floor(box.x / grid.cellW)),
    c1: Math.min(grid.cols - 1, Math.floor((box.x + box.width) / grid.cellW)),
    r0: Math.max(0, Math.floor(box.y / grid.cellH)),
    r1: Math.min(grid.rows - 1, Math.floor((box.y + box.height) / grid.cellH)),
  };
}
