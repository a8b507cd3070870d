// Box arithmetic shared by the detector and the tracker (neither imports the other).
import type { Box } from './types.js';

export function area(b: Box): number {
  return Math.max(0, b.width) * Math.max(0, b.height);
}

/** Intersection over union of two boxes (0 when disjoint). */
export function iou(a: Box, b: Box): number {
  const ix = Math.max(0, Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x));
  const iy = Math.max(0, Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y));
  const inter = ix * iy;
  const union = area(a) + area(b) - inter;
  return union > 0 ? inter / union : 0;
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
