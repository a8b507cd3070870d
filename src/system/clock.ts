// Two clocks. The monotonic clock (CLOCK_MONOTONIC, read through performance.now(): NTP never steps it) times
// every duration, rate, expiry, hold, window and timeout. The wall clock (Date.now()) only stamps messages, and
// is read when each is made. A Raspberry Pi has no real-time clock: it boots with the time fake-hwclock saved at
// the last shutdown and jumps, often by hours or days, when NTP syncs. ClockWatch notices such a jump.

/** Milliseconds on the monotonic clock (from process start; comparable within this process only). */
export function monotonicMs(): number {
  return performance.now();
}

export interface Clock {
  /** Monotonic milliseconds: what durations are measured on. */
  mono(): number;
  /** Wall milliseconds since the epoch: what messages are stamped with. */
  wall(): number;
}

export const systemClock: Clock = { mono: monotonicMs, wall: () => Date.now() };

/**
 * The pipeline's frame clock. Live sources run on the monotonic clock, and a message made for a frame is stamped
 * with the wall clock as it reads when the message is made. Files run on media time (frame n at the start plus
 * n periods, on the same scale), so that a file gives the same timings however fast it is read; their messages
 * are stamped with that media time on the wall scale of the start, as before.
 */
export class FrameClock {
  private readonly wallOffsetMs: number;

  constructor(
    /** Media time (files) instead of the monotonic clock (cameras and streams). */
    readonly media: boolean,
    private readonly clock: Clock = systemClock,
  ) {
    this.wallOffsetMs = clock.wall() - clock.mono();
  }

  /** The frame clock now (monotonic milliseconds). */
  now(): number {
    return this.clock.mono();
  }

  /** The wall time (ms since the epoch) that stamps a message made for the frame at `frameMs`. */
  wall(frameMs: number): number {
    return this.media ? frameMs + this.wallOffsetMs : this.clock.wall();
  }
}

/** A jump of the wall clock against the monotonic clock larger than this is reported (NTP slews smaller errors). */
const CLOCK_JUMP_MS = 5000;

interface ClockWatchDeps {
  clock?: Clock;
  thresholdMs?: number;
  /** Called once per jump with its size (positive: the wall clock went forward). */
  onJump: (jumpMs: number) => void;
}

/** Notices steps of the wall clock (NTP's first sync on a Pi, a manual `date -s`); its owner calls check() once a second. */
export class ClockWatch {
  private offsetMs: number;

  constructor(private readonly deps: ClockWatchDeps) {
    this.offsetMs = this.offsetNow();
  }

  /** Compares the two clocks now; returns the jump (ms) when there was one since the last check. */
  check(): number | null {
    const offset = this.offsetNow();
    const jump = offset - this.offsetMs;
    // Against the last check, not the start: slow drift and NTP's slewing never add up to a jump.
    this.offsetMs = offset;
    if (Math.abs(jump) <= (this.deps.thresholdMs ?? CLOCK_JUMP_MS)) return null;
    this.deps.onJump(jump);
    return jump;
  }

  private offsetNow(): number {
    const clock = this.deps.clock ?? systemClock;
    return clock.wall() - clock.mono();
  }
}
