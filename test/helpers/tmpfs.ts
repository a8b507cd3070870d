// A small tmpfs that a test mounts and fills: a state directory on a full SD card, for real (ENOSPC from the
// kernel). Needs root (mount); tests skip with the reason elsewhere. Unmounted with umount -l.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** Why a tmpfs cannot be mounted here, or undefined. Probed once by mounting one. */
export function tmpfsMissing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to mount a small tmpfs (run the tests as root)';
  try {
    mountTmpfs(64).unmount();
    return undefined;
  } catch (err) {
    return `cannot mount a tmpfs: ${(err as Error).message.split('\n')[0]}`;
  }
}

export interface Tmpfs {
  dir: string;
  unmount(): void;
}

export function mountTmpfs(sizeKiB: number): Tmpfs {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-tmpfs-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeKiB}k,mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  let mounted = true;
  return {
    dir,
    unmount: () => {
      if (!mounted) return;
      mounted = false;
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      fs.rmdirSync(dir);
    },
  };
}

/** Fills the file system of `dir` with one file until the kernel says ENOSPC; returns its path (rm it to free the space). */
export function fill(dir: string, name = 'filler'): string {
  const file = path.join(dir, name);
  const fd = fs.openSync(file, 'a');
  const chunk = Buffer.alloc(4096, 0x55);
  try {
    for (;;) fs.writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    fs.closeSync(fd);
  }
  return file;
}
