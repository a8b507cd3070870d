// `npm run eval`: evaluates the shipped model through the daemon's own code (preprocess, detector, model
// stepping) on FER2013 PublicTest, CK+ sequences, jittered steady streams, and times it. Writes
// reports/eval/eval-report.json and eval-summary.md and prints the summary. Progress goes to stderr.
import path from 'node:path';
import { EmotionModel } from '../../src/classify/emotion-model.js';
import { EmotiondError } from '../../src/errors.js';
import { applyRuntimeEnv } from '../../src/system/runtime-env.js';
import { parseEvalArgs, USAGE, type EvalOptions } from './args.js';
import { resolveDataDir } from './data-dir.js';
import { compareFer, evalFer, loadFerSet, type FerSet } from './fer-eval.js';
import { FER_SIDE } from './fer-csv.js';
import { describeModelFile, withoutPredictions, writeReport, type EvalReport } from './report.js';
import { summaryMarkdown } from './summary-md.js';
import { runCkPlus } from './ckplus-run.js';
import { evalStreams } from './streams.js';
import { evalSwitches, SWITCH_FRAMES } from './switches.js';
import { measureSpeed } from './speed.js';
import { checkTargets } from './targets.js';
import { environment, NOTES } from './environment.js';

const log = (msg: string): void => void process.stderr.write(`[eval ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

/** "int8" for an int8 model, else what the metadata says (e.g. "none (fp32)"). */
function quantLabel(q: string | undefined): string {
  if (!q) return 'model';
  return /^int8/i.test(q) ? 'int8' : q.replace(/^none \((.*)\)$/, '$1');
}

async function loadModel(file: string): Promise<EmotionModel> {
  return EmotionModel.load(path.resolve(file), { threads: 1 });
}

async function ferSection(opts: EvalOptions, model: EmotionModel, set: FerSet): Promise<Pick<EvalReport, 'fer2013' | 'fer2013_compare' | 'fp32_vs_int8' | 'compare_model'>> {
  log(`FER2013 PublicTest: ${set.images.length} images`);
  const main = await evalFer(model, set);
  const out: Pick<EvalReport, 'fer2013' | 'fer2013_compare' | 'fp32_vs_int8' | 'compare_model'> = {
    fer2013: { ...withoutPredictions(main), usage: 'PublicTest', csv_rows: set.stats.rows, dropped_disgust: set.stats.dropped },
    fer2013_compare: null,
    fp32_vs_int8: null,
    compare_model: null,
  };
  log(`  accuracy ${(main.accuracy * 100).toFixed(2)} %`);
  if (opts.compare) {
    const other = await loadModel(opts.compare);
    try {
      out.compare_model = describeModelFile(other.path, other.info);
      const res = await evalFer(other, set);
      out.fer2013_compare = withoutPredictions(res);
      out.fp32_vs_int8 = compareFer(main, res);
      log(`  compare ${opts.compare}: accuracy ${(res.accuracy * 100).toFixed(2)} %`);
    } finally {
      await other.release();
    }
  }
  return out;
}

async function main(opts: EvalOptions): Promise<void> {
  const started = Date.now();
  applyRuntimeEnv(); // as the daemon starts: before the model loads
  const dataDir = resolveDataDir(opts.data, log);
  const model = await loadModel(opts.model);
  const modelFile = describeModelFile(model.path, model.info); // hashed now: the file may be replaced later
  const set = await loadFerSet(path.join(dataDir, 'fer2013.csv'), opts.limit);
  let report: EvalReport;
  let released = false;
  try {
    const fer = await ferSection(opts, model, set);
    const ck = await runCkPlus(model, path.join(dataDir, 'CK+'), opts.ckSequences, log);
    log(`steady streams: ${Math.min(opts.streams, set.images.length)} x ${opts.streamFrames} frames`);
    const stability = await evalStreams(model, set.images, set.labels, FER_SIDE, { count: opts.streams, frames: opts.streamFrames, seed: opts.seed });
    log(`expression changes: ${Math.min(opts.streams, set.images.length)} x ${SWITCH_FRAMES.before}+${SWITCH_FRAMES.after} frames`);
    const switches = await evalSwitches(model, set.images, set.labels, FER_SIDE, { count: opts.streams, seed: opts.seed });
    await model.release();
    released = true;
    log(`speed: ${opts.speedSteps} steps, 1 thread`);
    const speed = await measureSpeed(model.path, set.images, FER_SIDE, opts.speedSteps);
    report = {
      tool: 'emotiond eval-model',
      date: new Date().toISOString(),
      duration_s: (Date.now() - started) / 1000,
      quick: opts.quick,
      options: { ...opts },
      environment: environment(),
      model: modelFile,
      data: { dir: dataDir, fer_csv: set.file, ckplus: path.join(dataDir, 'CK+'), notes: NOTES },
      ...fer,
      ckplus: ck,
      stability,
      switches,
      speed,
      targets: checkTargets({
        ferAccuracy: fer.fer2013?.accuracy ?? 0,
        diffPoints: fer.fp32_vs_int8?.accuracy_diff_points,
        ckApexAccuracy: ck.summary.apex_accuracy,
        ckSequences: ck.summary.n_sequences,
        flipsMean: stability.with_state.flips_per_100.mean,
        msPerFace: speed.batch1.median,
        modelLabel: quantLabel(model.info.metadata['emotiond.quantization']),
      }),
    };
  } finally {
    if (!released) await model.release();
  }
  const written = writeReport(opts.out, report, summaryMarkdown(report));
  process.stdout.write(written.summary);
  log(`wrote ${written.json} and ${written.md}`);
}

let opts: EvalOptions | null;
try {
  opts = parseEvalArgs(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
  process.exit(2);
}
if (opts === null) {
  process.stdout.write(`${USAGE}\n`);
} else {
  main(opts).catch((err: unknown) => {
    const e = err as Error;
    process.stderr.write(`eval failed: ${err instanceof EmotiondError ? `[${err.code}] ` : ''}${e.message}\n`);
    if (!(err instanceof EmotiondError)) process.stderr.write(`${e.stack ?? ''}\n`);
    process.exit(1);
  });
}
