// CI smoke path of the training recipe: a tiny model trained for a few steps on a small slice, exported,
// quantized to int8 QDQ, and then loaded and stepped by the daemon's own model code.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import test from 'ava';
import { EmotionModel } from '../src/classify/emotion-model.js';
import { EMOTIONS } from '../src/types.js';
import { projectRoot } from '../src/system/paths.js';
import { missingData } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';

function torchMissing(): string | undefined {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import torch, onnx'], { encoding: 'utf8' });
  return r.status === 0 ? undefined : 'python3-torch / python3-onnx not installed (deploy/setup.sh --test installs them)';
}

testUnless(firstMissing(missingData(['fer2013/train.u8']), torchMissing()))(
  'models/make_model.sh --smoke trains, exports and quantizes a model the daemon can run',
  async (t) => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-smoke-'));
    const r = spawnSync('bash', [path.join(projectRoot(), 'models', 'make_model.sh'), '--smoke', out], { encoding: 'utf8', timeout: 170_000 });
    t.is(r.status, 0, `make_model.sh --smoke failed:\n${(r.stdout + r.stderr).slice(-2000)}`);
    const onnx = fs.readdirSync(out).filter((f) => f.endsWith('.int8.onnx'));
    t.is(onnx.length, 1, `int8 model in ${out}: ${fs.readdirSync(out).join(', ')}`);
    const model = await EmotionModel.load(path.join(out, onnx[0] as string), { threads: 1 });
    t.deepEqual(model.info.classes, [...EMOTIONS]);
    const size = model.inputSize;
    const faces = new Float32Array(3 * size * size).map((_, i) => Math.sin(i));
    const first = await model.step(faces, [undefined, undefined, undefined]);
    const second = await model.step(faces, first.states);
    for (const s of [...first.scores, ...second.scores]) {
      const sum = EMOTIONS.reduce((a, e) => a + s[e], 0);
      t.true(Math.abs(sum - 1) < 1e-3, `probabilities sum to ${sum}`);
    }
    t.notDeepEqual(first.states[0]?.h, second.states[0]?.h, 'the LSTM state moves from step to step');
    await model.release();
  },
);

test('the shipped model has the streaming interface, metadata and size budget', async (t) => {
  const p = path.join(projectRoot(), 'models', 'emotion-cnn-lstm.int8.onnx');
  if (!fs.existsSync(p)) return t.fail('models/emotion-cnn-lstm.int8.onnx is missing');
  t.true(fs.statSync(p).size <= 1.5 * 1024 * 1024, `size ${fs.statSync(p).size} bytes`);
  const model = await EmotionModel.load(p, { threads: 1 });
  t.deepEqual(model.info.classes, [...EMOTIONS]);
  t.regex(model.info.metadata['emotiond.quantization'] ?? '', /int8/);
  await model.release();
});
