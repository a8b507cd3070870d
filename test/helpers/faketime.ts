// libfaketime (Debian's faketime package) for tests of the daemon's clocks: the wall clock of one process is
// moved by writing an offset ("+1d", "-1h") to a file it re-reads, while CLOCK_MONOTONIC stays real.
import fs from 'node:fs';
import path from 'node:path';

/** The multi-threaded preload library (node, OpenCV and onnxruntime run threads), or undefined. */
export function faketimeLibrary(): string | undefined {
  for (const dir of ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib/arm-linux-gnueabihf', '/usr/lib']) {
    const lib = path.join(dir, 'faketime', 'libfaketimeMT.so.1');
    if (fs.existsSync(lib)) return lib;
  }
  return undefined;
}

export function missingFaketime(): string | undefined {
  return faketimeLibrary() ? undefined : 'libfaketime not found (apt-get install faketime)';
}

/** A wall clock that can be moved: the environment for the process, and set() to move it (relative to the real time). */
export class FakeWallClock {
  constructor(readonly file: string) {
    fs.writeFileSync(file, '+0\n');
  }

  /** LD_PRELOAD and libfaketime's settings: the offset is read from the file at every call; monotonic stays real. */
  env(): NodeJS.ProcessEnv {
    const lib = faketimeLibrary();
    if (!lib) throw new Error('libfaketime not found');
    return { LD_PRELOAD: lib, FAKETIME_TIMESTAMP_FILE: this.file, FAKETIME_NO_CACHE: '1', DONT_FAKE_MONOTONIC: '1', FAKETIME_DONT_FAKE_MONOTONIC: '1' };
  }

  /** Moves the wall clock to the real time plus `offset` (libfaketime syntax: "+1d", "-1h", "+0"). */
  set(offset: string): void {
    fs.writeFileSync(`${this.file}.new`, `${offset}\n`);
    fs.renameSync(`${this.file}.new`, this.file);
  }
}
