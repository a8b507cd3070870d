import test from 'ava';
import cv from '../src/system/opencv.js';
import { FaceDetector, cascadeWindow, sizeBands, suppress } from '../src/detect/face-detector.js';
import { resolveCascade } from '../src/detect/cascade-file.js';
import { loadConfig } from '../src/config/load.js';
import { missingDataMessage, sharedDataDir } from '../src/tools/clips/data.js';
import { missingFile } from './helpers/shared-data.js';
import { testUnless } from './helpers/skip.js';
import { threeFaces } from '../src/tools/clips/reference.js';
import { iou } from '../src/track/geometry.js';
import type { Box } from '../src/types.js';

const ASTRONAUT = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';
const detector = loadConfig({ env: {} }).config.detector;

test('size bands cover the whole pyramid, overlap, and split it into parts of similar cost', (t) => {
  const bands = sizeBands(24, 19, 240, 1.1, 5);
  t.is(bands.length, 5);
  t.is(bands[0]?.min, 24);
  t.is(bands.at(-1)?.max, 240);
  for (let i = 1; i < bands.length; i++) t.true((bands[i]?.min ?? 0) <= (bands[i - 1]?.max ?? 0), `band ${i} overlaps band ${i - 1}`);
  t.deepEqual(sizeBands(24, 19, 240, 1.1, 1), [{ min: 19, max: 240 }]);
});

test('cascade windows are read from the XML', (t) => {
  t.is(cascadeWindow(resolveCascade('haar')), 24);
  t.is(cascadeWindow(resolveCascade('lbp')), 45);
});

test('a missing cascade names every place it looked', (t) => {
  t.throws(() => resolveCascade('/nope/face.xml'), { message: /detector\.cascade "\/nope\/face\.xml": none of \/nope\/face\.xml exists/ });
});

for (const kind of ['haar', 'lbp']) {
  testUnless(missingFile(ASTRONAUT, 'python3-skimage'))(`${kind} cascade finds the one face of astronaut.png (Debian python3-skimage), boxes in frame coordinates`, (t) => {
    const d = new FaceDetector(detector, resolveCascade(kind));
    const gray = cv.imread(ASTRONAUT, cv.IMREAD_GRAYSCALE);
    const { detections } = d.detect(gray, []);
    gray.release();
    const strong = detections.filter((x) => x.score >= 8);
    t.is(strong.length, 1, JSON.stringify(detections));
    const b = strong[0]?.box;
    // The face is around x 170-270, y 60-160 in the 512x512 photo.
    t.true(b !== undefined && b.x > 150 && b.x < 200 && b.y > 40 && b.y < 90 && b.width > 60 && b.width < 130, JSON.stringify(b));
  });
}

test('suppression keeps one box per face: the best voted, and drops a box inside another', (t) => {
  const kept = suppress([
    { box: { x: 0, y: 0, width: 100, height: 100 }, score: 10 },
    { box: { x: 5, y: 5, width: 100, height: 100 }, score: 30 },
    { box: { x: 20, y: 20, width: 30, height: 30 }, score: 50 },
    { box: { x: 300, y: 0, width: 100, height: 100 }, score: 9 },
  ]);
  t.deepEqual(kept.map((k) => [k.box.x, k.score]), [[5, 50], [300, 9]]);
});

/** Frame `index` of a video, gray. */
function grayFrame(file: string, index: number): cv.Mat {
  const cap = new cv.VideoCapture(file);
  try {
    cap.set(cv.CAP_PROP_POS_FRAMES, index);
    const frame = cap.read();
    if (frame.empty) throw new Error(`${file}: no frame ${index}`);
    return frame.bgrToGray();
  } finally {
    cap.release();
  }
}

const dataDir = sharedDataDir();

testUnless(dataDir ? undefined : missingDataMessage())('tracked faces are masked out of the band search, and an untracked face beside them is still found once per face', (t) => {
  const clip = threeFaces(dataDir as string);
  const gray = grayFrame(clip.path, 100);
  try {
    const faces = new FaceDetector(detector, resolveCascade('haar')).detect(gray, []).detections;
    t.is(faces.length, 3, `whole pyramid, no tracks: ${JSON.stringify(faces)}`);
    const [a, b, c] = [...faces].sort((p, q) => p.box.x - q.box.x).map((f) => f.box) as [Box, Box, Box];
    // Two faces tracked, the third new: over one cycle of bands the third must turn up (band search on the
    // masked frame) and the tracked two must come back from their track windows, never twice.
    const d = new FaceDetector(detector, resolveCascade('haar'));
    let newFaceSeen = 0;
    for (let i = 0; i < detector.full_every + 1; i++) {
      const { detections } = d.detect(gray, [a, b]);
      for (const tracked of [a, b]) t.is(detections.filter((x) => iou(x.box, tracked) > 0.5).length, 1, `frame ${i}: ${JSON.stringify(detections)}`);
      t.true(detections.length <= 3, `frame ${i}: ${JSON.stringify(detections)}`);
      if (detections.some((x) => iou(x.box, c) > 0.5)) newFaceSeen++;
    }
    t.true(newFaceSeen >= 1, `the untracked face at ${JSON.stringify(c)} was never found`);
  } finally {
    gray.release();
  }
});
