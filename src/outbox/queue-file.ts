// The outbox's file: an append-only log, so that a long broker outage writes each event about once instead of
// the whole queue every second (SD cards wear by the bytes written). Each line is one event payload (JSON), or
// a marker {"$live":[[from,to],...]} saying which event lines above it (0-based, half-open ranges) are still
// undelivered; event lines after the last marker are all undelivered. Markers are appended only when events
// already in the file were delivered or dropped. When the dead part outgrows the live part (and
// COMPACT_MIN_BYTES), when the outbox asks for it (a delivered event is about to be older than its compactAfterMs),
// and at start and clean stop, the file is rewritten with the live events only (temp file, fsync, rename). Appends are written at once and synced (fdatasync) at most a second later, one sync
// for all of them, beside the next appends. A file without markers (older versions) reads the same.
// A full file system (ENOSPC, EDQUOT: a small SD card) leaves the file as it was before the failed write (an
// append cut short is truncated away, a temp file removed): the events stay in memory (up to mqtt.queue_max), said
// once, and the file is written again once statfs shows room for it.
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
const COMPACT_MIN_BYTES = 64 * 1024;
/** Appends reach the card (fdatasync) at most this long after they were written to the file. */
const SYNC_DELAY_MS = 1000;
/** After the file system was full, a write is tried again once this much more than the queue is free. */
const DISK_FULL_MARGIN = 64 * 1024;

function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

type Ranges = Array<[number, number]>;

/** A compaction writes `<file>.tmp-<pid>` and renames it over the file. */
const TEMP_INFIX = '.tmp-';

interface ParsedQueue {
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
  /** The fdatasync of appended lines in flight, and the timer of the next. */
  private syncing: Promise<void> = Promise.resolve();
  private syncTimer: NodeJS.Timeout | undefined;
  /** Since when (monotonic ms) the file system has been full; null while writes succeed. */
  private fullSinceMs: number | null = null;
  /** Milliseconds of earlier full periods. */
  private fullMs = 0;

  /** Times the file was rewritten with the live events only, or removed (no dead line left after either). */
  rewrites = 0;

  constructor(private readonly deps: { file: string; logger: Logger }) {}

  /** The last write found the file system full: undelivered events are in memory only. */
  get diskFull(): boolean {
    return this.fullSinceMs !== null;
  }

  /** Seconds the file system was full since start. */
  diskFullSeconds(nowMs = performance.now()): number {
    return Math.round((this.fullMs + (this.fullSinceMs === null ? 0 : nowMs - this.fullSinceMs)) / 100) / 10;
  }

  /** Reads the file left by a previous run; a missing file is an empty queue. Warns about what it skips. */
  read(): string[] {
    const { file, logger } = this.deps;
    this.removeTemps();
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
    // While the file system is full nothing is tried (no wear, no log line) until statfs shows room again.
    if (this.fullSinceMs !== null && !(await this.roomFor(live))) return;
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
      const { bytesWritten } = await handle.write(buf);
      // A short write is the file system filling up mid-line.
      if (bytesWritten < buf.length) throw Object.assign(new Error(`wrote ${bytesWritten} of ${buf.length} bytes`), { code: 'ENOSPC' });
      this.bytes += buf.length;
      // In the page cache now: a process that is killed loses none of it. The fdatasync that makes it survive a
      // power cut follows within SYNC_DELAY_MS, one for all the appends meanwhile (each fdatasync rewrites the
      // file's last page on the card), and appends never wait for it.
      this.syncSoon(handle);
    });
  }

  private syncSoon(handle: fs.promises.FileHandle): void {
    if (this.syncTimer) return;
    this.syncTimer = setTimeout(() => void this.syncNow(handle), SYNC_DELAY_MS);
    this.syncTimer.unref();
  }

  /** One fdatasync of the appends so far, after the one in flight. */
  private syncNow(handle: fs.promises.FileHandle): Promise<void> {
    clearTimeout(this.syncTimer);
    this.syncTimer = undefined;
    this.syncing = this.syncing.then(async () => {
      if (this.handle !== handle) return; // rewritten or closed meanwhile (a rewrite syncs its own file)
      try {
        await handle.datasync();
      } catch (err) {
        if (this.handle !== handle) return;
        // What the card did not take is unknown: the next flush rewrites the file from memory.
        this.failed(err);
        this.handle = undefined;
        await handle.close().catch(() => undefined);
      }
    });
    return this.syncing;
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
    const tmp = `${file}${TEMP_INFIX}${process.pid}`;
    try {
      await fs.promises.mkdir(path.dirname(file), { recursive: true });
      const out = await fs.promises.open(tmp, 'w', 0o600);
      try {
        const { bytesWritten } = await out.write(buf);
        if (bytesWritten < buf.length) throw Object.assign(new Error(`wrote ${bytesWritten} of ${buf.length} bytes`), { code: 'ENOSPC' });
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
      this.writable(live.length);
    } catch (err) {
      // The file as it was stays; a partial temp file would only take space (and, on a full disk, keep it full).
      await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
      this.failed(err);
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

  /**
   * Runs an append. On failure what it may have added is cut off again (the file stays as it was: truncating
   * needs no space), and the next flush rewrites the whole file.
   */
  private async guard(fn: (handle: fs.promises.FileHandle) => Promise<void>): Promise<void> {
    const handle = this.handle;
    if (!handle) return;
    try {
      await fn(handle);
    } catch (err) {
      try {
        await handle.truncate(this.bytes);
        await handle.datasync();
      } catch (cut) {
        this.deps.logger.warn({ err: cut, file: this.deps.file }, 'queue file: a failed append could not be cut off; it is skipped when read');
      }
      this.failed(err);
      await this.closeHandle();
    }
  }

  /** A write failed: a full file system is said once (until space returns); anything else every time. */
  private failed(err: unknown): void {
    const { file, logger } = this.deps;
    if (!isDiskFull(err)) {
      logger.warn({ err, file }, 'queue file cannot be written');
      return;
    }
    if (this.fullSinceMs !== null) return;
    this.fullSinceMs = performance.now();
    logger.warn(
      { code: 'EMD_DISK_FULL', file, error: (err as Error).message },
      'the file system of the state directory is full: undelivered events are kept in memory only (up to mqtt.queue_max, the oldest dropped and counted) until space returns; the queue file keeps what it had',
    );
  }

  /** A write succeeded: after a full period, say that the file is written again. */
  private writable(queued: number): void {
    if (this.fullSinceMs === null) return;
    const fullS = Math.round((performance.now() - this.fullSinceMs) / 100) / 10;
    this.fullMs += performance.now() - this.fullSinceMs;
    this.fullSinceMs = null;
    this.deps.logger.info({ file: this.deps.file, full_s: fullS, queued }, 'the state directory has space again: the queue file is written again');
  }

  /** Whether the file system has room for the queue (and a margin); true when that cannot be told. */
  private async roomFor(live: FileEntry[]): Promise<boolean> {
    let bytes = DISK_FULL_MARGIN;
    for (const e of live) bytes += Buffer.byteLength(e.payload) + 1;
    try {
      const st = await fs.promises.statfs(path.dirname(this.deps.file));
      return st.bavail * st.bsize >= bytes;
    } catch {
      return true;
    }
  }

  /** Temp files of compactions cut short by a crash or power loss (any process's): taken space, nothing else. */
  private removeTemps(): void {
    const dir = path.dirname(this.deps.file);
    const prefix = `${path.basename(this.deps.file)}${TEMP_INFIX}`;
    let names: string[] = [];
    try {
      names = fs.readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      try {
        fs.rmSync(path.join(dir, name), { force: true });
        this.deps.logger.info({ file: path.join(dir, name) }, 'removed the temp file of an interrupted queue file rewrite');
      } catch {
        // not ours to remove
      }
    }
  }

  private async closeHandle(): Promise<void> {
    const handle = this.handle;
    if (handle && this.syncTimer) await this.syncNow(handle); // appends not yet synced are, before it closes
    this.handle = undefined;
    await this.syncing; // an fdatasync in flight on it finishes first
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
