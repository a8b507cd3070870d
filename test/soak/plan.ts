// The soak's fault schedule: camera outages, broker outages and bursts of malformed commands, spread over
// the run after a warm-up, with a quiet end so that every outage is recovered from before the figures are
// taken. Seeded, so one run can be repeated.

export type FaultKind = 'camera' | 'broker' | 'commands';

export interface Fault {
  kind: FaultKind;
  /** Seconds from the start of the run. */
  at_s: number;
  /** How long the camera or the broker stays down (0 for a command burst). */
  down_s: number;
}

export interface Plan {
  total_s: number;
  /** Memory and fds are first sampled once this has passed (start-up allocations are not growth). */
  warmup_s: number;
  faults: Fault[];
}

/** Outage lengths the issue asks for: camera 10-30 s, broker 30-60 s. */
export const CAMERA_DOWN_S: readonly [number, number] = [10, 30];
export const BROKER_DOWN_S: readonly [number, number] = [30, 60];
/** Seconds of normal running between two faults. */
const GAP_S = 15;

export function faultPlan(minutes: number, seed = 1): Plan {
  if (!(minutes >= 2)) throw new Error(`soak: --minutes must be at least 2 (got ${minutes})`);
  const total_s = Math.round(minutes * 60);
  const long = minutes >= 10;
  const warmup_s = long ? 120 : 15;
  const quiet_s = long ? 60 : 20;
  const rnd = mulberry32(seed);
  // Short runs take the shortest outages so that one of each fits; long ones draw from the whole range.
  const draw = ([lo, hi]: readonly [number, number]): number => (long ? Math.round(lo + rnd() * (hi - lo)) : lo);
  const faults: Fault[] = [];
  let t = warmup_s;
  for (;;) {
    const cycle: Fault[] = [];
    let c = t;
    const cam = draw(CAMERA_DOWN_S);
    cycle.push({ kind: 'camera', at_s: c, down_s: cam });
    c += cam + (long ? GAP_S : 5);
    cycle.push({ kind: 'commands', at_s: c, down_s: 0 });
    c += long ? GAP_S : 5;
    const broker = draw(BROKER_DOWN_S);
    cycle.push({ kind: 'broker', at_s: c, down_s: broker });
    c += broker + GAP_S;
    if (c > total_s - quiet_s + GAP_S) break;
    faults.push(...cycle);
    t = c + (long ? Math.round(rnd() * 60) : 0);
  }
  return { total_s, warmup_s, faults };
}

/** A small seeded PRNG (uniform in [0, 1)). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 2 ** 32;
  };
}
