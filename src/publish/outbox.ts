// The event outbox: events wait here until the broker acknowledged them, in order, bounded.
// Past `max` the oldest waiting event is dropped and counted. With a file, what is left survives a restart:
// the file holds one event payload per line and is replaced atomically (write a temp file, fsync, rename).
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../system/logger.js';

export interface OutboxItem {
  readonly seq: number;
  readonly payload: string;
}

export interface OutboxDeps {
  max: number;
  /** Absolute path of the queue file; undefined keeps the queue in memory only. */
  file?: string;
  logger: Logger;
  /** Longest time a change waits before it is written to the file (default 1000 ms). */
  persistDelayMs?: number;
}

export class Outbox {
  private pending: OutboxItem[] = [];
  private head = 0;
  private readonly inflight = new Map<number, OutboxItem>();
  private nextSeq = 1;
  private persistTimer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private dirty = false;
  /** Events dropped because the queue was full. */
  dropped = 0;
  /** Events the broker acknowledged. */
  delivered = 0;

  constructor(private readonly deps: OutboxDeps) {}

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

  /** Read the queue file left by a previous run (missing file = empty). Lines that are not JSON are skipped. */
  load(): number {
    const file = this.deps.file;
    if (file === undefined) return 0;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.deps.logger.warn({ err, file }, 'queue file cannot be read; starting empty');
      return 0;
    }
    let loaded = 0;
    let bad = 0;
    // The file's events are older than any pushed before load(): they go first (nothing is in flight yet).
    const newer = this.pending.slice(this.head).map((i) => i.payload);
    this.pending = [];
    this.head = 0;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      try {
        JSON.parse(line);
      } catch {
        bad += 1;
        continue;
      }
      this.push(line, false);
      loaded += 1;
    }
    for (const payload of newer) this.push(payload, false);
    if (bad > 0) this.deps.logger.warn({ file, bad }, 'queue file had lines that are not JSON; skipped');
    if (loaded > 0) this.deps.logger.info({ file, loaded, kept: this.length }, 'loaded undelivered events from the queue file');
    return loaded;
  }

  /** Queue one event payload; drops the oldest waiting event when full. */
  push(payload: string, persist = true): void {
    if (this.length >= this.deps.max && this.pendingCount > 0) {
      this.head += 1;
      this.dropped += 1;
      this.compact();
    }
    this.pending.push({ seq: this.nextSeq++, payload });
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
    if (this.inflight.delete(item.seq)) {
      this.delivered += 1;
      this.schedulePersist();
    }
  }

  /** The client gave the event up without sending it: it waits again, in its place. */
  release(item: OutboxItem): void {
    if (!this.inflight.delete(item.seq)) return;
    const waiting = this.pending.slice(this.head);
    let at = 0;
    while (at < waiting.length && waiting[at]!.seq < item.seq) at += 1;
    waiting.splice(at, 0, item);
    this.pending = waiting;
    this.head = 0;
  }

  /** Every unacknowledged payload, oldest first. */
  snapshot(): string[] {
    const inflight = [...this.inflight.values()].sort((a, b) => a.seq - b.seq);
    return [...inflight, ...this.pending.slice(this.head)].map((i) => i.payload);
  }

  /** Write the file now (no-op without a file); resolves when written. */
  async persist(): Promise<void> {
    if (this.persistTimer) clearTimeout(this.persistTimer);
    this.persistTimer = undefined;
    this.dirty = true;
    this.writing = this.writing.then(() => this.writeFile());
    return this.writing;
  }

  /** Stop the timer and write what is left. */
  async close(): Promise<void> {
    await this.persist();
  }

  private schedulePersist(): void {
    if (this.deps.file === undefined) return;
    this.dirty = true;
    if (this.persistTimer) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = undefined;
      this.writing = this.writing.then(() => this.writeFile());
    }, this.deps.persistDelayMs ?? 1000);
    this.persistTimer.unref();
  }

  private async writeFile(): Promise<void> {
    const file = this.deps.file;
    if (file === undefined || !this.dirty) return;
    this.dirty = false;
    const lines = this.snapshot();
    try {
      if (lines.length === 0) {
        await fs.promises.rm(file, { force: true });
        return;
      }
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.tmp-${process.pid}`;
      const handle = await fs.promises.open(tmp, 'w', 0o600);
      try {
        await handle.writeFile(lines.join('\n') + '\n', 'utf8');
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await fs.promises.rename(tmp, file);
    } catch (err) {
      this.dirty = true;
      this.deps.logger.warn({ err, file }, 'queue file cannot be written');
    }
  }

  /** Drop consumed slots once they are most of the array, so a long outage does not keep dead entries. */
  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }
}
