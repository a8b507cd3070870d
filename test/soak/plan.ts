// The soak's fault schedule: camera outages, broker outages (with a power cut in the middle), bursts of
// malformed commands, a wall-clock jump forward and one back, a full disk during a broker outage, a camera whose
// open wedges, and a power cut while connected; spread over the run after a warm-up, with a quiet end so that
// every outage is recovered from before the figures are taken. Seeded, so one run can be repeated.

export type FaultKind = 'camera' | 'broker' | 'commands' | 'clock_forward' | 'clock_back' | 'disk_full' | 'wedge' | 'kill';

export interface Fault {
  kind: FaultKind;
  /** Seconds from the start of the run. */
  at_s: number;
  /** How long the camera, the broker or the disk stays down, or the camera wedged (0 for the instant ones). */
  down_s: number;
}

export interface Plan {
  total_s: number;
  /** Memory and fds are first sampled once this has passed (start-up allocations are not growth). */
  warmup_s: number;
  faults: Fault[];
}

/** Outage lengths the issues ask for: camera 10-30 s, broker 30-60 s, a full disk for 30 s, a wedged camera 10-20 s. */
export const CAMERA_DOWN_S: readonly [number, number] = [10, 30];
export const BROKER_DOWN_S: readonly [number, number] = [30, 60];
export const DISK_FULL_S = 30;
export const WEDGE_S: readonly [number, number] = [10, 20];
/** Seconds of normal running between two faults. */
const GAP_S = 15;

export function faultPlan(minutes: number, seed = 1): Plan {
  if (!(minutes >= 3)) throw new Error(`soak: --minutes must be at least 3 (got ${minutes})`);
  const total_s = Math.round(minutes * 60);
  const long = minutes >= 10;
  const warmup_s = long ? 120 : 15;
  const quiet_s = long ? 60 : 20;
  const rnd = mulberry32(seed);
  // Short runs take the shortest outages (and a 10 s full disk) so that one of each fits; long ones draw from the whole range.
  const draw = ([lo, hi]: readonly [number, number]): number => (long ? Math.round(lo + rnd() * (hi - lo)) : lo);
  const gap = long ? GAP_S : 5;
  const faults: Fault[] = [];
  let t = warmup_s;
  for (;;) {
    const cycle: Fault[] = [];
    let c = t;
    const add = (kind: FaultKind, down_s: number, after = gap): void => {
      cycle.push({ kind, at_s: c, down_s });
      c += down_s + after;
    };
    add('camera', draw(CAMERA_DOWN_S));
    add('commands', 0);
    add('broker', draw(BROKER_DOWN_S), GAP_S);
    add('clock_forward', 0);
    add('disk_full', long ? DISK_FULL_S : 10, GAP_S);
    add('wedge', draw(WEDGE_S), GAP_S);
    add('clock_back', 0);
    add('kill', 0, GAP_S);
    if (c > total_s - quiet_s + GAP_S) break;
    faults.push(...cycle);
    t = c + (long ? Math.round(rnd() * 60) : 0);
  }
  return { total_s, warmup_s, faults };
}

/** A small seeded PRNG (uniform in [0, 1)). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 2 ** 32;
  };
}
