// Where the evaluation data comes from: --data DIR (public formats), else the project's shared data (located
// by clips/data.ts dataRoot(): $EMOTIOND_DATA_DIR, else ../shared/data) exported once into the public formats
// (models/data/ when the model engineer already exported it there, else a cache folder under the system temp dir).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { EmotiondError } from '../../src/errors.js';
import { projectRoot } from '../../src/system/paths.js';
import { dataRoot } from './data-root.js';

export const PYTHON = '/usr/bin/python3';

/** Check that `dir` holds the public files the evaluation reads; throws naming the first missing one. */
export function checkDataDir(dir: string): void {
  for (const rel of ['fer2013.csv', 'CK+/Emotion', 'CK+/cohn-kanade-images']) {
    const p = path.join(dir, rel);
    if (!fs.existsSync(p)) throw new EmotiondError('EMD_DATASET', `${p}: not found (--data must be a folder with fer2013.csv and CK+/{Emotion,cohn-kanade-images}/)`);
  }
}

/** The last bytes of a file. */
function tail(file: string, n: number): string {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(n, size));
    fs.readSync(fd, buf, 0, buf.length, size - buf.length);
    return buf.toString('latin1');
  } finally {
    fs.closeSync(fd);
  }
}

/** True when `dir` holds a finished export of the shared data (CSV ends with a whole PublicTest row, every CK+ label file). */
export function isCompleteExport(dir: string, shared: string): boolean {
  try {
    checkDataDir(dir);
    if (!/PublicTest\r?\n$/.test(tail(path.join(dir, 'fer2013.csv'), 64))) return false;
    const index = JSON.parse(fs.readFileSync(path.join(shared, 'ckplus', 'fullframe.json'), 'utf8')) as { sequences: Array<{ subject: string; sequence: string; files: string[] }> };
    return index.sequences.every((s) => {
      const images = path.join(dir, 'CK+', 'cohn-kanade-images', s.subject, s.sequence);
      const labels = path.join(dir, 'CK+', 'Emotion', s.subject, s.sequence);
      return fs.existsSync(labels) && fs.readdirSync(labels).some((f) => f.endsWith('_emotion.txt')) && fs.existsSync(images) && fs.readdirSync(images).length === s.files.length;
    });
  } catch {
    return false;
  }
}

/** Resolve the data folder: `given`, or a complete export of the shared data (dataRoot(); made here when none exists). */
export function resolveDataDir(given: string | undefined, log: (msg: string) => void): string {
  if (given) {
    const dir = path.resolve(given);
    checkDataDir(dir);
    return dir;
  }
  const shared = dataRoot();
  const exporter = path.join(shared, 'export_public.py');
  if (!fs.existsSync(exporter)) {
    throw new EmotiondError('EMD_DATASET', `${exporter}: not found, and no --data DIR given (pass a folder with fer2013.csv and CK+/)`);
  }
  for (const dir of [path.join(projectRoot(), 'models', 'data'), cacheDir()]) {
    if (isCompleteExport(dir, shared)) return dir;
  }
  const dir = cacheDir();
  const partial = `${dir}.partial-${process.pid}`;
  log(`exporting ${shared} to the public formats in ${dir} (once, ~10 s)`);
  fs.rmSync(partial, { recursive: true, force: true });
  const res = spawnSync(PYTHON, [exporter, partial], { encoding: 'utf8' });
  if (res.status !== 0) {
    fs.rmSync(partial, { recursive: true, force: true });
    throw new EmotiondError('EMD_DATASET', `${PYTHON} ${exporter} failed (${res.error?.message ?? `exit ${res.status}`}): ${(res.stderr ?? '').trim().slice(-400)}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(partial, dir);
  if (!isCompleteExport(dir, shared)) throw new EmotiondError('EMD_DATASET', `${dir}: export did not produce the expected files`);
  return dir;
}

function cacheDir(): string {
  return path.join(os.tmpdir(), 'emotiond-eval-data');
}
