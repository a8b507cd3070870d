// Which ONNX model the bench runs: the one asked for, else the shipped int8 model, else (while it is
// still being trained) the newest model under models/work, copied aside so a retrain cannot change it mid-run.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromRoot } from '../../src/system/paths.js';

export const SHIPPED_MODEL = fromRoot('models/emotion-cnn-lstm.int8.onnx');

function onnxUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.onnx'))
    .map((f) => path.join(dir, f));
}

/** The newest work model, int8 ones first. */
export function newestWorkModel(dir = fromRoot('models/work')): string | undefined {
  const found = onnxUnder(dir).map((f) => ({ f, int8: /int8/i.test(path.basename(f)), mtime: fs.statSync(f).mtimeMs }));
  found.sort((a, b) => Number(b.int8) - Number(a.int8) || b.mtime - a.mtime);
  return found[0]?.f;
}

export function resolveModel(asked?: string): { path: string; note?: string } {
  if (asked) {
    const p = path.resolve(asked);
    if (!fs.existsSync(p)) throw new Error(`--model ${asked}: no such file`);
    return { path: p };
  }
  if (fs.existsSync(SHIPPED_MODEL)) return { path: SHIPPED_MODEL };
  const work = newestWorkModel();
  if (!work) throw new Error(`no model: ${SHIPPED_MODEL} is absent and models/work has no .onnx (pass --model PATH)`);
  const copy = path.join(os.tmpdir(), `emotiond-bench-${path.basename(path.dirname(work))}-${path.basename(work)}`);
  fs.copyFileSync(work, copy);
  return {
    path: copy,
    note: `shipped model ${path.relative(fromRoot('.'), SHIPPED_MODEL)} absent: using ${path.relative(fromRoot('.'), work)} (copied to ${copy}); speed is the architecture's, accuracy is not the shipped model's`,
  };
}
