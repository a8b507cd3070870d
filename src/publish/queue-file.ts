// The outbox's file: an append-only log, so that a long broker outage writes each event about once instead of
// the whole queue every second (SD cards wear by the bytes written). Each line is one event payload (JSON), or
// a marker {"$live":[[from,to],...]} saying which event lines above it (0-based, half-open ranges) are still
// undelivered; event lines after the last marker are all undelivered. Markers are appended only when events
// already in the file were delivered or dropped. When the dead part outgrows the live part (and
// COMPACT_MIN_BYTES), and at start and clean stop, the file is rewritten with the live events only
// (temp file, fsync, rename), and when the outbox asks for it (a delivered event is about to be older than its
// compactAfterMs). One fdatasync per flush. A file without markers (older versions) reads the same.
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from '../system/logger.js';

/** A queued event as the file sees it. */
export interface FileEntry {
  readonly payload: string;
  /** Its event line in the file, -1 while it is not written. */
  line: number;
  /** Bytes of its line (payload and newline) once written. */
  size: number;
}

/** Below this much dead data the file is not rewritten (a rename and a directory fsync are writes too). */
export const COMPACT_MIN_BYTES = 64 * 1024;

type Ranges = Array<[number, number]>;

export interface ParsedQueue {
  /** Undelivered payloads, oldest first. */
  live: string[];
  /** Lines that are neither JSON nor a valid marker. */
  bad: number;
  /** The last line had no newline: a write cut short by a crash or power loss. */
  torn: boolean;
}

function isMarker(value: unknown): value is { $live: Ranges } {
  if (typeof value !== 'object' || value === null || !('$live' in value)) return false;
  const ranges = (value as { $live: unknown }).$live;
  return Array.isArray(ranges) && ranges.every((r) => Array.isArray(r) && r.length === 2 && r.every((n) => Number.isInteger(n) && (n as number) >= 0));
}

/** Reads the text of a queue file (either format). */
export function parseQueue(text: string): ParsedQueue {
  const lines = text.split('\n');
  const last = lines.pop() ?? '';
  const torn = last.trim() !== '';
  const events: string[] = [];
  let marker: { ranges: Ranges; at: number } | undefined;
  let bad = 0;
  for (const line of lines) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      bad += 1;
      continue;
    }
    if (isMarker(value)) marker = { ranges: value.$live, at: events.length };
    else if (typeof value === 'object' && value !== null && '$live' in value) bad += 1;
    else events.push(line);
  }
  const live = marker === undefined ? events : events.filter((_, i) => i >= marker.at || marker.ranges.some(([from, to]) => i >= from && i < to));
  return { live, bad, torn };
}

/** Runs of consecutive line numbers as half-open ranges. */
function toRanges(lines: number[]): Ranges {
  const ranges: Ranges = [];
  for (const n of lines) {
    const lastRange = ranges.at(-1);
    if (lastRange && lastRange[1] === n) lastRange[1] = n + 1;
    else ranges.push([n, n + 1]);
  }
  return ranges;
}

export class QueueFile {
  /** Open for appending after a compaction; undefined = the next flush compacts (start, or after an error). */
  private handle: fs.promises.FileHandle | undefined;
  /** Event lines in the file. */
  private lines = 0;
  /** Bytes in the file. */
  private bytes = 0;
  /** Dead event lines the last marker (or compaction) accounts for. */
  private deadMarked = 0;
  /** Times the file was rewritten with the live events only, or removed (no dead line left after either). */
  rewrites = 0;

  constructor(private readonly deps: { file: string; logger: Logger }) {}

  /** Reads the file left by a previous run; a missing file is an empty queue. Warns about what it skips. */
  read(): string[] {
    const { file, logger } = this.deps;
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') logger.warn({ err, file }, 'queue file cannot be read; starting empty');
      return [];
    }
    const parsed = parseQueue(text);
    if (parsed.torn) logger.warn({ file }, 'queue file: the last line is incomplete (cut off by a crash or power loss); skipped');
    if (parsed.bad > 0) logger.warn({ file, bad: parsed.bad }, 'queue file had lines that are not JSON; skipped');
    return parsed.live;
  }

  /** Brings the file up to `live` (every undelivered event, oldest first): appends, or rewrites when due or `rewrite`. */
  async sync(live: FileEntry[], rewrite = false): Promise<void> {
    if (live.length === 0) return this.remove();
    let liveBytes = 0;
    let writtenLive = 0;
    for (const e of live) {
      if (e.line < 0) continue;
      liveBytes += e.size;
      writtenLive += 1;
    }
    const dead = this.lines - writtenLive;
    if (this.handle === undefined || (rewrite && dead > 0) || this.bytes - liveBytes > Math.max(liveBytes, COMPACT_MIN_BYTES)) return this.compact(live);
    const fresh = live.filter((e) => e.line < 0);
    if (fresh.length === 0 && dead === this.deadMarked) return;
    let text = '';
    for (const e of fresh) {
      e.line = this.lines++;
      e.size = Buffer.byteLength(e.payload) + 1;
      text += `${e.payload}\n`;
    }
    if (dead > this.deadMarked) {
      text += `${JSON.stringify({ $live: toRanges(live.map((e) => e.line).sort((a, b) => a - b)) })}\n`;
      this.deadMarked = dead;
    }
    await this.guard(async (handle) => {
      const buf = Buffer.from(text);
      await handle.write(buf);
      this.bytes += buf.length;
      await handle.datasync();
    });
  }

  /** Rewrites the file with the live events only (also what a clean stop does when there is dead data). */
  async compact(live: FileEntry[]): Promise<void> {
    if (live.length === 0) return this.remove();
    const { file } = this.deps;
    const buf = Buffer.from(live.map((e) => `${e.payload}\n`).join(''));
    live.forEach((e, i) => {
      e.line = i;
      e.size = Buffer.byteLength(e.payload) + 1;
    });
    await this.closeHandle();
    try {
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      const tmp = `${file}.tmp-${process.pid}`;
      const out = await fs.promises.open(tmp, 'w', 0o600);
      try {
        await out.write(buf);
        await out.datasync();
      } finally {
        await out.close();
      }
      await fs.promises.rename(tmp, file);
      await syncDir(path.dirname(file));
      this.handle = await fs.promises.open(file, 'a', 0o600);
      this.lines = live.length;
      this.bytes = buf.length;
      this.deadMarked = 0;
      this.rewrites += 1;
    } catch (err) {
      this.deps.logger.warn({ err, file }, 'queue file cannot be written');
    }
  }

  /** True when the file may hold lines that are no longer queued (call after sync). */
  hasDead(liveCount: number): boolean {
    return this.handle === undefined || this.lines > liveCount;
  }

  async close(): Promise<void> {
    await this.closeHandle();
  }

  private async remove(): Promise<void> {
    if (this.handle === undefined && this.lines === 0 && !fs.existsSync(this.deps.file)) {
      this.rewrites += 1;
      return;
    }
    await this.closeHandle();
    this.lines = 0;
    this.bytes = 0;
    this.deadMarked = 0;
    try {
      await fs.promises.rm(this.deps.file, { force: true });
      this.rewrites += 1;
    } catch (err) {
      this.deps.logger.warn({ err, file: this.deps.file }, 'queue file cannot be removed');
    }
  }

  /** Runs an append; on failure the next flush rewrites the whole file (its line count is unknown now). */
  private async guard(fn: (handle: fs.promises.FileHandle) => Promise<void>): Promise<void> {
    try {
      if (this.handle) await fn(this.handle);
    } catch (err) {
      this.deps.logger.warn({ err, file: this.deps.file }, 'queue file cannot be written');
      await this.closeHandle();
    }
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close().catch(() => undefined);
  }
}

/** A rename is durable once its directory is synced (else a power cut may bring the old file back). */
async function syncDir(dir: string): Promise<void> {
  const handle = await fs.promises.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
