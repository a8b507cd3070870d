// Where the daemon's own files are: the install (or checkout) root holds models/ and cascades/.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The directory holding emotiond's package.json (works from src/ under tsx and from dist/src/). Looked up on
 * each call (a few stat calls, made at start-up): no module state. */
export function projectRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg) && /"name":\s*"emotiond"/.test(fs.readFileSync(pkg, 'utf8'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the emotiond install directory (package.json)');
    dir = up;
  }
}

/** Resolve a configured path: absolute stays, relative is taken from the install directory. */
export function fromRoot(p: string): string {
  return path.isAbsolute(p) ? p : path.join(projectRoot(), p);
}

export function readVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(projectRoot(), 'package.json'), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}
