import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readFerCsv, type FerRow } from '../models/eval/fer-csv.js';
import { readCkPlus, parseEmotionFile } from '../models/eval/ckplus.js';
import { EmotiondError } from '../src/errors.js';
import { checkDataDir, isCompleteExport } from '../models/eval/data-dir.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-eval-test-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

const pixels = (v: number, n = 2304): string => Array.from({ length: n }, (_, i) => (v + i) % 256).join(' ');
const csv = (name: string, rows: string[]): string => {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, ['emotion,pixels,Usage', ...rows].join('\n') + '\n');
  return file;
};
const read = async (file: string): Promise<{ rows: FerRow[]; error?: EmotiondError }> => {
  const rows: FerRow[] = [];
  try {
    await readFerCsv(file, (r) => rows.push(r));
    return { rows };
  } catch (err) {
    return { rows, error: err as EmotiondError };
  }
};

test('FER CSV: PublicTest rows are mapped to our classes, Disgust dropped, other usages skipped', async (t) => {
  const file = csv('good.csv', [
    `0,${pixels(1)},Training`,
    `3,${pixels(2)},PublicTest`,
    `1,${pixels(3)},PublicTest`,
    `6,${pixels(4)},PublicTest`,
    `2,${pixels(5)},PrivateTest`,
    `0,${pixels(6)},PublicTest`,
  ]);
  const rows: FerRow[] = [];
  const stats = await readFerCsv(file, (r) => rows.push(r));
  t.deepEqual(stats, { rows: 6, kept: 3, dropped: 1 });
  t.deepEqual(
    rows.map((r) => [r.line, r.ferLabel, r.emotion]),
    [
      [3, 3, 'Happy'],
      [5, 6, 'Neutral'],
      [7, 0, 'Angry'],
    ],
  );
  t.is(rows[0]?.pixels.length, 2304);
  t.is(rows[0]?.pixels[0], 2);
  t.is(rows[0]?.pixels[300], (2 + 300) % 256);
  const limited: FerRow[] = [];
  await readFerCsv(file, (r) => limited.push(r), { limit: 2 });
  t.is(limited.length, 2);
});

test('FER CSV: a row with the wrong pixel count stops the read naming the line; good rows before it are kept', async (t) => {
  const file = csv('short.csv', [`3,${pixels(2)},PublicTest`, `4,${pixels(2)},PublicTest`, `5,${pixels(2, 2303)},PublicTest`, `3,${pixels(2)},PublicTest`]);
  const { rows, error } = await read(file);
  t.true(error instanceof EmotiondError);
  t.is(error?.code, 'EMD_DATASET');
  t.regex(error?.message ?? '', /short\.csv line 4: expected 2304 pixel values, got 2303 \(2 good rows before it were read\)/);
  t.deepEqual(
    rows.map((r) => r.emotion),
    ['Happy', 'Sad'],
  );
});

test('FER CSV: a bad label names the line, even on a row of another usage', async (t) => {
  const { rows, error } = await read(csv('label.csv', [`3,${pixels(2)},PublicTest`, `7,${pixels(2)},Training`]));
  t.is(error?.code, 'EMD_DATASET');
  t.regex(error?.message ?? '', /label\.csv line 3: emotion "7" is not a FER2013 label 0\.\.6/);
  t.is(rows.length, 1);
  const other = await read(csv('label2.csv', [`happy,${pixels(2)},PublicTest`]));
  t.regex(other.error?.message ?? '', /label2\.csv line 2: emotion "happy"/);
});

test('FER CSV: non-numeric and out-of-range pixels name the line and the pixel', async (t) => {
  const bad = pixels(0).split(' ');
  bad[9] = '12a';
  const { error } = await read(csv('nan.csv', [`3,${pixels(2)},PublicTest`, `3,${bad.join(' ')},PublicTest`]));
  t.regex(error?.message ?? '', /nan\.csv line 3: pixel 10 is "12a", not an integer 0\.\.255 \(1 good rows before it were read\)/);
  bad[9] = '256';
  const big = await read(csv('big.csv', [`3,${bad.join(' ')},PublicTest`]));
  t.regex(big.error?.message ?? '', /big\.csv line 2: pixel 10 is "256"/);
});

test('FER CSV: missing file, missing column and too few fields are EMD_DATASET errors naming the file', async (t) => {
  const missing = await read(path.join(tmp, 'nope.csv'));
  t.regex(missing.error?.message ?? '', /nope\.csv: file not found/);
  const header = path.join(tmp, 'header.csv');
  fs.writeFileSync(header, `label,pixels,Usage\n3,${pixels(0)},PublicTest\n`);
  t.regex((await read(header)).error?.message ?? '', /header\.csv line 1: header has no "emotion" column/);
  t.regex((await read(csv('fields.csv', ['3']))).error?.message ?? '', /fields\.csv line 2: expected 3 comma-separated fields/);
});

function ckLayout(root: string, seqs: Array<[string, string, string, number]>): void {
  for (const [subject, sequence, label, frames] of seqs) {
    const img = path.join(root, 'cohn-kanade-images', subject, sequence);
    const emo = path.join(root, 'Emotion', subject, sequence);
    fs.mkdirSync(img, { recursive: true });
    fs.mkdirSync(emo, { recursive: true });
    for (let f = frames; f >= 1; f--) fs.writeFileSync(path.join(img, `${subject}_${sequence}_${String(f).padStart(8, '0')}.png`), '');
    if (label) fs.writeFileSync(path.join(emo, `${subject}_${sequence}_${String(frames).padStart(8, '0')}_emotion.txt`), label);
  }
}

test('CK+ layout: labelled sequences in order with frames sorted; contempt/disgust dropped; unlabelled skipped', (t) => {
  const root = path.join(tmp, 'ck-good');
  ckLayout(root, [
    ['S010', '002', '   5.0000000e+00\n', 3],
    ['S010', '001', '   7.0000000e+00\n', 2],
    ['S011', '001', '   2.0000000e+00\n', 2],
    ['S011', '004', '   3.0000000e+00\n', 2],
    ['S012', '001', '', 2],
  ]);
  const ck = readCkPlus(root);
  t.deepEqual(
    ck.sequences.map((s) => [s.subject, s.sequence, s.emotion, s.ckCode, s.frames.length]),
    [
      ['S010', '001', 'Surprise', 7, 2],
      ['S010', '002', 'Happy', 5, 3],
    ],
  );
  t.deepEqual(ck.dropped, { '2': 1, '3': 1 });
  t.deepEqual(
    ck.sequences[1]?.frames.map((f) => path.basename(f)),
    ['S010_002_00000001.png', 'S010_002_00000002.png', 'S010_002_00000003.png'],
  );
});

test('CK+ layout: a malformed label file or a missing folder is an EMD_DATASET error naming the file', (t) => {
  const root = path.join(tmp, 'ck-bad');
  ckLayout(root, [['S020', '001', 'happy\n', 2]]);
  const err = t.throws(() => readCkPlus(root));
  t.regex(err?.message ?? '', /S020_001_00000002_emotion\.txt line 1: "happy" is not a CK\+ emotion code 0\.\.7/);
  t.is((err as EmotiondError).code, 'EMD_DATASET');
  t.regex(t.throws(() => readCkPlus(path.join(tmp, 'none')))?.message ?? '', /none[/\\]Emotion: folder not found/);
  t.throws(() => parseEmotionFile('\n  9.0e+00\n', 'x.txt'), { message: /x\.txt line 2: "9\.0e\+00" is not a CK\+ emotion code/ });
  t.is(parseEmotionFile('   6.0000000e+00\n', 'y.txt'), 6);
});

test('data folder: an export is reused only when complete; --data names the first missing file', (t) => {
  const shared = path.join(tmp, 'shared');
  fs.mkdirSync(path.join(shared, 'ckplus'), { recursive: true });
  fs.writeFileSync(path.join(shared, 'ckplus', 'fullframe.json'), JSON.stringify({ sequences: [{ subject: 'S010', sequence: '001', files: ['a', 'b'] }] }));
  const dir = path.join(tmp, 'export');
  ckLayout(path.join(dir, 'CK+'), [['S010', '001', '   5.0000000e+00\n', 2]]);
  fs.writeFileSync(path.join(dir, 'fer2013.csv'), `emotion,pixels,Usage\n3,${pixels(0)},Training\n3,${pixels(0)},PublicTe`);
  t.false(isCompleteExport(dir, shared), 'CSV cut short');
  fs.appendFileSync(path.join(dir, 'fer2013.csv'), 'st\n');
  t.true(isCompleteExport(dir, shared));
  fs.rmSync(path.join(dir, 'CK+', 'cohn-kanade-images', 'S010', '001', 'S010_001_00000002.png'));
  t.false(isCompleteExport(dir, shared), 'a frame is missing');
  const err = t.throws(() => checkDataDir(path.join(tmp, 'empty')));
  t.is((err as EmotiondError).code, 'EMD_DATASET');
  t.regex(err?.message ?? '', /empty[/\\]fer2013\.csv: not found/);
});
