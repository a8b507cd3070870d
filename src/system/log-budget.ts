// A log-line budget for inputs someone else controls (MQTT commands): at most `burst` lines per window, so a
// misbehaving client cannot flood journald. Lines held back are counted and reported by the next one let through.

interface LogBudgetOptions {
  /** Lines let through per window. */
  burst: number;
  windowMs: number;
  now?: () => number;
}

type BudgetDecision =
  /** Log it; `suppressed` lines were held back since the last one logged. `last` = the budget is now spent. */
  { log: true; suppressed: number; last: boolean } | { log: false };

export class LogBudget {
  private windowStart = Number.NEGATIVE_INFINITY;
  private used = 0;
  private held = 0;
  private readonly now: () => number;

  constructor(private readonly opts: LogBudgetOptions) {
    this.now = opts.now ?? (() => performance.now());
  }

  /** Call once per would-be log line. */
  take(): BudgetDecision {
    const t = this.now();
    if (t - this.windowStart >= this.opts.windowMs) {
      this.windowStart = t;
      this.used = 0;
    }
    if (this.used >= this.opts.burst) {
      this.held += 1;
      return { log: false };
    }
    this.used += 1;
    const suppressed = this.held;
    this.held = 0;
    return { log: true, suppressed, last: this.used === this.opts.burst };
  }
}
