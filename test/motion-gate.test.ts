// The motion gate (detector.sweep_interval_s): the motion mask on made-up cells and on real frames, the
// moved areas each band searches, the schedule's full sweeps and still probes, the detector on a real
// frame, and the whole daemon on a clip where faces arrive with little motion (sitting down slowly, fading in).
import test from 'ava';
import cv from '../src/system/opencv.js';
import { MotionMask, SCENE_SHARE, brightnessRatio, cellMeans, compareCells, movedIn, type MotionFrame } from '../src/motion/motion-mask.js';
import { MOTION_PER_FACE, PendingMotion, components, type SearchArea } from '../src/motion/motion-regions.js';
import { areaWindows, planBands, sweepWindows, type Band } from '../src/detect/bands.js';
import { DetectionSchedule, STILL_PROBE_HZ, type ProbeTarget } from '../src/detect/schedule.js';
import { FaceDetector } from '../src/detect/face-detector.js';
import { resolveCascade } from '../src/detect/cascade-file.js';
import { configWith, runClip } from './bench/run-clip.js';
import { resolveModel } from './bench/model.js';
import { missingDataMessage, sharedDataDir } from './helpers/clips/data.js';
import { threeFaces, CLIP_CACHE_DIR } from './helpers/clips/reference.js';
import { ENTRANCE, INTO_EMPTY, slowEntranceClip } from './helpers/clips/entrance.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import type { Box, EmotionEvent } from '../src/types.js';

/** A grid of `cols` x `rows` cells of `value`, with seeded noise of +-`noise` levels. */
function cells(cols: number, rows: number, value: (c: number, r: number) => number, noise = 0, seed = 1): Uint8Array {
  let s = seed;
  const rnd = (): number => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const out = new Uint8Array(cols * rows);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = Math.max(0, Math.min(255, Math.round(value(c, r) + noise * rnd())));
  return out;
}

const gradient = (c: number, r: number): number => 60 + c + r;

test('cell noise is not motion; a brightness step of the whole picture is taken out, not marked', (t) => {
  const ref = Float32Array.from(cells(80, 60, gradient));
  for (let f = 2; f < 30; f++) t.is(compareCells(cells(80, 60, gradient, 2, f), ref, 8).count, 0, `noise frame ${f}`);
  const step = compareCells(
    cells(80, 60, (c, r) => gradient(c, r) * 1.3, 2, 99),
    ref,
    8,
  );
  t.is(step.count, 0);
  t.true(Math.abs(step.gain - 1.3) < 0.01, `gain ${step.gain}`);
  // The references followed the step: the next frame at the new brightness is still nothing.
  t.is(
    compareCells(
      cells(80, 60, (c, r) => gradient(c, r) * 1.3, 2, 100),
      ref,
      8,
    ).count,
    0,
  );
  t.true(Math.abs(brightnessRatio(cells(80, 60, gradient), Float32Array.from(cells(80, 60, gradient))) - 1) < 0.005);
});

test('a local change marks its cells only, and a slow change adds up until it counts', (t) => {
  const ref = Float32Array.from(cells(80, 60, gradient));
  const blob = (c: number, r: number, d: number): number => gradient(c, r) + (c >= 10 && c < 14 && r >= 20 && r < 23 ? d : 0);
  const once = compareCells(
    cells(80, 60, (c, r) => blob(c, r, 40)),
    ref,
    8,
  );
  t.is(once.count, 12);
  t.is(once.moved[21 * 80 + 11], 1);
  t.is(once.moved[0], 0);
  // Moved cells take their new value as reference: the same frame again is still.
  t.is(
    compareCells(
      cells(80, 60, (c, r) => blob(c, r, 40)),
      ref,
      8,
    ).count,
    0,
  );
  // One grey level a frame: no frame differs from the previous by the threshold, yet the cells move on the 9th.
  const slow = Float32Array.from(cells(80, 60, gradient));
  const counts: number[] = [];
  for (let f = 1; f <= 12; f++)
    counts.push(
      compareCells(
        cells(80, 60, (c, r) => blob(c, r, f)),
        slow,
        8,
      ).count,
    );
  t.deepEqual(counts, [0, 0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0]);
});

test('the mask on real frames: the first is a new scene, a lighting step is nothing, a moved camera is a new scene', (t) => {
  const mask = new MotionMask(8);
  const base = new cv.Mat(480, 640, cv.CV_8UC1, 90);
  base.drawRectangle(new cv.Rect(100, 100, 200, 150), new cv.Vec3(160, 160, 160), -1);
  base.drawCircle(new cv.Point2(450, 300), 60, new cv.Vec3(40, 40, 40), -1);
  const cell = MotionMask.cellFor(36);
  t.is(cell, 8);
  const first = mask.update(base, cell);
  t.true(first.scene);
  t.is(first.cols * first.cellW, 640);
  t.is(mask.update(base, cell).count, 0);
  const brighter = base.convertTo(cv.CV_8U, 1.25, 0);
  const lit = mask.update(brighter, cell);
  t.false(lit.scene);
  t.true(lit.count <= 0.01 * lit.moved.length, `${lit.count} cells moved after a lighting step`);
  const shifted = brighter.warpAffine(
    new cv.Mat(
      [
        [1, 0, 120],
        [0, 1, 90],
      ],
      cv.CV_64F,
    ),
    new cv.Size(640, 480),
  );
  const moved = mask.update(shifted, cell);
  t.true(moved.scene || moved.count > 0);
  const person = shifted.copy();
  person.drawRectangle(new cv.Rect(500, 40, 40, 50), new cv.Vec3(200, 200, 200), -1);
  const local = mask.update(person, cell);
  t.false(local.scene);
  t.true(local.count > 0 && local.count < SCENE_SHARE * local.moved.length);
  t.true(movedIn(local, { x: 505, y: 45, width: 30, height: 30 }));
  t.false(movedIn(local, { x: 20, y: 400, width: 40, height: 40 }));
  for (const m of [base, brighter, shifted, person]) m.release();
});

test('cell means made in pieces of halvings match one area resize of the whole frame, to a gray level', (t) => {
  for (const [width, height, cell] of [
    [1280, 720, 8],
    [1920, 1080, 8],
    [1280, 720, 16],
    [640, 480, 4],
    [1366, 768, 8],
    [100, 37, 32],
  ] as const) {
    // A gradient with seeded noise and a bright block: every cell differs from its neighbours.
    const px = cells(
      width,
      height,
      (c, r) => 40 + (c * 150) / width + (r * 50) / height + (c > width / 3 && c < width / 2 && r > height / 4 ? 60 : 0),
      30,
      width,
    );
    const frame = new cv.Mat(Buffer.from(px), height, width, cv.CV_8UC1);
    const cols = Math.max(1, Math.round(width / cell));
    const rows = Math.max(1, Math.round(height / cell));
    const whole = frame.resize(rows, cols, 0, 0, cv.INTER_AREA);
    const expected = new Uint8Array(whole.getData());
    const got = cellMeans(frame, rows, cols);
    t.is(got.length, rows * cols, `${width}x${height}`);
    let worst = 0;
    let off = 0;
    for (let i = 0; i < got.length; i++) {
      const d = Math.abs((got[i] as number) - (expected[i] as number));
      worst = Math.max(worst, d);
      if (d > 0) off += 1;
    }
    t.true(worst <= 1, `${width}x${height} cell ${cell}: a cell ${worst} levels off`);
    t.true(off <= 0.6 * got.length, `${width}x${height} cell ${cell}: ${off} of ${got.length} cells off by one`);
    whole.release();
    frame.release();
  }
});

const W = 24;
function bands(width: number, height: number): Band[] {
  return planBands({ frameWidth: width, frameHeight: height, window: W, minFace: 36, maxFace: Math.min(width, height), scaleFactor: 1.2, maxWidth: 0 });
}

/** The cells of a block of `w` x `h` cells from (c0, r0). */
function block(c0: number, r0: number, w: number, h: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let r = r0; r < r0 + h; r++) for (let c = c0; c < c0 + w; c++) out.push([c, r]);
  return out;
}

/** A motion frame of a cols x rows grid of 8-pixel cells with the given cells moved. */
function motionFrame(cols: number, rows: number, moved: Array<[number, number]>): MotionFrame {
  const m = new Uint8Array(cols * rows);
  for (const [c, r] of moved) m[r * cols + c] = 1;
  return { cols, rows, cellW: 8, cellH: 8, moved: m, count: moved.length, scene: false };
}

test('moved cells are searched, with a margin of the largest face that could have made the motion, by each band whose faces could have; cells of a known face are not', (t) => {
  const b = bands(1280, 720);
  const pending = new PendingMotion<Band>(areaWindows);
  // 96 x 96 pixels of motion: bands of faces up to twice that size search it, larger ones do not.
  pending.add(motionFrame(160, 90, block(80, 40, 12, 12)), b.length, [], { width: 1280, height: 720 });
  const areas = pending.take(b, Infinity);
  t.is(pending.size, 0);
  const expected = b
    .map((band, i) => ({ band, i }))
    .filter(({ band }) => MOTION_PER_FACE * band.faceMin <= 96)
    .map(({ i }) => i);
  t.true(expected.length >= 2 && expected.length < b.length, JSON.stringify(expected));
  t.deepEqual([...new Set(areas.map((a) => a.band))].sort(), expected);
  for (const a of areas) {
    const band = b[a.band] as Band;
    // The band's largest face, or a face twice the motion's size (96 px: one that moved over half its size).
    const pad = Math.ceil(Math.min(band.maxPx / band.scale, 96 / MOTION_PER_FACE));
    t.true(a.x >= 0 && a.y >= 0 && a.x + a.width <= 1280 && a.y + a.height <= 720, JSON.stringify(a));
    t.is(a.x, Math.max(0, 640 - pad));
    t.is(a.y, Math.max(0, 320 - pad));
    t.is(a.x + a.width, Math.min(1280, 736 + pad));
    t.true(a.windows > 0);
  }
  t.true(
    areas.some((a) => a.x === 640 - 192),
    'a band of faces larger than twice the motion searches a margin of twice its size',
  );
  // The smallest band's area is a small part of that band's whole sweep.
  const small = areas.find((a) => a.band === 0);
  t.true((small?.windows ?? Infinity) < 0.1 * sweepWindows([b[0] as Band]), JSON.stringify(small));
  // Cells inside a tracked face (with a margin) are not kept.
  pending.add(motionFrame(160, 90, [...block(78, 38, 6, 6), ...block(20, 20, 6, 6)]), b.length, [{ x: 620, y: 300, width: 60, height: 60 }], {
    width: 1280,
    height: 720,
  });
  t.is(pending.take(b, Infinity).filter((a) => a.band === 0 && a.x > 300).length, 0, 'nothing searched around the tracked face');
});

test('a face that arrives: the band of the face that most likely made the motion searches first, and a face found there explains the motion for the other bands, unless it leaves some unexplained', (t) => {
  const b = bands(1280, 720);
  const frame = { width: 1280, height: 720 };
  const bandOf = (side: number): number => b.findIndex((band) => band.faceMin <= side && side <= band.faceMax);
  // 88 x 88 pixels of motion (11 x 11 cells) at (640, 320): a face of about 55 px arriving (the motion spreads 1.5-1.7
  // times a face). Its band searches first, though the next band's faces (72 px and up) could have made it too.
  const pending = new PendingMotion<Band>(areaWindows);
  pending.add(motionFrame(160, 90, block(80, 40, 11, 11)), b.length, [], frame);
  const first = pending.take(b, 1)[0];
  t.is(first?.band, bandOf(55), JSON.stringify(first));
  t.deepEqual(first?.moved, { x: 640, y: 320, width: 88, height: 88 });
  t.true(pending.size > 0, 'the other bands still have the cells');
  const others = pending.take(b, Infinity);
  t.true(others.length >= 1 && others.every((a) => a.band !== first?.band), JSON.stringify(others.map((a) => a.band)));
  // The face found in it (57 px, 15 px in from the motion's corner) explains the motion: the other bands' areas
  // need no search, and no band keeps its cells.
  const face = { x: 655, y: 334, width: 57, height: 57 };
  for (const a of others) t.true(pending.explained(a, [face]), `band ${a.band}`);
  pending.add(motionFrame(160, 90, block(80, 40, 11, 11)), b.length, [], frame);
  pending.take(b, 1);
  pending.explain([face]);
  t.is(pending.size, 0);
  // A face far smaller than the motion (two arrive side by side) does not explain it: the other bands search.
  const small = { x: 648, y: 330, width: 36, height: 36 };
  for (const a of others) t.false(pending.explained(a, [small]), `band ${a.band}`);
  const two = new PendingMotion<Band>(areaWindows);
  two.add(motionFrame(160, 90, block(80, 40, 22, 11)), b.length, [], frame);
  const left = two.take(b, 1)[0] as SearchArea;
  t.false(two.explained(left, [face]), 'one face explains half the motion');
  two.explain([face]);
  const rest = two.take(b, Infinity);
  t.true(rest.length >= 1, 'the cells right of the face are still searched');
  for (const a of rest) t.true(a.moved.x >= 712 && a.x + a.width >= 816, JSON.stringify(a));
});

test('moved cells that do not fit the allowance wait for the next frames; the first area of a frame is cut to fit', (t) => {
  const b = bands(1280, 720);
  const pending = new PendingMotion<Band>(areaWindows);
  const moved: Array<[number, number]> = [];
  for (let c = 10; c < 150; c++) for (let r = 10; r < 80; r += 3) moved.push([c, r]);
  pending.add(motionFrame(160, 90, moved), b.length, [], { width: 1280, height: 720 });
  const whole = sweepWindows(b);
  let frames = 0;
  while (pending.size > 0 && frames < 500) {
    const areas = pending.take(b, whole / 50);
    t.true(areas.length >= 1, `frame ${frames}: something is searched`);
    frames++;
  }
  t.is(pending.size, 0, 'every moved cell was searched');
  t.true(frames > 10 && frames < 200, `${frames} frames`);
});

test('where a probe lost its face, every band whose faces fit there searches the window too', (t) => {
  const b = bands(1280, 720);
  const pending = new PendingMotion<Band>(areaWindows);
  pending.add(motionFrame(160, 90, []), b.length, [], { width: 1280, height: 720 });
  pending.addBox({ x: 400, y: 200, width: 120, height: 120 }, b.length);
  const areas = pending.take(b, Infinity);
  const expected = b
    .map((band, i) => ({ band, i }))
    .filter(({ band }) => MOTION_PER_FACE * band.faceMin <= 128)
    .map(({ i }) => i);
  t.deepEqual([...new Set(areas.map((a) => a.band))].sort(), expected);
  for (const a of areas) t.true(a.x <= 400 && a.y <= 200 && a.x + a.width >= 520 && a.y + a.height >= 320, JSON.stringify(a));
});

test('components: 8-connected groups of cells, as bounding boxes, each with its oldest cell', (t) => {
  const grid = new Uint32Array(10 * 6);
  for (const [i, since] of [
    [0, 3],
    [11, 2],
    [22, 5],
    [8, 4],
    [9, 4],
    [19, 4],
    [55, 1],
  ] as const)
    grid[i] = since;
  t.deepEqual(components(grid, 10), [
    { c0: 0, r0: 0, c1: 2, r1: 2, oldest: 2 },
    { c0: 8, r0: 0, c1: 9, r1: 1, oldest: 4 },
    { c0: 5, r0: 5, c1: 5, r1: 5, oldest: 1 },
  ]);
});

test('motion that goes on in one place does not starve motion elsewhere: the group that waited longest goes first', (t) => {
  const b = bands(640, 480);
  const pending = new PendingMotion<Band>(areaWindows);
  const whole = sweepWindows(b);
  const frame = { width: 640, height: 480 };
  pending.add(motionFrame(80, 60, block(70, 40, 6, 6)), b.length, [], frame);
  const searched = new Set<string>();
  for (let i = 0; i < 12; i++) {
    // Motion at the top left on every frame, each time more than one frame's allowance.
    pending.add(motionFrame(80, 60, block(2, 2, 8, 8)), b.length, [], frame);
    for (const a of pending.take(b, whole / 40)) if (a.x + a.width > 560) searched.add(`${a.band}`);
  }
  const expected = b
    .map((band, i) => ({ band, i }))
    .filter(({ band }) => MOTION_PER_FACE * band.faceMin <= 48)
    .map(({ i }) => String(i));
  t.deepEqual([...searched].sort(), expected, 'the bands whose faces could have made the motion at the right searched it');
});

test('gated schedule: the first frame is swept whole, then nothing without motion, a full sweep every interval and when asked', (t) => {
  const b = bands(1280, 720);
  const s = new DetectionSchedule({ budgetMs: 8, trackHz: 6, fullEvery: 5, sweepIntervalMs: 10_000, stillHz: 1 });
  const pending = new PendingMotion<Band>(areaWindows);
  pending.add(motionFrame(160, 90, []), b.length, [], { width: 1280, height: 720 });
  const first = s.plan(b, 0, 0, pending);
  const rows = b.map((band, i) => first.strips.filter((x) => x.band === i).reduce((a, x) => a + x.rows, 0));
  t.deepEqual(
    rows,
    b.map((band) => band.height),
    'frame 0: every band, every row',
  );
  t.true(
    first.strips.every(
      (x) => (b[x.band] as Band).width * Math.min(x.rows + (b[x.band] as Band).maxPx, (b[x.band] as Band).height) <= 500_000 + (b[x.band] as Band).width * 8,
    ),
    'no strip larger than MAX_STRIP_PX',
  );
  s.cost.sweep(1, 1e4);
  let searched = 0;
  for (let i = 1; i < 300; i++) searched += s.plan(b, 0, i * 33, pending).strips.length;
  t.is(searched, 0, 'no motion, no sweep for 10 s');
  t.true(s.stats().searched < 0.01, `searched share ${s.stats().searched}`);
  let strips = 0;
  for (let i = 300; i < 330; i++) strips += s.plan(b, 0, i * 33.4, pending).strips.length;
  t.true(strips >= 5, `after 10 s a full sweep runs (${strips} strips)`);
  t.true((s.stats().lastSweepFrames ?? 0) >= 5);
  s.requestFull();
  t.true(s.plan(b, 0, 340 * 33.4, pending).strips.length >= 1, 'asked: a full sweep starts on the next frame');
  // Motion is searched as it comes.
  pending.add(motionFrame(160, 90, block(30, 30, 6, 6)), b.length, [], { width: 1280, height: 720 });
  const moved = s.plan(b, 0, 341 * 33.4, pending);
  t.true(moved.areas.length >= 1);
});

test('gated schedule: a still confirmed face is probed at the still rate and held in between; motion in its window, a miss or a new track bring track_hz or every frame back', (t) => {
  t.is(STILL_PROBE_HZ, 0.25);
  const s = new DetectionSchedule({ budgetMs: 100, trackHz: 6, fullEvery: 5, sweepIntervalMs: 10_000 });
  const box = { x: 0, y: 0, width: 40, height: 40 };
  const still: ProbeTarget = { id: 1, probe: {}, geometry: { box, status: 'confirmed', misses: 0 } };
  const moving: ProbeTarget = { id: 2, probe: {}, geometry: { box, status: 'confirmed', misses: 0 } };
  const lost: ProbeTarget = { id: 3, probe: {}, geometry: { box, status: 'confirmed', misses: 1 } };
  const fresh: ProbeTarget = { id: 4, probe: {}, geometry: { box, status: 'tentative', misses: 0 } };
  const count = new Map<number, number>();
  const held = new Map<number, number>();
  for (let i = 0; i < 360; i++) {
    s.noteMoved([moving]);
    const tracks = [still, moving, lost, fresh];
    const probes = s.pickProbes(tracks, i * 33.3);
    for (const p of probes) count.set(p.id, (count.get(p.id) ?? 0) + 1);
    for (const id of s.held(tracks, new Map(probes.map((p) => [p.id, null])))) held.set(id, (held.get(id) ?? 0) + 1);
  }
  // Its first probe (it was not known to be still), then one every 4 s: at 4, 8 and 12 s.
  t.true((count.get(1) ?? 0) >= 3 && (count.get(1) ?? 0) <= 4, `still face probed ${count.get(1)} times in 12 s`);
  t.is((held.get(1) ?? 0) + (count.get(1) ?? 0), 360, 'held on every frame it was not probed on');
  t.deepEqual([...held.keys()], [1], 'a face that moves, a lost one and a new one are not held');
  t.true((count.get(2) ?? 0) >= 71 && (count.get(2) ?? 0) <= 73, `moving face probed ${count.get(2)} times in 12 s`);
  t.is(count.get(3), 360);
  t.is(count.get(4), 360);
  // Motion in its window: not held, and probed (at track_hz) until a probe finds it again.
  s.noteMoved([still]);
  t.deepEqual([...s.held([still], new Map())], []);
  t.deepEqual(
    s.pickProbes([still], 360 * 33.3).map((p) => p.id),
    [1],
  );
  t.deepEqual([...s.held([still], new Map())], [1], 'held again once a probe found it');
  // Without the gate, nothing is held.
  const ungated = new DetectionSchedule({ budgetMs: 100, trackHz: 6, fullEvery: 5 });
  ungated.pickProbes([still], 0);
  t.deepEqual([...ungated.held([still], new Map())], []);
  // Whatever the budget: with room for one probe a frame taken by a lost track, the still face is still probed.
  const tight = new DetectionSchedule({ budgetMs: 1, trackHz: 6, fullEvery: 5, sweepIntervalMs: 10_000 });
  tight.cost.probe(1, 1);
  // Another detector's face (its probe state is on the face: the faces above were this schedule's).
  const stillThere: ProbeTarget = { id: 1, probe: {}, geometry: { box, status: 'confirmed', misses: 0 } };
  tight.pickProbes([stillThere], 0); // found by a probe before (a confirmed track was probed on every frame while tentative)
  let stillProbes = 0;
  for (let i = 1; i <= 360; i++) stillProbes += tight.pickProbes([lost, stillThere], i * 33.3).filter((p) => p.id === 1).length;
  t.true(stillProbes >= 2 && stillProbes <= 3, `still face probed ${stillProbes} times in 12 s beside a lost one`);
});

const dataDir = sharedDataDir();

testUnless(dataDir ? undefined : missingDataMessage())(
  'the detector behind the gate: a still frame is searched once; tracked faces are probed at the still rate; a face that appears is found on the frame it appears, searched by one band',
  (t) => {
    const clip = threeFaces(dataDir as string);
    const cap = new cv.VideoCapture(clip.path);
    cap.set(cv.CAP_PROP_POS_FRAMES, 100);
    const gray = cap.read().bgrToGray();
    cap.release();
    const settings = configWith({}).detector;
    t.is(settings.sweep_interval_s, 10);
    const faces = new FaceDetector(settings, resolveCascade('haar')).detect(gray, [], 0).all;
    t.is(faces.length, 3, JSON.stringify(faces));
    const [a, b, c] = [...faces].sort((p, q) => p.box.x - q.box.x).map((f) => f.box) as [Box, Box, Box];
    const tracked = [a, b].map((box, i) => ({ id: i + 1, probe: {}, geometry: { box, status: 'confirmed' as const, misses: 0 } }));
    // Face c hidden behind the wall's grey: the frame without it, then with it.
    const hidden = gray.copy();
    hidden.drawRectangle(
      new cv.Rect(Math.round(c.x - 10), Math.round(c.y - 10), Math.round(c.width + 20), Math.round(c.height + 20)),
      new cv.Vec3(96, 96, 96),
      -1,
    );
    const d = new FaceDetector(settings, resolveCascade('haar'));
    const probes = new Map<number, number>();
    let found = 0;
    let before = 0;
    for (let i = 0; i < 60; i++) {
      if (i === 45) before = d.stats().searched * 45;
      const round = d.detect(i < 45 ? hidden : gray, tracked, i * 33.3);
      if (i < 45) for (const id of round.probed.keys()) probes.set(id, (probes.get(id) ?? 0) + 1);
      if (i > 0 && i < 45) t.deepEqual([...round.held].sort(), [1, 2], `frame ${i}: both held`);
      if (i < 45) t.deepEqual(round.found, [], `frame ${i}: nothing new`);
      if (round.found.some((x) => x.box.x > b.x + b.width)) found = found || i;
    }
    // The band whose faces fit the motion searches its area first, within the frame's allowance.
    t.is(found, 45, `the face appeared on frame 45, found on frame ${found}`);
    // The face it found explains the motion for the other bands: a tenth of a whole sweep, where every band searching
    // the area with its own margin took half of one.
    const arrival = d.stats().searched * 60 - before;
    t.true(arrival > 0 && arrival < 0.2, `the arrival searched ${arrival.toFixed(2)} of a whole sweep`);
    // Probed once (they were not known to be still), then held by the mask: their picture did not change.
    for (const id of [1, 2]) t.is(probes.get(id), 1, `still track ${id} probed ${probes.get(id)} times in 1.5 s`);
    // The first frame searched whole and, once, the area where the face appeared (by one band, with its margin).
    t.true(d.stats().searched < 0.05, `searched ${d.stats().searched} of the frame per frame`);
    gray.release();
    hidden.release();
  },
);

let model: string | undefined;
let modelProblem: string | undefined;
try {
  model = resolveModel(process.env.EMOTIOND_TEST_MODEL).path;
} catch (err) {
  modelProblem = (err as Error).message;
}

/** Seconds (frame clock, from the clip's first frame) of each face_appeared, per face of the clip: the face whose
 * seat's column holds the box's centre; `stray` for boxes on no seat. */
function appearances(events: readonly EmotionEvent[], firstFrameMs: number, faces: ReadonlyArray<{ face?: number[] }>): { perFace: number[][]; stray: number } {
  const perFace = faces.map(() => [] as number[]);
  let stray = 0;
  for (const e of events) {
    if (e.type !== 'face_appeared') continue;
    const cx = e.box.x + e.box.width / 2;
    const i = faces.findIndex(({ face: [x = 0, , w = 0] = [] }) => cx >= x - 20 && cx <= x + w + 20);
    if (i < 0) stray += 1;
    else perFace[i]?.push((Date.parse(e.time) - firstFrameMs) / 1000);
  }
  return { perFace, stray };
}

for (const [title, settings] of [
  ['the motion gate alone (no safety sweep within the clip)', { 'detector.sweep_interval_s': '3600' }],
  ['the shipped defaults', {}],
] as const) {
  testUnless(firstMissing(dataDir ? undefined : missingDataMessage(), modelProblem), { serial: true })(
    `slow entrance (composed CK+ clip), ${title}: the face that sits down slowly and the one that fades in are each one track, reported soon after they settle`,
    async (t) => {
      const clip = slowEntranceClip(dataDir as string, CLIP_CACHE_DIR);
      const r = await runClip({ clip: clip.path, model: model as string, threads: 1, settings });
      const { perFace, stray } = appearances(r.sink.events, r.firstFrameMs, clip.faces);
      t.log(`face_appeared at (s): ${JSON.stringify(perFace)}, elsewhere: ${stray}`);
      t.is(r.framesBad, 0);
      t.is(stray, 0, 'no face_appeared away from the three seats');
      perFace.forEach((list, i) => t.is(list.length, 1, `face ${i} (${clip.faces[i]?.subject}): ${list.length} tracks`));
      // The seated face on its first frames; the others within a second of settling in their seats.
      const settled = [0, ENTRANCE.sitDown[1] / ENTRANCE.fps, ENTRANCE.fadeIn[1] / ENTRANCE.fps];
      perFace.forEach((list, i) =>
        t.true((list[0] ?? Infinity) <= (settled[i] as number) + 1, `face ${i} reported at ${list[0]} s, settled at ${settled[i]} s`),
      );
      const gone = r.sink.events.filter((e) => e.type === 'face_gone');
      t.is(gone.length, 3, 'each track lasts to the end of the clip');
    },
  );
}

testUnless(firstMissing(dataDir ? undefined : missingDataMessage(), modelProblem), { serial: true })(
  'an empty room is taken at detector.idle_fps, the frames in between dropped undecoded; the face that sits down slowly and the one that fades in wake it, each one track, reported soon after they settle',
  async (t) => {
    const clip = slowEntranceClip(dataDir as string, CLIP_CACHE_DIR, INTO_EMPTY);
    const r = await runClip({ clip: clip.path, model: model as string, threads: 1, settings: {} });
    const { perFace, stray } = appearances(r.sink.events, r.firstFrameMs, clip.faces);
    t.log(`face_appeared at (s): ${JSON.stringify(perFace)}, elsewhere: ${stray}; ${r.frames} frames processed, ${r.framesSkipped} skipped`);
    t.is(r.framesBad, 0);
    t.is(r.frames + r.framesSkipped, INTO_EMPTY.frames);
    // Idle from 2 s (nothing moved since the first frame) until the entrances start at 4 s: 10 of every 30 frames.
    const idleFrames = INTO_EMPTY.sitDown[0] - 2 * INTO_EMPTY.fps;
    t.true(
      r.framesSkipped >= idleFrames * 0.6 && r.framesSkipped <= idleFrames * 0.7 + 6,
      `${r.framesSkipped} frames skipped (${idleFrames} idle frames, 2 in 3 skipped at 10 fps)`,
    );
    t.is(stray, 0, 'no face_appeared away from the seats');
    perFace.forEach((list, i) => t.is(list.length, 1, `face ${i} (${clip.faces[i]?.subject}): ${list.length} tracks`));
    const settled = [INTO_EMPTY.sitDown[1] / INTO_EMPTY.fps, INTO_EMPTY.fadeIn[1] / INTO_EMPTY.fps];
    perFace.forEach((list, i) => t.true((list[0] ?? Infinity) <= (settled[i] as number) + 1, `face ${i} reported at ${list[0]} s, settled at ${settled[i]} s`));
    // Every frame again once they came in: the room stays active while they are tracked.
    const off = await runClip({ clip: clip.path, model: model as string, threads: 1, settings: { 'detector.idle_fps': '0' } });
    t.is(off.framesSkipped, 0);
    t.is(off.frames, INTO_EMPTY.frames);
  },
);
