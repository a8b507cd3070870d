// The daemon's FaceDetector (real OpenCV, real Haar cascade) on real photos: recall and false positives
// on the 9 labelled facetest photos, nothing confirmed on the face-free dogs.jpg, one face on astronaut.png.
import fs from 'node:fs';
import test, { type ExecutionContext } from 'ava';
import cv from '../src/system/opencv.js';
import { FaceDetector } from '../src/detect/face-detector.js';
import { resolveCascade } from '../src/detect/cascade-file.js';
import { FaceTracker } from '../src/track/face-tracker.js';
import { iou } from '../src/geometry.js';
import type { Box, Detection, Face } from '../src/types.js';
import { configWith } from './bench/run-clip.js';
import { missingDataMessage, negativePhoto, readFacetestPhotos, sharedDataDir } from './helpers/clips/data.js';

const dataDir = sharedDataDir();
if (!dataDir) console.log(`detection-photos: skipping the facetest photos: ${missingDataMessage()}`);
const dataTest = dataDir ? test : test.skip;

const ASTRONAUT = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';
const astronautTest = fs.existsSync(ASTRONAUT) ? test : test.skip;
if (!fs.existsSync(ASTRONAUT)) console.log(`detection-photos: skipping astronaut.png: ${ASTRONAUT} absent (Debian python3-skimage)`);

/** Photos are not camera frames: small faces (down to ~37 px) need the full resolution and a small min_size. */
const PHOTO_SETTINGS = { 'detector.detect_width': '0', 'detector.min_size': '0.05' };

function detectorWith(flags: Record<string, string>): FaceDetector {
  return new FaceDetector(configWith(flags).detector, resolveCascade('haar'));
}

function readGray(file: string): cv.Mat {
  const m = cv.imread(file, cv.IMREAD_GRAYSCALE);
  if (m.empty) throw new Error(`cannot read ${file}`);
  return m;
}

/** A detection matches a labelled face when IoU >= 0.3 or its centre lies inside the face box; one to one. */
function match(truth: Box[], dets: Detection[]): { found: number; falsePositives: Detection[] } {
  const used = new Set<number>();
  const falsePositives: Detection[] = [];
  for (const d of [...dets].sort((a, b) => b.score - a.score)) {
    const cx = d.box.x + d.box.width / 2;
    const cy = d.box.y + d.box.height / 2;
    const j = truth.findIndex((b, k) => !used.has(k) && (iou(b, d.box) >= 0.3 || (cx >= b.x && cx <= b.x + b.width && cy >= b.y && cy <= b.y + b.height)));
    if (j >= 0) used.add(j);
    else falsePositives.push(d);
  }
  return { found: used.size, falsePositives };
}

/** Every labelled photo through a fresh detector (so its first frame is a full search). */
function scorePhotos(t: ExecutionContext, flags: Record<string, string>): { faces: number; found: number; falsePositives: number } {
  const photos = readFacetestPhotos(dataDir as string).filter((p) => p.faces.length > 0);
  let faces = 0;
  let found = 0;
  let falsePositives = 0;
  for (const p of photos) {
    const gray = readGray(p.file);
    const dets = detectorWith(flags).detect(gray, [], 0).all;
    gray.release();
    const truth = p.faces.map(([x, y, width, height]) => ({ x, y, width, height }));
    const m = match(truth, dets);
    faces += truth.length;
    found += m.found;
    falsePositives += m.falsePositives.length;
    t.log(
      `${p.file.split('/').pop()}: ${m.found}/${truth.length} faces, ${m.falsePositives.length} false (votes ${m.falsePositives.map((d) => d.score).join(',') || '-'})`,
    );
  }
  return { faces, found, falsePositives };
}

dataTest('labelled photos at full resolution: recall >= 0.78, at most 3 false positives', (t) => {
  const r = scorePhotos(t, PHOTO_SETTINGS);
  t.log(`recall ${r.found}/${r.faces} = ${(r.found / r.faces).toFixed(2)}, ${r.falsePositives} false positives (${JSON.stringify(PHOTO_SETTINGS)})`);
  t.is(r.faces, 43);
  // Measured (2026-11-24, haarcascade_frontalface_default, Debian OpenCV 4.6), scale_factor 1.2:
  // 35/43 = 0.81, 0 false positives. (With the schema's scale_factor 1.1: 39/43 = 0.91, 3 false
  // positives of 6-7 votes; the coarser pyramid misses some 37-45 px faces.)
  t.true(r.found / r.faces >= 0.78, `recall ${r.found}/${r.faces}`);
  t.true(r.falsePositives <= 3, `${r.falsePositives} false positives`);
});

dataTest('labelled photos at the shipped defaults (faces from 36 px): most faces are found, few false positives', (t) => {
  const r = scorePhotos(t, {});
  t.log(`recall ${r.found}/${r.faces} = ${(r.found / r.faces).toFixed(2)}, ${r.falsePositives} false positives`);
  // Measured (2026-12-01): 31/43 = 0.72, 0 false positives. The missed faces are the 37-45 px ones of the
  // crowded photos, at the edge of the 36 px smallest face; the old 320 px camera default found 27/43.
  t.true(r.found / r.faces >= 0.65, `recall ${r.found}/${r.faces}`);
  t.true(r.falsePositives <= 3, `${r.falsePositives} false positives`);
});

dataTest('dogs.jpg (no human face): 10 identical frames through the detector and tracker confirm no track', (t) => {
  const config = configWith({});
  const detector = new FaceDetector(config.detector, resolveCascade('haar'));
  const tracker = new FaceTracker(config.tracker);
  const gray = readGray(negativePhoto(dataDir as string));
  const confirmed: number[] = [];
  const raw: number[] = [];
  for (let i = 0; i < 10; i++) {
    const round = detector.detect(gray, tracker.tracks, i * 33);
    raw.push(round.all.length);
    confirmed.push(...tracker.update(round, i * 33).confirmed.map((x) => x.id));
  }
  gray.release();
  t.log(`raw detections per frame: ${raw.join(' ')}`);
  t.deepEqual(confirmed, []);
  t.deepEqual(tracker.confirmedTracks, []);
});

astronautTest('astronaut.png: exactly one face, confirmed as one track', (t) => {
  const gray = readGray(ASTRONAUT);
  // Full resolution: one detection, on the face (about x 175-270, y 65-160 in the 512x512 picture).
  const full = detectorWith(PHOTO_SETTINGS).detect(gray, [], 0).all;
  t.log(`full resolution: ${JSON.stringify(full)}`);
  t.is(full.length, 1);
  const face = full[0] as Detection;
  t.true(Math.abs(face.box.x + face.box.width / 2 - 222) < 30 && Math.abs(face.box.y + face.box.height / 2 - 113) < 30, 'the box is on the face');

  // Camera settings, through the tracker: the look-alike on the suit (7 votes at 320 px) never becomes a track.
  const config = configWith({});
  const detector = new FaceDetector(config.detector, resolveCascade('haar'));
  const tracker = new FaceTracker(config.tracker);
  for (let i = 0; i < 10; i++) tracker.update(detector.detect(gray, tracker.tracks, i * 33), i * 33);
  gray.release();
  const tracks = tracker.confirmedTracks;
  t.is(tracks.length, 1);
  t.true(iou((tracks[0] as Face).geometry.box, face.box) > 0.5, 'the track is the face');
});
