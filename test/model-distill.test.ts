// CPU smoke path of the model 2.0 device run (models/distill.py run, through make_model.sh --distill-smoke):
// a narrow teacher and one distilled student for a few steps, stage 2, export, int8, the evaluation and the
// bundle the GPU run returns; then the daemon's own model code loads and steps the student's int8 graph.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import test from 'ava';
import { EmotionModel } from '../src/classify/emotion-model.js';
import { EMOTIONS } from '../src/types.js';
import { projectRoot } from '../src/system/paths.js';
import { dataFile, missingData } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';

const PY = '/usr/bin/python3';
const DISTILL = path.join(projectRoot(), 'models', 'distill.py');

function torchMissing(): string | undefined {
  const r = spawnSync(PY, ['-c', 'import torch, onnx, matplotlib'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'python3-torch / python3-onnx / python3-matplotlib not installed (deploy/setup.sh --test installs them)';
}

const VIEWS = ['clean', 'jpeg_q25', 'blur_1.2', 'gamma_0.5', 'gamma_2.0', 'small_20px', 'ckplus_apex_eval_subjects'];

interface Recall {
  acc: number;
  macro_f1: number;
  n: number;
  recall: Record<string, number>;
}

function checkRecall(t: import('ava').ExecutionContext, r: Recall | undefined, where: string): void {
  t.truthy(r, `${where} is missing`);
  if (!r) return;
  t.true(r.acc >= 0 && r.acc <= 1 && r.n > 0, `${where}: acc ${r.acc} over ${r.n}`);
  t.deepEqual(Object.keys(r.recall), [...EMOTIONS], `${where}: per-class recall of the six classes`);
}

testUnless(torchMissing())('distill.py selftest: JPEG, blur, cross-population augmentation, the KD loss and the teacher size', (t) => {
  const r = spawnSync(PY, [DISTILL, 'selftest'], { encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 0, `selftest failed:\n${r.stdout}${r.stderr}`);
  const checks = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
  t.true(checks.ok === true, JSON.stringify(checks));
  t.true((checks.teacher_params_M as number) >= 5, `teacher ${String(checks.teacher_params_M)} M parameters`);
});

testUnless(firstMissing(missingData(['fer2013/train.u8', 'ckplus/ck48.u8', 'export_public.py']), torchMissing()))(
  'make_model.sh --distill-smoke: teacher, distilled student, export, int8 and results in the device bundle',
  async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-distill-'));
    // Its own copy of the public formats: make_model.sh --smoke (model-recipe) may be writing models/data now.
    const data = path.join(dir, 'data');
    const ex = spawnSync(PY, [dataFile('export_public.py') as string, data], { encoding: 'utf8', timeout: 120_000 });
    t.is(ex.status, 0, `export_public.py failed:\n${ex.stdout}${ex.stderr}`);
    const r = spawnSync('bash', [path.join(projectRoot(), 'models', 'make_model.sh'), '--distill-smoke', dir, '--data', data], {
      encoding: 'utf8',
      timeout: 240_000,
    });
    t.is(r.status, 0, `make_model.sh --distill-smoke failed:\n${(r.stdout + r.stderr).slice(-3000)}`);
    const out = path.join(dir, 'out');
    t.deepEqual(fs.readdirSync(out).sort(), ['curves.png', 'results.json', 'students.tar', 'teacher.pt', 'teacher_probs.npy']);
    const res = JSON.parse(fs.readFileSync(path.join(out, 'results.json'), 'utf8'));
    t.deepEqual(res.exit_codes, { 'C6-d1': 0 });
    t.true(res.teacher.history.length >= 1 && res.teacher.params > 0);
    checkRecall(t, res.teacher.publictest, 'teacher.publictest');
    checkRecall(t, res.teacher.publictest_mirror, 'teacher.publictest_mirror');
    for (const v of VIEWS) checkRecall(t, res.teacher.robustness_mirror?.[v], `teacher.robustness_mirror.${v}`);
    const s = res.students['C6-d1'];
    t.truthy(s, 'students.C6-d1 in results.json');
    checkRecall(t, s.still_head, 'C6-d1.still_head');
    for (const v of VIEWS) checkRecall(t, s.step1_fp32_torch?.[v], `C6-d1.step1_fp32_torch.${v}`);
    t.true(s.history.some((h: { stage: number }) => h.stage === 1) && s.history.some((h: { stage: number }) => h.stage === 2), 'both stages ran');
    t.true(s.cfg.alpha > 0 && s.cfg.tau > 0 && s.cfg.domain === 1, 'the student learns from the teacher, with the cross-population augmentation');
    const list = spawnSync('tar', ['-tf', path.join(out, 'students.tar')], { encoding: 'utf8' }).stdout.split('\n');
    for (const f of ['run.log', 'C6-d1/model.pt', 'C6-d1/emotion-cnn-lstm.int8.onnx', 'C6-d1/student.json']) {
      t.true(list.includes(f), `${f} in students.tar: ${list.join(', ')}`);
    }
    const x = spawnSync('tar', ['-xf', path.join(out, 'students.tar'), '-C', dir, 'C6-d1/emotion-cnn-lstm.int8.onnx']);
    t.is(x.status, 0);
    const model = await EmotionModel.load(path.join(dir, 'C6-d1', 'emotion-cnn-lstm.int8.onnx'), { threads: 1 });
    t.deepEqual(model.info.classes, [...EMOTIONS]);
    t.regex(model.info.metadata['emotiond.quantization'] ?? '', /int8/);
    const size = model.inputSize;
    const faces = new Float32Array(2 * size * size).map((_, i) => Math.cos(i));
    const first = await model.step(faces, [undefined, undefined]);
    for (const sc of first.scores) {
      const sum = EMOTIONS.reduce((a, e) => a + sc[e], 0);
      t.true(Math.abs(sum - 1) < 1e-3, `probabilities sum to ${sum}`);
    }
    await model.release();
    fs.rmSync(dir, { recursive: true, force: true });
  },
);
