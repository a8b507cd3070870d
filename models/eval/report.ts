// The report: one JSON document with everything, written beside its Markdown summary (summary-md.ts).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { ModelInfo } from '../../src/classify/emotion-model.js';
import type { CkSection } from './ckplus-run.js';
import type { CompareResult, FerResult } from './fer-eval.js';
import type { SpeedResult } from './speed.js';
import type { StreamResult } from './streams.js';
import type { SwitchResult } from './switches.js';
import type { TargetCheck } from './targets.js';

export interface ModelFile {
  path: string;
  bytes: number;
  sha256: string;
  classes: string[];
  hidden: number;
  preprocess: ModelInfo['preprocess'];
  metadata: Record<string, string>;
}

export interface EvalReport {
  tool: string;
  date: string;
  duration_s: number;
  quick: boolean;
  options: Record<string, unknown>;
  environment: { node: string; onnxruntime: string; opencv: string; platform: string; arch: string; cpu: string; cpus: number };
  model: ModelFile;
  compare_model: ModelFile | null;
  data: { dir: string; fer_csv: string; ckplus: string; notes: string[] };
  fer2013: (Omit<FerResult, 'predictions'> & { usage: string; csv_rows: number; dropped_disgust: number }) | null;
  fer2013_compare: Omit<FerResult, 'predictions'> | null;
  fp32_vs_int8: CompareResult | null;
  ckplus: CkSection | null;
  stability: StreamResult | null;
  switches: SwitchResult | null;
  speed: SpeedResult | null;
  targets: TargetCheck[];
}

export function describeModelFile(file: string, info: ModelInfo): ModelFile {
  const bytes = fs.readFileSync(file);
  return {
    path: file,
    bytes: bytes.length,
    sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
    classes: info.classes,
    hidden: info.hidden,
    preprocess: info.preprocess,
    metadata: info.metadata,
  };
}

/** Drop the per-image predictions (kept in memory for the comparison only). */
export function withoutPredictions(r: FerResult): Omit<FerResult, 'predictions'> {
  const { predictions: _omit, ...rest } = r;
  return rest;
}

/** Write eval-report.json and eval-summary.md (`summary`, from summaryMarkdown) into `dir`. */
export function writeReport(dir: string, report: EvalReport, summary: string): { json: string; md: string; summary: string } {
  fs.mkdirSync(dir, { recursive: true });
  const json = path.join(dir, 'eval-report.json');
  const md = path.join(dir, 'eval-summary.md');
  fs.writeFileSync(json, `${JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  fs.writeFileSync(md, summary);
  return { json, md, summary };
}
