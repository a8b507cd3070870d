// The classifier's schedule with the real int8 model on a real OpenCV frame: every face is stepped at the
// model's trained rate (emotiond.step_hz), whatever the frame rate, and when a frame cannot take every face
// that is due, the faces that waited longest go first: none starves.
import test from 'ava';
import cv from '../src/system/opencv.js';
import { EmotionModel } from '../src/classify/emotion-model.js';
import { FaceClassifier } from '../src/classify/face-classifier.js';
import { newTrack } from '../src/track/face-tracker.js';
import { createLogger } from '../src/system/logger.js';
import { fromRoot } from '../src/system/paths.js';
import { argmax, type Face } from '../src/types.js';

const MODEL = fromRoot('models/emotion-cnn-lstm.int8.onnx');
const logger = createLogger({ level: 'silent', pretty: 'no' });

function faces(n: number): Face[] {
  return Array.from({ length: n }, (_, i) => {
    const t = newTrack(i + 1, { box: { x: 10 + (i % 10) * 60, y: 10 + Math.floor(i / 10) * 60, width: 50, height: 50 }, score: 20 }, 0);
    t.geometry.status = 'confirmed';
    return t;
  });
}

/** A gray frame with some texture (a pattern of bands and noise from a fixed seed): what the crops are taken from. */
function frame(): cv.Mat {
  const px = Buffer.alloc(480 * 640);
  let seed = 7;
  for (let i = 0; i < px.length; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    px[i] = ((i % 640 >> 3) * 16 + (seed >> 24)) & 0xff;
  }
  return new cv.Mat(px, 480, 640, cv.CV_8UC1);
}

test('the shipped model says its step rate, and each face is stepped at it on a 30 fps camera (every other frame)', async (t) => {
  const model = await EmotionModel.load(MODEL, { threads: 1 });
  t.is(model.stepHz, 15);
  t.false(model.info.stepHzAssumed);
  const c = new FaceClassifier(model, 32, logger);
  const gray = frame();
  const list = faces(3);
  const perFrame: number[] = [];
  for (let i = 0; i < 60; i++) perFrame.push((await c.classify(gray, list, (i * 1000) / 30)).length);
  gray.release();
  await model.release();
  for (const f of list) t.is(f.model.steps?.count, 30, `face ${f.id}: ${f.model.steps?.count} steps in 2 s`);
  t.deepEqual(perFrame.slice(0, 6), [3, 0, 3, 0, 3, 0]);
  const r = c.rates(list);
  t.is(r.min_hz, 15);
  t.is(r.faces, 3);
});

test('faces that arrive on different frames are stepped on the same frames after their first step, each at the model rate', async (t) => {
  const model = await EmotionModel.load(MODEL, { threads: 1 });
  const c = new FaceClassifier(model, 32, logger);
  const gray = frame();
  const list = faces(4);
  // Face k appears on frame k (30 fps): on its own, each would keep the phase of its first step.
  const arrive = [0, 1, 2, 3];
  const calls: number[][] = [];
  for (let i = 0; i < 90; i++) {
    const done = await c.classify(
      gray,
      list.filter((_, k) => arrive[k]! <= i),
      (i * 1000) / 30,
    );
    calls.push(done.map((f) => f.id));
  }
  gray.release();
  await model.release();
  // The first step comes on the frame a face appears, then its steps join the others' frames.
  for (const [k, f] of list.entries()) t.true(calls[arrive[k]!]!.includes(f.id), `face ${f.id} stepped on arrival`);
  const later = calls.slice(10).filter((ids) => ids.length > 0);
  t.true(
    later.every((ids) => ids.length === 4),
    `from the 10th frame on, every model call steps all 4 faces: ${later.map((ids) => ids.length).join(',')}`,
  );
  t.is(later.length, 40, 'one call every other frame (15 Hz at 30 fps)');
  for (const f of list) {
    const n = calls.filter((ids) => ids.includes(f.id)).length;
    t.true(n >= 45 - 2 && n <= 46, `face ${f.id}: ${n} steps in 3 s at 15 Hz`);
  }
});

test('20 faces due on every frame, 4 per frame: round-robin, every face at the same rate, none waits long', async (t) => {
  const model = await EmotionModel.load(MODEL, { threads: 1 });
  const c = new FaceClassifier(model, 4, logger);
  const gray = frame();
  const list = faces(20);
  const steppedAt = new Map<number, number[]>();
  // 10 fps: every face is due on every frame (period 67 ms < 100 ms), 4 can be stepped per frame.
  for (let i = 0; i < 50; i++) {
    const done = await c.classify(gray, list, i * 100);
    t.is(done.length, 4);
    for (const f of done) steppedAt.set(f.id, [...(steppedAt.get(f.id) ?? []), i]);
  }
  gray.release();
  await model.release();
  for (const f of list) {
    const at = steppedAt.get(f.id) ?? [];
    t.is(at.length, 10, `face ${f.id} stepped ${at.length} times in 50 frames`);
    const gaps = at.slice(1).map((x, k) => x - (at[k] as number));
    t.true(Math.max(...gaps) <= 5, `face ${f.id}: gaps ${gaps.join(',')}`);
  }
  const r = c.rates(list);
  t.is(r.min_hz, 2);
  t.is(r.median_hz, 2);
});

/** Steps of each face per frame over `frames` frames at 30 fps from `t0`, with `moved` telling which faces moved
 * on frame i (null = no motion gate), and the label committed to the leader after each step as the event gate does
 * once the face is labelled. */
async function run(c: FaceClassifier, gray: cv.Mat, list: Face[], frames: number, moved: ((i: number, f: Face) => boolean) | null, t0 = 0) {
  const stepped: number[][] = list.map(() => []);
  for (let i = 0; i < frames; i++) {
    const gate = moved === null ? null : (box: Face['geometry']['box']) => list.some((f) => f.geometry.box === box && moved(i, f));
    const done = await c.classify(gray, list, t0 + (i * 1000) / 30, gate);
    for (const f of done) {
      stepped[list.indexOf(f)]!.push(i);
      if (f.model.scores) f.label.committed = argmax(f.model.scores);
    }
  }
  return stepped;
}

test('motion gate: a still face whose output settled is stepped at classifier.still_hz; motion in its box brings it back at once', async (t) => {
  const model = await EmotionModel.load(MODEL, { threads: 1 });
  const gray = frame();
  const c = new FaceClassifier(model, 32, logger, 5);
  const list = faces(3);
  // 4 s on a picture that does not change: each face settles within its first second, then runs at 5 Hz.
  const still = await run(c, gray, list, 120, () => false);
  for (const [k, at] of still.entries()) {
    const late = at.filter((i) => i >= 60).length;
    t.true(late >= 9 && late <= 11, `face ${k + 1}: ${late} steps in the last 2 s (5 Hz is 10)`);
    t.true(at.filter((i) => i < 15).length >= 7, `face ${k + 1}: the first half second at 15 Hz (${at.join(',')})`);
  }
  // Settled, the three are stepped on the same frames: one model call for the three.
  const lateFrames = still.map((at) => at.filter((i) => i >= 60).join(','));
  t.true(
    lateFrames.every((x) => x === lateFrames[0]),
    `settled faces share their frames: ${lateFrames.join(' | ')}`,
  );
  // Face 1 moves from frame 130 to 159: it is stepped on frame 130, then at 15 Hz; the others stay at 5 Hz.
  const after = await run(c, gray, list, 60, (i, f) => f.id === 1 && i >= 10 && i < 40, 4000);
  t.is(after[0]!.filter((i) => i === 10).length, 1, `face 1 steps on the frame its box moved (${after[0]!.join(',')})`);
  t.true(after[0]!.filter((i) => i >= 10 && i < 40).length >= 14, `face 1 at 15 Hz while it moves: ${after[0]!.join(',')}`);
  t.true(after[1]!.filter((i) => i >= 10 && i < 40).length <= 6, `face 2 stays at 5 Hz: ${after[1]!.join(',')}`);
  const r = c.rates(list);
  t.true((r.min_hz ?? 0) >= 5, `slowest face ${r.min_hz} Hz`);
  gray.release();
  await model.release();
});

test('no motion gate (or still_hz 0), or a label still pending: every face at the model rate', async (t) => {
  const model = await EmotionModel.load(MODEL, { threads: 1 });
  const gray = frame();
  const noGate = await run(new FaceClassifier(model, 32, logger, 5), gray, faces(2), 90, null);
  const off = await run(new FaceClassifier(model, 32, logger, 0), gray, faces(2), 90, () => false);
  const pendingFaces = faces(2);
  const c = new FaceClassifier(model, 32, logger, 5);
  const stepped: number[] = [];
  for (let i = 0; i < 90; i++) {
    const done = await c.classify(gray, pendingFaces, (i * 1000) / 30, () => false);
    for (const f of done) {
      stepped.push(i);
      // Another label leads but is not committed yet (events.hold_s): the face must keep its rate.
      f.label.committed = argmax(f.model.scores!);
      f.label.pending = { emotion: f.label.committed === 'Happy' ? 'Sad' : 'Happy', sinceMs: 0 };
    }
  }
  for (const at of [...noGate, ...off]) t.is(at.length, 45);
  t.is(stepped.length, 90);
  gray.release();
  await model.release();
});
