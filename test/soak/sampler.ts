// What the soak and npm run memory measure of the daemon's process: resident, proportional and anonymous
// memory (smaps_rollup) and open file descriptors, sampled on a timer.
import fs from 'node:fs';
import { median } from '../../src/system/quantile.js';

export interface Sample {
  t_s: number;
  rss_mb: number;
  pss_mb: number;
  anon_mb: number;
  fds: number;
}

export function sampleProcess(pid: number, t_s: number): Sample | undefined {
  try {
    const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? NaN);
    const fds = fs.readdirSync(`/proc/${pid}/fd`).length;
    return { t_s, rss_mb: mib(kb('Rss')), pss_mb: mib(kb('Pss')), anon_mb: mib(kb('Anonymous')), fds };
  } catch {
    return undefined; // the process is gone: the caller counts that as a crash
  }
}

/** Median of a figure over the samples within [from_s, to_s]; NaN when there are none. */
export function medianOver(samples: Sample[], key: 'rss_mb' | 'anon_mb' | 'fds', from_s: number, to_s: number): number {
  const xs = samples.filter((s) => s.t_s >= from_s && s.t_s <= to_s).map((s) => s[key]);
  return xs.length === 0 ? NaN : median(xs);
}

function mib(kb: number): number {
  return Math.round((kb / 1024) * 10) / 10;
}
