// Section 1 (and 5): FER2013 PublicTest, six classes, one step from the zero state per image.
import type { EmotionModel } from '../../src/classify/emotion-model.js';
import { EMOTIONS, type Emotion } from '../../src/types.js';
import { FER_SIDE, readFerCsv, type FerReadStats } from './fer-csv.js';
import { accuracy, agreement, confusion, macroF1, perClass, type ClassScores } from './metrics.js';
import { predictStills } from './stills.js';

export interface FerSet {
  file: string;
  images: Uint8Array[];
  /** True class index (EMOTIONS order). */
  labels: number[];
  /** CSV line of each image. */
  lines: number[];
  stats: FerReadStats;
}

/** Read the PublicTest rows (at most `limit` kept) of a FER2013 CSV. */
export async function loadFerSet(file: string, limit?: number): Promise<FerSet> {
  const set: FerSet = { file, images: [], labels: [], lines: [], stats: { rows: 0, kept: 0, dropped: 0 } };
  set.stats = await readFerCsv(
    file,
    (row) => {
      set.images.push(row.pixels);
      set.labels.push(EMOTIONS.indexOf(row.emotion as Emotion));
      set.lines.push(row.line);
    },
    { usage: 'PublicTest', limit },
  );
  return set;
}

export interface FerResult {
  model: string;
  n: number;
  accuracy: number;
  macro_f1: number;
  per_class: Record<string, ClassScores>;
  /** Rows: true class, columns: predicted class, both in `classes` order. */
  confusion: { classes: readonly string[]; matrix: number[][] };
  mean_confidence: number;
  /** Predicted class index per image (kept for the fp32 comparison; not written to the report). */
  predictions: number[];
}

export async function evalFer(model: EmotionModel, set: FerSet): Promise<FerResult> {
  const pred = await predictStills(model, set.images, FER_SIDE);
  const cm = confusion(set.labels, pred.labels, EMOTIONS.length);
  const pc = perClass(cm);
  return {
    model: model.path,
    n: set.images.length,
    accuracy: accuracy(cm),
    macro_f1: macroF1(cm),
    per_class: Object.fromEntries(EMOTIONS.map((e, k) => [e, pc[k] as ClassScores])),
    confusion: { classes: EMOTIONS, matrix: cm },
    mean_confidence: pred.confidence.reduce((a, b) => a + b, 0) / Math.max(1, pred.confidence.length),
    predictions: pred.labels,
  };
}

export interface CompareResult {
  model: string;
  compare_model: string;
  n: number;
  accuracy: number;
  compare_accuracy: number;
  /** (model - compare) accuracy, in percentage points. */
  accuracy_diff_points: number;
  /** Share of images where both models predict the same label. */
  label_agreement: number;
  compare_macro_f1: number;
}

export function compareFer(main: FerResult, other: FerResult): CompareResult {
  return {
    model: main.model,
    compare_model: other.model,
    n: main.n,
    accuracy: main.accuracy,
    compare_accuracy: other.accuracy,
    accuracy_diff_points: (main.accuracy - other.accuracy) * 100,
    label_agreement: agreement(main.predictions, other.predictions),
    compare_macro_f1: other.macro_f1,
  };
}
