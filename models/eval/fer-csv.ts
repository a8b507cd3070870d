// Streaming reader of the Kaggle FER2013 CSV (`emotion,pixels,Usage`, ~270 MB): read line by line,
// never whole. Labels are mapped to our six classes; FER2013 label 1 (Disgust) has no class and is dropped.
import fs from 'node:fs';
import readline from 'node:readline';
import { EmotiondError } from '../../src/errors.js';
import type { Emotion } from '../../src/types.js';

export const FER_SIDE = 48;
const PIXELS = FER_SIDE * FER_SIDE;

/** FER2013 label -> our class; null = dropped (1 Disgust). */
export const FER_LABELS: ReadonlyArray<Emotion | null> = ['Angry', null, 'Fear', 'Happy', 'Sad', 'Surprise', 'Neutral'];

export interface FerRow {
  /** 1-based line number in the file (the header is line 1). */
  line: number;
  /** Original FER2013 label 0..6. */
  ferLabel: number;
  /** Our class, or null for Disgust. */
  emotion: Emotion | null;
  usage: string;
  /** 48x48 gray pixels, row-major. */
  pixels: Uint8Array;
}

export interface FerReadStats {
  /** Data rows seen (every usage). */
  rows: number;
  /** Rows of the wanted usage delivered to the callback. */
  kept: number;
  /** Rows of the wanted usage dropped because their label has no class (Disgust). */
  dropped: number;
}

export interface FerReadOptions {
  /** Only rows with this Usage are parsed and delivered (default PublicTest). */
  usage?: string;
  /** Stop after this many delivered rows. */
  limit?: number;
}

function fail(file: string, line: number, what: string, kept: number): never {
  throw new EmotiondError('EMD_DATASET', `${file} line ${line}: ${what} (${kept} good rows before it were read)`);
}

/** Parse the 2304 space-separated pixel values of one row. */
export function parsePixels(text: string, file: string, line: number, kept = 0): Uint8Array {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== PIXELS) fail(file, line, `expected ${PIXELS} pixel values, got ${text.trim() ? parts.length : 0}`, kept);
  const out = new Uint8Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) {
    const p = parts[i] as string;
    const v = /^\d{1,3}$/.test(p) ? Number(p) : Number.NaN;
    if (!(v >= 0 && v <= 255)) fail(file, line, `pixel ${i + 1} is ${JSON.stringify(p.slice(0, 20))}, not an integer 0..255`, kept);
    out[i] = v;
  }
  return out;
}

function columns(header: string, file: string): { emotion: number; pixels: number; usage: number } {
  const names = header.replace(/^\uFEFF/, '').split(',').map((s) => s.trim().toLowerCase());
  const idx = (name: string): number => {
    const i = names.indexOf(name);
    if (i < 0) throw new EmotiondError('EMD_DATASET', `${file} line 1: header has no "${name}" column (got ${JSON.stringify(header.slice(0, 80))}; expected emotion,pixels,Usage)`);
    return i;
  };
  return { emotion: idx('emotion'), pixels: idx('pixels'), usage: idx('usage') };
}

/**
 * Stream `file`, calling `onRow` for each row of the wanted usage, in file order. A malformed row stops
 * the read with an EMD_DATASET error naming the file and line; the rows before it have been delivered.
 * Labels are checked on every row; pixels only on the rows of the wanted usage.
 */
export async function readFerCsv(file: string, onRow: (row: FerRow) => void, opts: FerReadOptions = {}): Promise<FerReadStats> {
  const usage = opts.usage ?? 'PublicTest';
  const limit = opts.limit ?? Number.POSITIVE_INFINITY;
  if (!fs.existsSync(file)) throw new EmotiondError('EMD_DATASET', `${file}: file not found (expected the Kaggle FER2013 CSV)`);
  const stats: FerReadStats = { rows: 0, kept: 0, dropped: 0 };
  const input = fs.createReadStream(file, { encoding: 'latin1' });
  const rl = readline.createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY });
  let line = 0;
  let cols: ReturnType<typeof columns> | undefined;
  try {
    for await (const text of rl) {
      line++;
      if (!cols) {
        cols = columns(text, file);
        continue;
      }
      if (text.trim() === '') continue;
      const f = text.split(',');
      if (f.length < 3) fail(file, line, `expected 3 comma-separated fields (emotion,pixels,Usage), got ${f.length}`, stats.kept);
      stats.rows++;
      const labelText = (f[cols.emotion] ?? '').trim();
      const ferLabel = /^\d$/.test(labelText) ? Number(labelText) : -1;
      if (ferLabel < 0 || ferLabel >= FER_LABELS.length) fail(file, line, `emotion ${JSON.stringify(labelText.slice(0, 20))} is not a FER2013 label 0..6`, stats.kept);
      const rowUsage = (f[cols.usage] ?? '').trim();
      if (rowUsage !== usage) continue;
      const emotion = FER_LABELS[ferLabel] ?? null;
      const pixels = parsePixels(f[cols.pixels] ?? '', file, line, stats.kept);
      if (emotion === null) {
        stats.dropped++;
        continue;
      }
      onRow({ line, ferLabel, emotion, usage: rowUsage, pixels });
      stats.kept++;
      if (stats.kept >= limit) break;
    }
  } finally {
    rl.close();
    input.destroy();
  }
  if (!cols) throw new EmotiondError('EMD_DATASET', `${file}: file is empty (expected the header emotion,pixels,Usage)`);
  return stats;
}
