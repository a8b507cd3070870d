// The event outbox: events wait here until the broker acknowledged them, in order, bounded.
// Past `max` the oldest waiting event is dropped and counted. With a file, what is left survives a restart:
// changes are flushed to an append-only log (queue-file.ts) at most once per persistDelayMs. An event the
// broker acknowledged stays in the file at most compactAfterMs as a dead line: the file is rewritten by then.
import type { Logger } from '../system/logger.js';
import { QueueFile, type FileEntry } from './queue-file.js';

interface OutboxItem {
  readonly seq: number;
  readonly payload: string;
}

interface Entry extends OutboxItem, FileEntry {}

interface OutboxDeps {
  max: number;
  /** Absolute path of the queue file; undefined keeps the queue in memory only. */
  file?: string;
  logger: Logger;
  /** Longest time a change waits before it is written to the file (default 1000 ms). */
  persistDelayMs?: number;
  /** Longest time a delivered event stays in the file (as a dead line) before it is rewritten (default 60 s). */
  compactAfterMs?: number;
}

/** Delivered events leave the queue file within this long (outbox.compactAfterMs). */
const COMPACT_AFTER_MS = 60_000;
/** How often a full file system is checked for room again. */
const DISK_FULL_RETRY_MS = 2000;

export class Outbox {
  private pending: Entry[] = [];
  private head = 0;
  private readonly inflight = new Map<number, Entry>();
  private nextSeq = 1;
  private persistTimer: NodeJS.Timeout | undefined;
  private compactTimer: NodeJS.Timeout | undefined;
  /** close() ran: no more timed flushes. */
  private closed = false;
  /** Since when (monotonic ms) the file holds a delivered event (undefined: none since its last rewrite). */
  private deliveredInFileSinceMs: number | undefined;
  private lastDeliveredInFileMs = 0;
  private writing: Promise<void> = Promise.resolve();
  private readonly queueFile: QueueFile | undefined;
  /** Events dropped because the queue was full. */
  dropped = 0;
  /** Events the broker acknowledged. */
  delivered = 0;

  /** The state directory's file system is full: events are kept in memory only until it has room. */
  get diskFull(): boolean {
    return this.queueFile?.diskFull ?? false;
  }

  /** Seconds the state directory's file system was full since start. */
  diskFullSeconds(): number {
    return this.queueFile?.diskFullSeconds() ?? 0;
  }

  constructor(private readonly deps: OutboxDeps) {
    this.queueFile = deps.file === undefined ? undefined : new QueueFile({ file: deps.file, logger: deps.logger });
  }

  /** Events not yet acknowledged (waiting plus in flight). */
  get length(): number {
    return this.pendingCount + this.inflight.size;
  }

  get pendingCount(): number {
    return this.pending.length - this.head;
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  /**
   * Read the queue file left by a previous run (missing file = empty; lines that are not JSON and a torn last
   * line are skipped with a warning). Call before the first flush; the file is rewritten clean soon after.
   * Events `keep` refuses are discarded (privacy.per_face turned off since they were queued).
   */
  load(keep: (payload: string) => boolean = () => true): number {
    if (this.queueFile === undefined) return 0;
    const read = this.queueFile.read();
    const payloads = read.filter(keep);
    if (payloads.length < read.length) {
      this.deps.logger.info(
        { file: this.deps.file, discarded: read.length - payloads.length },
        'discarded undelivered events from the queue file that may no longer leave the device',
      );
      this.schedulePersist();
    }
    // The file's events are older than any pushed before load(): they go first (nothing is in flight yet).
    const newer = this.pending.slice(this.head).map((i) => i.payload);
    this.pending = [];
    this.head = 0;
    for (const payload of payloads) this.push(payload, false);
    for (const payload of newer) this.push(payload, false);
    if (payloads.length > 0) {
      this.deps.logger.info({ file: this.deps.file, loaded: payloads.length, kept: this.length }, 'loaded undelivered events from the queue file');
      this.schedulePersist();
    }
    return payloads.length;
  }

  /** Queue one event payload; drops the oldest waiting event when full. */
  push(payload: string, persist = true): void {
    if (this.length >= this.deps.max && this.pendingCount > 0) {
      this.head += 1;
      this.dropped += 1;
      this.compact();
    }
    this.pending.push({ seq: this.nextSeq++, payload, line: -1, size: 0 });
    if (persist) this.schedulePersist();
  }

  /** Move up to `n` waiting events, oldest first, to in flight. */
  take(n: number): OutboxItem[] {
    const count = Math.min(n, this.pendingCount);
    const items = this.pending.slice(this.head, this.head + count);
    this.head += count;
    this.compact();
    for (const item of items) this.inflight.set(item.seq, item);
    return items;
  }

  /** The broker acknowledged the event. */
  ack(item: OutboxItem): void {
    const entry = this.inflight.get(item.seq);
    if (entry && this.inflight.delete(item.seq)) {
      this.delivered += 1;
      if (entry.line >= 0) {
        this.lastDeliveredInFileMs = performance.now();
        this.deliveredInFileSinceMs ??= this.lastDeliveredInFileMs;
        this.schedulePersist();
        this.scheduleCompaction();
      }
    }
  }

  /** The client gave the event up without sending it: it waits again, in its place. */
  release(item: OutboxItem): void {
    const entry = this.inflight.get(item.seq);
    if (!entry || !this.inflight.delete(item.seq)) return;
    // In place: an outage gives up every event in flight, one call each, and the waiting queue may be long.
    let at = this.head;
    while (at < this.pending.length && this.pending[at]!.seq < item.seq) at += 1;
    this.pending.splice(at, 0, entry);
  }

  /** Every unacknowledged payload, oldest first. */
  snapshot(): string[] {
    return this.live().map((i) => i.payload);
  }

  /** Every unacknowledged entry: in flight first (sent first after a restart), then waiting. */
  private live(): Entry[] {
    const inflight = [...this.inflight.values()].sort((a, b) => a.seq - b.seq);
    return [...inflight, ...this.pending.slice(this.head)];
  }

  /**
   * Write the file on the next turn of the event loop instead of within persistDelayMs: while the broker is
   * away nothing will be acknowledged meanwhile, and a power cut would lose what the delay holds back.
   */
  persistSoon(): void {
    if (this.persistTimer) clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    this.schedulePersist(0);
  }

  /** Flush to the file now (no-op without a file); resolves when written. */
  async persist(): Promise<void> {
    if (this.persistTimer) clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    return this.flush();
  }

  /** Stop the timer, write what is left and compact the file to the queued events only. */
  async close(): Promise<void> {
    clearTimeout(this.compactTimer);
    this.compactTimer = undefined;
    await this.persist();
    this.closed = true;
    if (this.persistTimer) clearTimeout(this.persistTimer);
    const file = this.queueFile;
    if (file === undefined) return;
    this.writing = this.writing.then(async () => {
      const live = this.live();
      if (file.hasDead(live.length)) await file.compact(live);
      await file.close();
    });
    return this.writing;
  }

  private flush(): Promise<void> {
    const file = this.queueFile;
    if (file === undefined) return this.writing;
    // Serialised: the entries are read when this write starts, so changes made meanwhile go in the next one.
    // While the file system is full the file is looked at again every few seconds (a statfs) for room.
    this.writing = this.writing.then(async () => {
      const startedMs = performance.now();
      const since = this.deliveredInFileSinceMs;
      const rewrites = file.rewrites;
      await file.sync(this.live(), since !== undefined && startedMs - since >= this.compactAfterMs);
      if (file.diskFull) this.schedulePersist(DISK_FULL_RETRY_MS);
      // Rewritten with the live events only: what was delivered before it started is gone from the file.
      if (file.rewrites !== rewrites) this.deliveredInFileSinceMs = this.lastDeliveredInFileMs > startedMs ? startedMs : undefined;
      // Still a delivered event in the file (not rewritten: not due yet, or the disk is full): look again when due.
      if (this.deliveredInFileSinceMs !== undefined) this.scheduleCompaction();
    });
    return this.writing;
  }

  private get compactAfterMs(): number {
    return this.deps.compactAfterMs ?? COMPACT_AFTER_MS;
  }

  /** A flush that rewrites the file once the oldest delivered event in it is compactAfterMs old. */
  private scheduleCompaction(): void {
    if (this.queueFile === undefined || this.compactTimer || this.closed || this.deliveredInFileSinceMs === undefined) return;
    // Rounded up: a timer may fire up to a millisecond before its fractional delay is over.
    const wait = Math.max(0, Math.ceil(this.deliveredInFileSinceMs + this.compactAfterMs - performance.now()) + 1);
    this.compactTimer = setTimeout(() => {
      this.compactTimer = undefined;
      void this.flush();
    }, wait);
    this.compactTimer.unref();
  }

  private schedulePersist(delayMs = this.deps.persistDelayMs ?? 1000): void {
    if (this.queueFile === undefined || this.persistTimer || this.closed) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = undefined;
      void this.flush();
    }, delayMs);
    this.persistTimer.unref();
  }

  /** Drop consumed slots once they are most of the array, so a long outage does not keep dead entries. */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }
}
