// The dashboard's files (src/http/static/), read once at start. tsc does not copy them: under tsx they are
// beside this module, deploy/install.sh copies them beside the compiled one (dist/src/http/static/), and a
// checkout run from dist/ finds them under src/http/static/.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmotiondError } from '../errors.js';
import { fromRoot } from '../system/paths.js';

export interface StaticFile {
  type: string;
  body: Buffer;
}

/** URL path -> file name; nothing else is served. */
const FILES: Record<string, [string, string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/dashboard.js': ['dashboard.js', 'text/javascript; charset=utf-8'],
  '/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
};

/** Where the files are: beside this module, else the checkout's src/http/static. */
function staticDir(): string {
  const candidates = [path.join(path.dirname(fileURLToPath(import.meta.url)), 'static'), fromRoot('src/http/static')];
  const found = candidates.find((d) => fs.existsSync(path.join(d, 'index.html')));
  if (!found)
    throw new EmotiondError('EMD_HTTP', `the dashboard's files are missing (looked in ${candidates.join(' and ')}): reinstall with deploy/install.sh`);
  return found;
}

export function readStaticFiles(dir = staticDir()): Map<string, StaticFile> {
  const out = new Map<string, StaticFile>();
  for (const [url, [name, type]] of Object.entries(FILES)) {
    const file = path.join(dir, name);
    try {
      out.set(url, { type, body: fs.readFileSync(file) });
    } catch (err) {
      throw new EmotiondError('EMD_HTTP', `cannot read the dashboard file ${file}: ${(err as Error).message}`);
    }
  }
  return out;
}
