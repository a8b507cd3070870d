// Once a second: the wall clock against the monotonic one (a step is said once, with its size), and which stages
// make no progress (said once when they stop, once when they all go again). What it finds is counted in the stats.
import type { Logger } from '../system/logger.js';
import { ClockWatch } from '../system/clock.js';
import { PROGRESS_WINDOW_MS, type PipelineStats, type Stage } from '../system/stats.js';

interface HealthWatchDeps {
  stats: PipelineStats;
  /** While paused no stage is expected to make progress. */
  paused: () => boolean;
  logger: Logger;
}

export class HealthWatch {
  private timer?: NodeJS.Timeout;
  private readonly clockWatch: ClockWatch;
  private stalledShown: Stage[] = [];

  constructor(private readonly deps: HealthWatchDeps) {
    this.clockWatch = new ClockWatch({ onJump: (ms) => this.clockJumped(ms) });
  }

  start(): void {
    this.timer ??= setInterval(() => this.check(), 1000);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    const { stats, logger } = this.deps;
    this.clockWatch.check();
    const stalled = this.deps.paused() ? [] : stats.stalled();
    const fresh = stalled.filter((s) => !this.stalledShown.includes(s));
    if (fresh.length > 0)
      logger.warn(
        { stalled, source_failed: stats.sourceFailed },
        `no progress for ${PROGRESS_WINDOW_MS / 1000} s in: ${stalled.join(', ')}; /healthz fails and the watchdog is not fed`,
      );
    else if (stalled.length === 0 && this.stalledShown.length > 0) logger.info({ recovered: this.stalledShown }, 'every stage makes progress again');
    this.stalledShown = stalled;
  }

  /** A step of the wall clock: said once, with its size; durations and tracks are not touched (monotonic). */
  private clockJumped(jumpMs: number): void {
    const { stats, logger } = this.deps;
    stats.clockJumps += 1;
    stats.clockJumpLastS = Math.round(jumpMs / 100) / 10;
    logger.warn(
      { jump_s: stats.clockJumpLastS, now: new Date().toISOString() },
      `the wall clock jumped ${jumpMs > 0 ? 'forward' : 'back'} by ${describeSeconds(Math.abs(jumpMs) / 1000)} (NTP sync or a manual change): events are stamped with the new time; durations, tracks and timers run on the monotonic clock and are unaffected`,
    );
  }
}

function describeSeconds(s: number): string {
  if (s >= 3600) return `${Math.round(s / 360) / 10} h`;
  if (s >= 60) return `${Math.round(s / 6) / 10} min`;
  return `${Math.round(s * 10) / 10} s`;
}
