// Runs the real `npm run eval -- --quick` on the real model and data. Skipped (saying why) when the shipped
// model or the shared data is absent. EMOTIOND_EVAL_MODEL=path evaluates another ONNX file.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { missingData, missingFile } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const model = process.env.EMOTIOND_EVAL_MODEL ?? path.join(root, 'models', 'emotion-cnn-lstm.int8.onnx');

interface Report {
  fer2013: { n: number; accuracy: number; macro_f1: number; confusion: { matrix: number[][] } };
  ckplus: { summary: { n_sequences: number }; sequences: Array<{ trace: string; frames: number }> };
  stability: { n_streams: number; with_state: { flips_per_100: { mean: number } }; without_state: object };
  switches: {
    n_streams: number;
    with_state: { final_accuracy: number; latency_frames: { n: number; median: number } };
    after_gate: { latency_frames: { n: number; median: number } };
  };
  speed: { batch1: { n: number; median: number }; batch4: object };
  fp32_vs_int8: { n: number; accuracy_diff_points: number; label_agreement: number } | null;
  model: { sha256: string; bytes: number };
  environment: { cpu: string; onnxruntime: string };
  targets: Array<{ status: string }>;
}

const cannotEvaluate = firstMissing(missingFile(model, 'set EMOTIOND_EVAL_MODEL to evaluate another file'), missingData(['export_public.py']));

testUnless(cannotEvaluate)('npm run eval -- --quick on the real model writes a complete report', async (t) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-eval-out-'));
  t.teardown(() => fs.rmSync(out, { recursive: true, force: true }));
  const started = Date.now();
  const { stdout } = await promisify(execFile)(process.execPath, ['--import=tsx', 'models/eval/eval-model.ts', '--quick', '--model', model, '--out', out], {
    cwd: root,
    maxBuffer: 16 << 20,
    timeout: 150_000,
  });
  t.log(`quick eval took ${((Date.now() - started) / 1000).toFixed(1)} s`);
  t.regex(stdout, /# emotiond model evaluation/);
  t.regex(stdout, /## Targets/);
  const report = JSON.parse(fs.readFileSync(path.join(out, 'eval-report.json'), 'utf8')) as Report;
  t.true(fs.readFileSync(path.join(out, 'eval-summary.md'), 'utf8').includes('## 1. FER2013 PublicTest'));
  for (const key of ['model', 'environment', 'data', 'fer2013', 'fp32_vs_int8', 'ckplus', 'stability', 'switches', 'speed', 'targets'])
    t.true(key in report, `report has ${key}`);
  t.is(report.fer2013.n, 300);
  t.true(report.fer2013.accuracy > 0 && report.fer2013.accuracy <= 1);
  t.true(report.fer2013.accuracy > 0.3, `FER accuracy ${report.fer2013.accuracy} is well above chance`);
  t.is(
    report.fer2013.confusion.matrix.flat().reduce((a, b) => a + b, 0),
    300,
  );
  t.is(report.ckplus.summary.n_sequences, 4);
  t.true(report.ckplus.sequences.every((s) => s.trace.length === s.frames && s.frames > 0));
  t.is(report.stability.n_streams, 20);
  t.true(Number.isFinite(report.stability.with_state.flips_per_100.mean));
  t.is(report.switches.n_streams, 20);
  t.true(report.switches.with_state.latency_frames.n > 0, 'some switch streams were timed');
  // The daemon's hysteresis holds a new label for hold_s before committing it: it can only follow later.
  t.true(report.switches.after_gate.latency_frames.median >= report.switches.with_state.latency_frames.median, JSON.stringify(report.switches));
  t.is(report.speed.batch1.n, 300);
  t.true(report.speed.batch1.median > 0);
  t.regex(report.model.sha256, /^[0-9a-f]{64}$/);
  t.is(report.targets.length, 5);
  // The int8 file must compute what the fp32 export computes on *this* CPU: int8 kernels differ between
  // x86 with and without VNNI and ARM (8-bit weights overflow int16 on AVX2 and cost ~5 points there).
  const fp32 = path.join(root, 'models', 'emotion-cnn-lstm.fp32.onnx');
  if (process.env.EMOTIOND_EVAL_MODEL === undefined && fs.existsSync(fp32)) {
    const c = report.fp32_vs_int8;
    t.truthy(c, 'report compares int8 with the fp32 export');
    t.log(`int8 - fp32 on ${report.environment.cpu}: ${c!.accuracy_diff_points.toFixed(2)} points, label agreement ${(c!.label_agreement * 100).toFixed(1)} %`);
    t.true(Math.abs(c!.accuracy_diff_points) <= 2.5, `int8 - fp32 = ${c!.accuracy_diff_points} points`);
    t.true(c!.label_agreement >= 0.93, `int8/fp32 label agreement ${c!.label_agreement}`);
  }
});

test('npm run eval with a missing data folder fails with EMD_DATASET naming the missing file', async (t) => {
  const missing = path.join(os.tmpdir(), `emotiond-no-data-${process.pid}`);
  const err = await t.throwsAsync(
    promisify(execFile)(process.execPath, ['--import=tsx', 'models/eval/eval-model.ts', '--data', missing, '--model', model], { cwd: root, timeout: 60_000 }),
  );
  const e = err as Error & { code?: number; stderr?: string };
  t.is(e.code, 1);
  t.regex(e.stderr ?? '', /\[EMD_DATASET\]/);
  t.true((e.stderr ?? '').includes(path.join(missing, 'fer2013.csv')), e.stderr);
});

test('npm run eval without --data reads the shared data where EMOTIOND_DATA_DIR points', async (t) => {
  const missing = path.join(os.tmpdir(), `emotiond-no-shared-data-${process.pid}`);
  const env = { ...process.env, EMOTIOND_DATA_DIR: missing };
  const err = await t.throwsAsync(
    promisify(execFile)(process.execPath, ['--import=tsx', 'models/eval/eval-model.ts', '--quick', '--model', model], { cwd: root, env, timeout: 60_000 }),
  );
  const e = err as Error & { code?: number; stderr?: string };
  t.is(e.code, 1, e.stderr);
  t.true((e.stderr ?? '').includes(path.join(missing, 'export_public.py')), e.stderr);
});

test('npm run eval rejects a bad flag with usage and exit code 2', async (t) => {
  const err = await t.throwsAsync(
    promisify(execFile)(process.execPath, ['--import=tsx', 'models/eval/eval-model.ts', '--limit', 'ten'], { cwd: root, timeout: 60_000 }),
  );
  const e = err as Error & { code?: number; stderr?: string };
  t.is(e.code, 2);
  t.regex(e.stderr ?? '', /--limit must be a positive integer[\s\S]*usage: npm run eval/);
});
