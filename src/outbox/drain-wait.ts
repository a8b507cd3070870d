// A connection's backpressure as its senders see it (the events' delivery, the retained state): whether it holds
// more unsent bytes than it should, and one call once it has drained or closed. DrainWait asks for that call once,
// however often its sender finds the connection congested before it comes.

export interface Backpressure {
  /** The connection holds more unsent bytes than its high-water mark (a slow link or broker). */
  congested(): boolean;
  /** Calls `fn` once, when the congested connection has drained or closed. */
  whenDrained(fn: () => void): void;
}

export class DrainWait {
  private waiting = false;

  /** `resume`: what to do once the connection drained (or closed). Without `flow` the connection is never congested. */
  constructor(
    private readonly flow: Backpressure | undefined,
    private readonly resume: () => void,
  ) {}

  get congested(): boolean {
    return this.flow?.congested() ?? false;
  }

  /** Calls `resume` once the connection drains; a wait already under way is not asked for again. */
  ask(): void {
    if (this.waiting || !this.flow) return;
    this.waiting = true;
    this.flow.whenDrained(() => {
      this.waiting = false;
      this.resume();
    });
  }
}
