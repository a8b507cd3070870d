// Pure evaluation metrics: confusion matrix, accuracy, per-class precision/recall/F1, macro-F1, label
// flips in a stream, summary statistics. Classes are indices 0..k-1; no I/O, no model, no OpenCV.
import { ascending, quantile } from '../../src/system/quantile.js';
import { argmax as topEmotion, EMOTIONS, type Emotion, type EmotionScores } from '../../src/types.js';

/** Index of the highest score, in the fixed EMOTIONS order (independent of the model's output order). */
export function argmax(scores: EmotionScores): number {
  return EMOTIONS.indexOf(topEmotion(scores));
}

/** k x k counts: rows are the true class, columns the predicted class. */
export function confusion(truth: readonly number[], pred: readonly number[], k: number): number[][] {
  if (truth.length !== pred.length) throw new Error(`confusion: ${truth.length} labels but ${pred.length} predictions`);
  const cm = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  truth.forEach((t, i) => {
    const p = pred[i] as number;
    if (t < 0 || t >= k || p < 0 || p >= k) throw new Error(`confusion: class out of range at ${i} (${t}, ${p})`);
    (cm[t] as number[])[p] = ((cm[t] as number[])[p] as number) + 1;
  });
  return cm;
}

const cell = (cm: number[][], r: number, c: number): number => (cm[r] as number[])[c] as number;

export function total(cm: number[][]): number {
  return cm.reduce((s, row) => s + row.reduce((a, b) => a + b, 0), 0);
}

/** Share of the diagonal; 0 for an empty matrix. */
export function accuracy(cm: number[][]): number {
  const n = total(cm);
  let hit = 0;
  for (let i = 0; i < cm.length; i++) hit += cell(cm, i, i);
  return n === 0 ? 0 : hit / n;
}

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  /** True examples of the class. */
  support: number;
}

/** Precision, recall and F1 of each class; 0 where the denominator is 0. */
export function perClass(cm: number[][]): ClassScores[] {
  const k = cm.length;
  return cm.map((row, c) => {
    const tp = cell(cm, c, c);
    const support = row.reduce((a, b) => a + b, 0);
    let predicted = 0;
    for (let r = 0; r < k; r++) predicted += cell(cm, r, c);
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { precision, recall, f1, support };
  });
}

/** Unweighted mean of the per-class F1 scores (every class counts, including ones never predicted). */
export function macroF1(cm: number[][]): number {
  const pc = perClass(cm);
  return pc.length === 0 ? 0 : pc.reduce((s, c) => s + c.f1, 0) / pc.length;
}

/** How often the label changes between consecutive frames. */
/** Label changes between consecutive frames; -1 is "no label yet", and the first label after it is not a change. */
export function countFlips(labels: readonly number[]): number {
  let flips = 0;
  for (let i = 1; i < labels.length; i++) if (labels[i - 1] !== -1 && labels[i] !== labels[i - 1]) flips++;
  return flips;
}

/**
 * Frames after onset (index 0) until `label` appears and stays to the end of `labels` (the apex):
 * the smallest i with labels[i..] all equal to `label`; null when the last label is wrong.
 */
export function settleFrame(labels: readonly number[], label: number): number | null {
  if (labels.length === 0 || labels[labels.length - 1] !== label) return null;
  let i = labels.length - 1;
  while (i > 0 && labels[i - 1] === label) i--;
  return i;
}

/** Share of items equal in both lists. */
export function agreement(a: readonly number[], b: readonly number[]): number {
  if (a.length !== b.length) throw new Error(`agreement: ${a.length} vs ${b.length} labels`);
  if (a.length === 0) return 0;
  let same = 0;
  a.forEach((x, i) => (same += x === b[i] ? 1 : 0));
  return same / a.length;
}

/** Percentile with linear interpolation between closest ranks (numpy's default); NaN for no data. */
export function percentile(values: readonly number[], p: number): number {
  return values.length === 0 ? Number.NaN : quantile(ascending(values), p / 100);
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

export interface Summary {
  n: number;
  mean: number;
  median: number;
  p95: number;
  min: number;
  max: number;
}

export function summarize(values: readonly number[]): Summary {
  return {
    n: values.length,
    mean: mean(values),
    median: percentile(values, 50),
    p95: percentile(values, 95),
    min: values.length ? Math.min(...values) : Number.NaN,
    max: values.length ? Math.max(...values) : Number.NaN,
  };
}

/** Wilson score interval (95 %, z = 1.96) for `k` successes in `n` trials: how far a rate measured on a
 * small set (22 CK+ sequences) can be from the true one. [0, 1] for n = 0. */
export function wilson(k: number, n: number, z = 1.96): [number, number] {
  if (n <= 0) return [0, 1];
  const p = k / n;
  const d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}
