import test from 'ava';
import cv from '../src/system/opencv.js';
import { FaceDetector, cascadeWindow, suppress } from '../src/detect/face-detector.js';
import { resolveCascade } from '../src/detect/cascade-file.js';
import { loadConfig } from '../src/config/load.js';
import { missingDataMessage, sharedDataDir } from './helpers/clips/data.js';
import { missingFile } from './helpers/shared-data.js';
import { testUnless } from './helpers/skip.js';
import { threeFaces } from './helpers/clips/reference.js';
import { iou } from '../src/geometry.js';
import type { Box } from '../src/types.js';

const ASTRONAUT = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';
const detector = loadConfig({ env: {} }).config.detector;

test('cascade windows are read from the XML', (t) => {
  t.is(cascadeWindow(resolveCascade('haar')), 24);
  t.is(cascadeWindow(resolveCascade('lbp')), 45);
});

test('a missing cascade file is named, with the reason', (t) => {
  t.throws(() => resolveCascade('/nope/face.xml'), { message: /detector\.cascade \/nope\/face\.xml: no such file/ });
});

for (const kind of ['haar', 'lbp']) {
  testUnless(missingFile(ASTRONAUT, 'python3-skimage'))(
    `${kind} cascade finds the one face of astronaut.png (Debian python3-skimage), boxes in frame coordinates`,
    (t) => {
      const d = new FaceDetector(detector, resolveCascade(kind));
      const gray = cv.imread(ASTRONAUT, cv.IMREAD_GRAYSCALE);
      const detections = d.detect(gray, [], 0).all;
      gray.release();
      const strong = detections.filter((x) => x.score >= 8);
      t.is(strong.length, 1, JSON.stringify(detections));
      const b = strong[0]?.box;
      // The face is around x 170-270, y 60-160 in the 512x512 photo.
      t.true(b !== undefined && b.x > 150 && b.x < 200 && b.y > 40 && b.y < 90 && b.width > 60 && b.width < 130, JSON.stringify(b));
    },
  );
}

test('suppression keeps one box per face: the best voted, and drops a box inside another', (t) => {
  const kept = suppress([
    { box: { x: 0, y: 0, width: 100, height: 100 }, score: 10 },
    { box: { x: 5, y: 5, width: 100, height: 100 }, score: 30 },
    { box: { x: 20, y: 20, width: 30, height: 30 }, score: 50 },
    { box: { x: 300, y: 0, width: 100, height: 100 }, score: 9 },
  ]);
  t.deepEqual(
    kept.map((k) => [k.box.x, k.score]),
    [
      [5, 50],
      [300, 9],
    ],
  );
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

testUnless(dataDir ? undefined : missingDataMessage())(
  'without the motion gate (continuous sweeps): tracked faces are probed at track_hz and masked out of the sweep, and an untracked face beside them is still found by the sweep',
  (t) => {
    const clip = threeFaces(dataDir as string);
    const gray = grayFrame(clip.path, 100);
    try {
      const faces = new FaceDetector(detector, resolveCascade('haar')).detect(gray, [], 0).all;
      t.is(faces.length, 3, `first frame, the whole sweep, no tracks: ${JSON.stringify(faces)}`);
      const [a, b, c] = [...faces].sort((p, q) => p.box.x - q.box.x).map((f) => f.box) as [Box, Box, Box];
      // Two faces tracked, the third new. For a second of frames: the tracked two are probed at track_hz and
      // found by their probe, never by the sweep (they are painted over); the third turns up in the sweep.
      const tracked = [
        { id: 1, probe: {}, geometry: { box: a, status: 'confirmed' as const, misses: 0 } },
        { id: 2, probe: {}, geometry: { box: b, status: 'confirmed' as const, misses: 0 } },
      ];
      // The same frame over and over: behind the motion gate nothing would be searched again (motion-gate.test.ts).
      const d = new FaceDetector({ ...detector, sweep_interval_s: 0 }, resolveCascade('haar'));
      let newFaceSeen = 0;
      const probes = new Map<number, number>();
      for (let i = 0; i < 30; i++) {
        const round = d.detect(gray, tracked, i * 33);
        for (const [id, hit] of round.probed) {
          probes.set(id, (probes.get(id) ?? 0) + 1);
          const box = (tracked.find((x) => x.id === id) as (typeof tracked)[number]).geometry.box;
          t.true(hit !== null && iou(hit.box, box) > 0.5, `frame ${i}: probe of track ${id} found ${JSON.stringify(hit)}`);
        }
        for (const own of [a, b])
          t.false(
            round.found.some((x) => iou(x.box, own) > 0.3),
            `frame ${i}: a tracked face came back from the sweep: ${JSON.stringify(round.found)}`,
          );
        t.true(round.all.length <= 3, `frame ${i}: ${JSON.stringify(round.all)}`);
        if (round.found.some((x) => iou(x.box, c) > 0.5)) newFaceSeen++;
      }
      t.true(newFaceSeen >= 2, `the untracked face at ${JSON.stringify(c)} was found on ${newFaceSeen} frames: on the first and in at least one later sweep`);
      // 30 frames at 33 ms is one second: each track probed at about track_hz, not on every frame.
      for (const id of [1, 2]) t.true(Math.abs((probes.get(id) ?? 0) - detector.track_hz) <= 1, `track ${id} probed ${probes.get(id)} times in a second`);
    } finally {
      gray.release();
    }
  },
);

testUnless(dataDir ? undefined : missingDataMessage())(
  'a new track is probed in a narrower window than a moving one: its face found a sixth of its side away, and after one miss 0.45 of a side away',
  (t) => {
    const clip = threeFaces(dataDir as string);
    const gray = grayFrame(clip.path, 100);
    try {
      const faces = new FaceDetector(detector, resolveCascade('haar')).detect(gray, [], 0).all;
      t.is(faces.length, 3);
      const face = ([...faces].sort((p, q) => p.box.x - q.box.x)[1] as { box: Box }).box;
      /** This frame's probe of one track whose box is `shift` of the face's side below the face (the faces sit in a
       * row: none below). */
      const probe = (shift: number, status: 'tentative' | 'confirmed', misses: number): Box | null => {
        const d = new FaceDetector({ ...detector, sweep_interval_s: 3600 }, resolveCascade('haar'));
        d.detect(gray, [], 0);
        const box = { ...face, y: face.y + shift * face.height };
        return d.detect(gray, [{ id: 1, probe: { nextMs: 0 }, geometry: { box, status, misses } }], 33).probed.get(1)?.box ?? null;
      };
      const near = probe(0.15, 'tentative', 0);
      t.true(near !== null && iou(near, face) > 0.7, `a new track a sixth of a side off its face: ${JSON.stringify(near)}`);
      // A quarter of its side around a new track's box: a face 0.45 of a side off is not all inside.
      t.is(probe(0.45, 'tentative', 0), null, 'a new track 0.45 of a side off its face is missed by its first probe');
      // After the miss the window is twice as wide; a moving face's probe (roi_margin 0.5) holds it at once.
      for (const [status, misses] of [
        ['tentative', 1],
        ['confirmed', 0],
      ] as const) {
        const found = probe(0.45, status, misses);
        t.true(found !== null && iou(found, face) > 0.7, `${status}, ${misses} miss(es), 0.45 of a side off: ${JSON.stringify(found)}`);
      }
    } finally {
      gray.release();
    }
  },
);
