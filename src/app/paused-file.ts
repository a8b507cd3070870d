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
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      this.log.warn({ file: this.file, reason: fileReason(err) }, 'cannot read the saved pause: staying paused until a {"paused":false} command');
      return true;
    }
    try {
      const value = (JSON.parse(text) as { paused?: unknown }).paused;
      if (typeof value === 'boolean') return value;
    } catch {
      // below
    }
    this.log.warn({ file: this.file }, 'the saved pause is not {"paused":true|false}: staying paused until a {"paused":false} command');
    return true;
  }

  /** Writes it (temp file, fsync, rename, directory fsync); a failure is logged: the pause then lasts only until a restart. */
  write(paused: boolean): void {
    const dir = path.dirname(this.file);
    const tmp = `${this.file}.tmp-${process.pid}`;
    try {
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      const fd = fs.openSync(tmp, 'w', 0o600);
      try {
        fs.writeSync(fd, `${JSON.stringify({ paused, time: new Date().toISOString() })}\n`);
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
      this.log.warn({ file: this.file, reason: fileReason(err), paused }, 'cannot save the pause in the state directory: it lasts only until the daemon restarts');
    }
  }
}
