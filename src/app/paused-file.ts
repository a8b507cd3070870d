// The pause survives a restart: a crash, the watchdog, a reboot or an update must not turn recognition back on
// by itself. `emotiond run` keeps it in system.state_dir (paused.json), written durably on every change and
// read before the camera starts. It is the only state a command sets (reset_tracks is an action; the rest
// are reads).
import fs from 'node:fs';
import path from 'node:path';
import { fileReason } from '../errors.js';
import type { Logger } from '../system/logger.js';

export const PAUSED_FILE = 'paused.json';

export class PausedFile {
  constructor(
    private readonly file: string,
    private readonly log: Logger,
  ) {}

  /**
   * The pause the last run left: false when none was ever set. A file that cannot be read or understood keeps
   * the daemon paused, with a warning: for privacy, an unknown answer is "paused".
   */
  read(): boolean {
    const { paused, bytes } = this.readRecord();
    // A record of the fixed length is kept from the start, so that a pause can later replace it in place on a
    // full card (see write()).
    if (paused !== undefined && bytes !== RECORD_BYTES) this.write(paused);
    return paused ?? true;
  }

  /** The saved value (false when none was saved; undefined, said, when the file cannot be used) and the record's length. */
  private readRecord(): { paused: boolean | undefined; bytes: number } {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { paused: false, bytes: 0 };
      this.log.warn({ file: this.file, reason: fileReason(err) }, 'cannot read the saved pause: staying paused until a {"paused":false} command');
      return { paused: undefined, bytes: 0 };
    }
    const bytes = Buffer.byteLength(text);
    try {
      const value = (JSON.parse(text) as { paused?: unknown }).paused;
      if (typeof value === 'boolean') return { paused: value, bytes };
    } catch {
      // below
    }
    this.log.warn({ file: this.file }, 'the saved pause is not {"paused":true|false}: staying paused until a {"paused":false} command');
    return { paused: undefined, bytes };
  }

  /**
   * Writes it (temp file, fsync, rename, directory fsync). On a full card (ENOSPC, EDQUOT) the temp file cannot
   * be made, so the record is overwritten in place instead: it always has the same length (RECORD_BYTES), so an
   * overwrite needs no new block and a pause still lands on a card with no space left. Any other failure is
   * logged: the pause then lasts only until a restart.
   */
  write(paused: boolean): void {
    const dir = path.dirname(this.file);
    const tmp = `${this.file}.tmp-${process.pid}`;
    const record = pausedRecord(paused);
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const fd = fs.openSync(tmp, 'w', 0o600);
      try {
        fs.writeSync(fd, record);
        fs.fdatasyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.file);
      const dirFd = fs.openSync(dir, 'r');
      try {
        fs.fsyncSync(dirFd);
      } finally {
        fs.closeSync(dirFd);
      }
    } catch (err) {
      fs.rm(tmp, { force: true }, () => undefined);
      const code = (err as NodeJS.ErrnoException).code;
      if ((code === 'ENOSPC' || code === 'EDQUOT') && this.overwriteInPlace(record)) {
        this.log.warn({ file: this.file, paused }, 'the state directory is full: the pause was saved over the previous record in place');
        return;
      }
      this.log.warn(
        { file: this.file, reason: fileReason(err), paused },
        'cannot save the pause in the state directory: it lasts only until the daemon restarts',
      );
    }
  }

  /** Overwrites an existing record of the same length without allocating; false when there is none to overwrite. */
  private overwriteInPlace(record: Buffer): boolean {
    let fd: number | undefined;
    try {
      fd = fs.openSync(this.file, 'r+');
      if (fs.fstatSync(fd).size !== record.length) return false;
      fs.writeSync(fd, record, 0, record.length, 0);
      fs.fdatasyncSync(fd);
      return true;
    } catch {
      return false;
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
}

/** Every record has this many bytes (JSON padded with spaces, then a newline), so that one can replace another in place. */
const RECORD_BYTES = 96;

function pausedRecord(paused: boolean): Buffer {
  const json = JSON.stringify({ paused, time: new Date().toISOString() });
  return Buffer.from(`${json.padEnd(RECORD_BYTES - 1, ' ')}\n`);
}
