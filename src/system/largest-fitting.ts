// One binary search for the sizes the detector cuts its searches to (strips, tiles, motion areas).

/** The largest integer n in [lo, hi] for which `fits(n)` holds, where `fits` holds up to some n and not above it;
 * `lo` when none does (the caller's least size, taken even when it does not fit). */
export function largestFitting(lo: number, hi: number, fits: (n: number) => boolean): number {
  let a = lo;
  let b = hi;
  while (a < b) {
    const mid = Math.ceil((a + b) / 2);
    if (fits(mid)) a = mid;
    else b = mid - 1;
  }
  return a;
}
