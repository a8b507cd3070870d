// The daemon's preprocessing must give the model exactly what training gave it.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import test from 'ava';
import cv from '../src/system/opencv.js';
import { cropFace, normalizeInto, parsePreprocessSpec, type PreprocessSpec } from '../src/classify/preprocess.js';
import { modelInfo } from '../src/classify/emotion-model.js';
import { dataFile, missingData, missingFile, missingShippedModel, shippedModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { projectRoot } from '../src/system/paths.js';

const PY = '/usr/bin/python3';
const N = 64;

function specOfShippedModel(): PreprocessSpec | null {
  const m = shippedModel();
  return m ? modelInfo(fs.readFileSync(m), m).preprocess : null;
}

const FER = 'fer2013/publictest.u8';

testUnless(firstMissing(missingData([FER]), missingShippedModel(), missingFile(PY)))(
  'normalisation matches the training code (python models/preprocess_check.py) on FER2013 images',
  (t) => {
    const fer = dataFile(FER) as string;
    const spec = specOfShippedModel() as PreprocessSpec;
    const pixels = fs.readFileSync(fer).subarray(0, N * 2304);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parity-'));
    fs.writeFileSync(path.join(dir, 'in.u8'), pixels);
    execFileSync(PY, [path.join(projectRoot(), 'models', 'preprocess_check.py'), path.join(dir, 'in.u8'), String(N), path.join(dir, 'out.f32')]);
    const py = new Float32Array(fs.readFileSync(path.join(dir, 'out.f32')).buffer.slice(0));
    const ts = new Float32Array(N * 2304);
    for (let i = 0; i < N; i++) normalizeInto(pixels.subarray(i * 2304, (i + 1) * 2304), spec, ts, i * 2304);
    let maxDiff = 0;
    for (let i = 0; i < ts.length; i++) maxDiff = Math.max(maxDiff, Math.abs((ts[i] as number) - (py[i] as number)));
    t.is(py.length, ts.length);
    t.true(maxDiff < 1e-4, `max |ts - python| = ${maxDiff}`);
  },
);

const CK_INDEX = 'ckplus/fullframe.json';
const CK_CROPS = 'ckplus/seq48.u8';

testUnless(missingData([CK_INDEX, CK_CROPS]))('face crops match the 48x48 Haar crops the training data was made with (cv2 INTER_AREA)', (t) => {
  const index = dataFile(CK_INDEX) as string;
  const crops = dataFile(CK_CROPS) as string;
  const meta = JSON.parse(fs.readFileSync(index, 'utf8')) as { sequences: Array<{ files: string[]; boxes: number[][]; offset: number }> };
  const all = fs.readFileSync(crops);
  let compared = 0;
  let worst = 0;
  for (const seq of meta.sequences.slice(0, 6)) {
    for (const k of [0, seq.files.length - 1]) {
      const [x, y, w, h] = seq.boxes[k] as [number, number, number, number];
      const gray = cv.imread(path.join(path.dirname(index), '..', 'ckplus', seq.files[k] as string), cv.IMREAD_GRAYSCALE);
      const mine = cropFace(gray, { x, y, width: w, height: h }, 48);
      gray.release();
      const theirs = all.subarray((seq.offset + k) * 2304, (seq.offset + k + 1) * 2304);
      for (let i = 0; i < 2304; i++) worst = Math.max(worst, Math.abs((mine[i] as number) - (theirs[i] as number)));
      compared += 1;
    }
  }
  t.is(compared, 12);
  t.true(worst <= 1, `largest pixel difference ${worst}`);
});

test('per-image and global normalisation follow their formulas', (t) => {
  const px = new Uint8Array(48 * 48).map((_, i) => i % 256);
  const g = parsePreprocessSpec(JSON.stringify({ size: 48, resize: 'area', scale: 1 / 255, norm: 'global', mean: 0.5, std: 0.25 }), 'test');
  const out = new Float32Array(48 * 48);
  normalizeInto(px, g, out);
  t.true(Math.abs((out[255] as number) - (1 - 0.5) / 0.25) < 1e-6);
  const p = parsePreprocessSpec(JSON.stringify({ size: 48, resize: 'area', scale: 1 / 255, norm: 'per_image' }), 'test');
  normalizeInto(px, p, out);
  const mean = out.reduce((a, b) => a + b, 0) / out.length;
  const std = Math.sqrt(out.reduce((a, b) => a + (b - mean) ** 2, 0) / out.length);
  t.true(Math.abs(mean) < 1e-5 && Math.abs(std - 1) < 1e-4, `mean ${mean} std ${std}`);
});

test('bad preprocessing metadata is rejected with the field named', (t) => {
  t.throws(() => parsePreprocessSpec('{"size": 48, "norm": "zscore"}', 'm.onnx'), { message: /m\.onnx: emotiond\.preprocess\.norm/ });
  t.throws(() => parsePreprocessSpec('{"size": "48"}', 'm.onnx'), { message: /emotiond\.preprocess\.size must be a number/ });
  t.throws(() => parsePreprocessSpec('not json', 'm.onnx'), { message: /not JSON/ });
});

test('a crop partly outside the frame is clamped; one fully outside is refused', (t) => {
  const gray = new cv.Mat(100, 100, cv.CV_8UC1, 128);
  t.is(cropFace(gray, { x: 80, y: 80, width: 40, height: 40 }, 48).length, 2304);
  t.throws(() => cropFace(gray, { x: 200, y: 0, width: 40, height: 40 }, 48), { message: /outside the 100x100 frame/ });
  gray.release();
});
