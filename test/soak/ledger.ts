// The subscriber's side of the soak: every event id received, per boot, to count what was lost and what
// came twice; and the daemon's own count of the events its outbox accepted, from the stats topic.

export interface OutboxCounts {
  delivered: number;
  queue_length: number;
  queue_dropped: number;
}

export class EventLedger {
  /** `<device>-<boot>` → counters received (an id is `<device>-<boot>-<counter>`). */
  private readonly byBoot = new Map<string, Set<number>>();
  received = 0;
  duplicates = 0;
  malformed = 0;
  /** Latest outbox figures of the daemon process now running, and the totals of earlier processes. */
  private current: OutboxCounts = { delivered: 0, queue_length: 0, queue_dropped: 0 };
  private earlierAccepted = 0;

  event(payload: string): void {
    let id: unknown;
    try {
      id = (JSON.parse(payload) as { id?: unknown }).id;
    } catch {
      id = undefined;
    }
    const m = typeof id === 'string' ? /^(.*)-(\d+)$/.exec(id) : null;
    if (!m) {
      this.malformed += 1;
      return;
    }
    const boot = m[1]!;
    const n = Number(m[2]);
    let seen = this.byBoot.get(boot);
    if (!seen) this.byBoot.set(boot, (seen = new Set()));
    this.received += 1;
    if (seen.has(n)) this.duplicates += 1;
    else seen.add(n);
  }

  stats(mqtt: OutboxCounts): void {
    this.current = mqtt;
  }

  /** A daemon process ended (crash): what its outbox had accepted stays counted. */
  processEnded(): void {
    this.earlierAccepted += accepted(this.current);
    this.current = { delivered: 0, queue_length: 0, queue_dropped: 0 };
  }

  /** Events the daemon's outboxes accepted: from stats, or the highest counter seen where that is more. */
  published(): number {
    let byIds = 0;
    for (const seen of this.byBoot.values()) byIds += Math.max(0, ...seen);
    return Math.max(this.earlierAccepted + accepted(this.current), byIds);
  }

  distinct(): number {
    let n = 0;
    for (const seen of this.byBoot.values()) n += seen.size;
    return n;
  }

  queueEmpty(): boolean {
    return this.current.queue_length === 0;
  }
}

function accepted(c: OutboxCounts): number {
  return c.delivered + c.queue_length + c.queue_dropped;
}
