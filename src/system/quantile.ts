// Order statistics for the daemon, the bench and the evaluation (stage timings, the tracker's vote median, the
// classifier's step rates). Two kinds, named apart: interpolated between the closest ranks (numpy's default) and
// nearest rank (always one of the values, never a mean of two).

/** The values in ascending order (a copy). */
export function ascending(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

/** Quantile `q` (0..1) of an ascending array by linear interpolation between the closest ranks; 0 for none. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] ?? 0;
  const b = sorted[hi] ?? a;
  return a + (b - a) * (pos - lo);
}

/** The median by interpolation (the mean of the middle two for an even count); 0 for none. */
export function median(xs: readonly number[]): number {
  return quantile(ascending(xs), 0.5);
}

/** The value of rank round(q (n - 1)) among `xs`, unsorted (for q 0.5 and an even count, the upper middle); undefined for none. */
export function nearestRank(xs: readonly number[], q: number): number | undefined {
  if (xs.length === 0) return undefined;
  const s = ascending(xs);
  return s[Math.min(s.length - 1, Math.floor(q * (s.length - 1) + 0.5))];
}
