// Section 2 driver: read the CK+ layout, pick the sequences, run each through the daemon's detector
// and tracker (default settings, as `loadConfig` gives them) and the model with carried state.
import type { EmotionModel } from '../../src/classify/emotion-model.js';
import { loadConfig } from '../../src/config/load.js';
import { resolveCascade } from '../../src/detect/cascade-file.js';
import { readCkPlus, type CkSequence } from './ckplus.js';
import { evalSequence, summarizeCk, TRACE_LETTERS, type CkSummary, type SequenceResult } from './ckplus-eval.js';

export interface CkSection {
  summary: CkSummary;
  /** Labelled sequences left out because their label has no class, by CK+ code (2 contempt, 3 disgust). */
  dropped: Record<string, number>;
  sequences: SequenceResult[];
  trace_legend: string;
  detector: { cascade: string; settings: Record<string, unknown>; config_file: string | null };
}

/** `k` sequences spread evenly over the sorted list (all when k is undefined). */
export function spread<T>(items: readonly T[], k: number | undefined): T[] {
  if (k === undefined || k >= items.length) return [...items];
  return Array.from({ length: k }, (_, i) => items[Math.floor((i * items.length) / k)] as T);
}

export async function runCkPlus(model: EmotionModel, root: string, limit: number | undefined, log: (m: string) => void): Promise<CkSection> {
  const index = readCkPlus(root);
  const chosen: CkSequence[] = spread(index.sequences, limit);
  const loaded = loadConfig({ env: {} });
  const settings = loaded.config.detector;
  const cascade = resolveCascade(settings.cascade);
  log(`CK+: ${chosen.length} of ${index.sequences.length} sequences (${chosen.reduce((s, q) => s + q.frames.length, 0)} frames)`);
  const sequences: SequenceResult[] = [];
  for (const seq of chosen) sequences.push(await evalSequence(model, seq, settings, loaded.config.tracker, cascade));
  const summary = summarizeCk(sequences);
  log(`  apex accuracy ${(summary.apex_accuracy * 100).toFixed(1)} %`);
  return {
    summary,
    dropped: index.dropped,
    sequences,
    trace_legend: Object.entries(TRACE_LETTERS).map(([e, l]) => `${l} = ${e}`).join(', '),
    detector: { cascade, settings: { ...settings }, config_file: loaded.file ?? null },
  };
}
