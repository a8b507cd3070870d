// Reader of the CK+ layout: CK+/cohn-kanade-images/SXXX/YYY/*.png (every frame, neutral onset first)
// and CK+/Emotion/SXXX/YYY/*_emotion.txt (the apex label). Contempt and Disgust have no class: dropped.
import fs from 'node:fs';
import path from 'node:path';
import { EmotiondError } from '../../src/errors.js';
import type { Emotion } from '../../src/types.js';

/** CK+ emotion code -> our class; null = dropped (2 contempt, 3 disgust). */
export const CK_LABELS: ReadonlyArray<Emotion | null> = ['Neutral', 'Angry', null, null, 'Fear', 'Happy', 'Sad', 'Surprise'];

export interface CkSequence {
  subject: string;
  sequence: string;
  /** CK+ emotion code of the apex (0..7). */
  ckCode: number;
  emotion: Emotion;
  /** PNG paths in time order (frame 1 = onset, last = apex). */
  frames: string[];
}

export interface CkIndex {
  sequences: CkSequence[];
  /** Labelled sequences dropped because their label has no class, by CK+ code. */
  dropped: Record<string, number>;
}

function dirs(p: string): string[] {
  return fs
    .readdirSync(p, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

/** Parse a CK+ `*_emotion.txt` (one float, e.g. "   3.0000000e+00"). */
export function parseEmotionFile(text: string, file: string): number {
  const lines = text.split(/\r?\n/);
  const first = lines.findIndex((l) => l.trim() !== '');
  if (first < 0) throw new EmotiondError('EMD_DATASET', `${file} line 1: empty label file (expected a CK+ emotion code 0..7)`);
  const raw = (lines[first] as string).trim();
  const v = Number(raw);
  if (!Number.isFinite(v) || !Number.isInteger(v) || v < 0 || v >= CK_LABELS.length) {
    throw new EmotiondError('EMD_DATASET', `${file} line ${first + 1}: ${JSON.stringify(raw.slice(0, 30))} is not a CK+ emotion code 0..7`);
  }
  return v;
}

/** Every labelled sequence under `root` (the CK+ folder), sorted by subject and sequence. */
export function readCkPlus(root: string): CkIndex {
  const emotionRoot = path.join(root, 'Emotion');
  const imageRoot = path.join(root, 'cohn-kanade-images');
  for (const p of [emotionRoot, imageRoot]) {
    if (!fs.existsSync(p)) throw new EmotiondError('EMD_DATASET', `${p}: folder not found (expected the CK+ layout Emotion/ and cohn-kanade-images/)`);
  }
  const out: CkIndex = { sequences: [], dropped: {} };
  for (const subject of dirs(emotionRoot)) {
    for (const sequence of dirs(path.join(emotionRoot, subject))) {
      const labelDir = path.join(emotionRoot, subject, sequence);
      const labelFiles = fs.readdirSync(labelDir).filter((f) => f.endsWith('_emotion.txt'));
      if (labelFiles.length === 0) continue; // CK+ leaves many sequences unlabelled
      const labelFile = path.join(labelDir, labelFiles.sort()[0] as string);
      const ckCode = parseEmotionFile(fs.readFileSync(labelFile, 'utf8'), labelFile);
      const emotion = CK_LABELS[ckCode] ?? null;
      if (emotion === null) {
        out.dropped[String(ckCode)] = (out.dropped[String(ckCode)] ?? 0) + 1;
        continue;
      }
      const imageDir = path.join(imageRoot, subject, sequence);
      if (!fs.existsSync(imageDir)) throw new EmotiondError('EMD_DATASET', `${imageDir}: folder not found (labelled by ${labelFile})`);
      const frames = fs
        .readdirSync(imageDir)
        .filter((f) => f.toLowerCase().endsWith('.png'))
        .sort()
        .map((f) => path.join(imageDir, f));
      if (frames.length === 0) throw new EmotiondError('EMD_DATASET', `${imageDir}: no PNG frames (labelled by ${labelFile})`);
      out.sequences.push({ subject, sequence, ckCode, emotion, frames });
    }
  }
  if (out.sequences.length === 0 && Object.keys(out.dropped).length === 0) {
    throw new EmotiondError('EMD_DATASET', `${emotionRoot}: no *_emotion.txt label files`);
  }
  return out;
}
