// The detection schedule without OpenCV: size bands, the sweep cursor within a budget, and which tracks are
// probed on each frame. Made-up frame sizes and tracks; costs fed to the cost model as a real frame would.
import test from 'ava';
import { FIRST_WINDOW, planBands, smallestFace, stripWindows, sweepWindows, type Band } from '../src/detect/bands.js';
import { DetectionSchedule, type ProbeTarget, type Strip } from '../src/detect/schedule.js';
import { largestFitting } from '../src/system/largest-fitting.js';

const W = 24;

function bands(width: number, height: number, minFace = 36, maxWidth = 0): Band[] {
  return planBands({ frameWidth: width, frameHeight: height, window: W, minFace, maxFace: Math.min(width, height), scaleFactor: 1.2, maxWidth });
}

test('bands cover every face size from the smallest face to the frame, each at the scale its smallest face needs', (t) => {
  const b = bands(1280, 720);
  t.is(b[0]?.faceMin, 36);
  t.is(b.at(-1)?.faceMax, 720);
  for (const band of b) {
    // The band's smallest face is FIRST_WINDOW cascade windows wide in the band's image.
    t.true(Math.abs(band.faceMin * band.scale - W * FIRST_WINDOW) < 1, JSON.stringify(band));
    t.true(band.minPx >= W && band.maxPx >= band.minPx);
  }
  for (let i = 1; i < b.length; i++) {
    const prev = b[i - 1] as Band;
    const cur = b[i] as Band;
    t.is(cur.faceMin, prev.faceMax, `band ${i} starts where band ${i - 1} ends`);
    // Overlap: the previous band's largest window, in frame pixels, reaches past this band's smallest face
    // (unless that window is the whole band image).
    const capped = prev.maxPx >= Math.min(prev.width, prev.height);
    t.true(capped || prev.maxPx / prev.scale > cur.faceMin * 1.3, `band ${i - 1} searches into band ${i}`);
  }
});

test('a face below the cascade window cannot be searched for; detect_width raises the smallest face', (t) => {
  t.is(smallestFace({ frameWidth: 640, window: W, minFace: 12, maxWidth: 0 }), W);
  t.is(bands(640, 480, 12)[0]?.faceMin, W);
  // 1280 px limited to 320: a window covers 4 frame pixels per pixel, and bands start at FIRST_WINDOW windows.
  t.is(smallestFace({ frameWidth: 1280, window: W, minFace: 36, maxWidth: 320 }), W * FIRST_WINDOW * 4);
  t.is(smallestFace({ frameWidth: 640, window: W, minFace: 36, maxWidth: 640 }), 36);
});

test('the sweep of a bigger frame costs more, about with its pixels', (t) => {
  const vga = sweepWindows(bands(640, 480));
  const hd = sweepWindows(bands(1280, 720));
  const fhd = sweepWindows(bands(1920, 1080));
  t.true(hd / vga > 2.5 && hd / vga < 3.5, `720p/VGA ${hd / vga}`);
  t.true(fhd / hd > 2 && fhd / hd < 2.5, `1080p/720p ${fhd / hd}`);
});

test('windows above twice the cascade window are scanned on every pixel (4x the work per pixel)', (t) => {
  // One level at 1.0 windows (2-px steps) against one at 2.49 windows (1-px steps), same image.
  const band = (px: number): Band => ({ scale: 1, width: 1000, height: 1000, minPx: px, maxPx: px, faceMin: px, faceMax: px, window: W, factor: 1.2 });
  const sparse = stripWindows(band(24), 1000);
  const dense = stripWindows(band(60), 1000);
  const s = 60 / W;
  const expected = (((1000 / s - W) * (1000 / s - W)) / ((1000 - W) * (1000 - W))) * 4;
  t.true(Math.abs(dense / sparse - expected) < 0.05, `${dense} vs ${sparse}: ${dense / sparse} against ${expected}`);
});

test('a strip costs more than its share of rows: its smaller windows rescan the overlap the largest needs', (t) => {
  const b = bands(1280, 720)[0] as Band;
  const whole = stripWindows(b, b.height);
  const tenth = stripWindows(b, b.height / 10 + b.maxPx);
  t.true(tenth > whole / 10 && tenth < whole / 3, `${tenth} of ${whole}`);
});

/** How many times the strips (or tiles) scanned each anchor position of each band. */
class Coverage {
  readonly counts: Uint8Array[];
  constructor(private readonly b: Band[]) {
    this.counts = b.map((x) => new Uint8Array(x.width * x.height));
  }
  add(list: readonly Strip[]): void {
    for (const st of list) {
      const band = this.b[st.band] as Band;
      const c = this.counts[st.band] as Uint8Array;
      for (let r = st.row0; r < st.row0 + st.rows; r++)
        for (let x = st.col0; x < st.col0 + st.cols; x++) c[r * band.width + x] = (c[r * band.width + x] as number) + 1;
    }
  }
  /** Anchor positions scanned n times, over all bands. */
  times(n: number): number {
    return this.counts.reduce((a, c) => a + c.reduce((k, v) => k + (v === n ? 1 : 0), 0), 0);
  }
  get all(): number {
    return this.b.reduce((a, x) => a + x.width * x.height, 0);
  }
}

/** What the strips of `frames` frames scan, and how many strips each frame had. */
function scanned(s: DetectionSchedule, b: Band[], frames: number, nowMs = (i: number) => i * 33): { seen: Coverage; strips: number[]; pieces: Strip[] } {
  const seen = new Coverage(b);
  const strips: number[] = [];
  const pieces: Strip[] = [];
  for (let i = 0; i < frames; i++) {
    const list = s.nextStrips(b, 0, nowMs(i));
    strips.push(list.length);
    pieces.push(...list);
    seen.add(list);
  }
  return { seen, strips, pieces };
}

test('the first frame is swept whole; a later sweep is spread over at least full_every frames and covers every row once', (t) => {
  const b = bands(1280, 720);
  const s = new DetectionSchedule({ budgetMs: 1000, trackHz: 6, fullEvery: 5 });
  const first = scanned(s, b, 1);
  t.is(first.seen.times(1), first.seen.all, 'frame 0 scans every position of every band');
  t.true(
    first.pieces.every((p) => p.col0 === 0 && p.cols === (b[p.band] as Band).width),
    'in strips of the whole width',
  );
  t.is(s.stats().lastSweepFrames, 1);
  s.cost.sweep(1, 1e4); // 0.1 us per window: the budget (1 s) never binds here
  let frames = 0;
  const seen = new Coverage(b);
  while (s.stats().lastSweepFrames === 1 && frames < 50) seen.add(s.nextStrips(b, 0, ++frames * 33));
  t.is(seen.times(1), seen.all, 'the second sweep scans every position of every band, each once');
  t.is(s.stats().lastSweepFrames, frames);
  // A frame's share is not cut to fit what the pieces before it left: a sweep may take a frame or two more.
  t.true(frames >= 5 && frames <= 7, `the second sweep took ${frames} frames`);
});

test('a tight budget makes the sweep take more frames, but every frame still scans a strip', (t) => {
  const b = bands(1920, 1080);
  const total = sweepWindows(b);
  const s = new DetectionSchedule({ budgetMs: 2, trackHz: 6, fullEvery: 5 });
  s.nextStrips(b, 0, 0);
  // Learned cost: the whole sweep would take 200 ms, so a 2 ms budget leaves ~1/100 of it per frame.
  s.cost.sweep(200, total);
  const { strips, seen } = scanned(s, b, 300, (i) => (i + 1) * 33);
  t.true(
    strips.every((n) => n >= 1),
    'at least one strip per frame',
  );
  t.true(seen.times(0) === 0, 'every position searched');
  const frames = s.stats().lastSweepFrames ?? 0;
  // About 100 frames of budget; the smallest strips overshoot it a little (they rescan their overlap).
  t.true(frames > 50 && frames < 300, `a sweep took ${frames} frames`);
  t.true((s.stats().lastSweepMs ?? 0) > 50 * 33, `${s.stats().lastSweepMs} ms`);
});

test('when the budget leaves room for a few rows of a wide band, the sweep is cut into tiles that rescan less', (t) => {
  const b = bands(1280, 720);
  const total = sweepWindows(b);
  const s = new DetectionSchedule({ budgetMs: 8, trackHz: 6, fullEvery: 5 });
  s.nextStrips(b, 0, 0);
  s.cost.sweep(2e-4 * 1e5, 1e5); // 0.2 us per window: 40 000 windows per frame
  const band0 = b[0] as Band;
  const leastStrip = stripWindows(band0, Math.max(8, Math.ceil(band0.maxPx / 4)) + band0.maxPx);
  t.true(leastStrip > 40_000, `the thinnest strip of the first band scans ${leastStrip} windows`);
  let frames = 0;
  const seen = new Coverage(b);
  const pieces: Strip[] = [];
  while (s.stats().lastSweepFrames === 1 && frames < 200) {
    const list = s.nextStrips(b, 0, ++frames * 33);
    t.true(list.length >= 1);
    seen.add(list);
    pieces.push(...list);
  }
  t.is(seen.times(1), seen.all, 'every position of every band once');
  t.true(
    pieces.some((p) => p.cols < (b[p.band] as Band).width),
    'tiles',
  );
  const searched = pieces.reduce((a, p) => a + p.windows, 0);
  // Strips of 21 rows (the least) would search 2.6 times a whole sweep.
  t.true(searched < 1.5 * total, `a sweep searched ${searched} windows, ${(searched / total).toFixed(2)} times a whole one`);
  t.true(frames >= 15 && frames <= 30, `in ${frames} frames`);
  // No piece is taller than a strip of the whole width may be (the cascade's buffers keep the highest image's height)
  // nor larger than MAX_STRIP_PX: not on a 1080p frame's first frame, whose square tiles would be 707 rows high, nor
  // with room for 100 000 windows later.
  const big = bands(1920, 1080);
  const s2 = new DetectionSchedule({ budgetMs: 8, trackHz: 6, fullEvery: 5 });
  const first = s2.nextStrips(big, 0, 0);
  s2.cost.sweep(8e-5 * 1e5, 1e5);
  const later = Array.from({ length: 12 }, (_, i) => s2.nextStrips(big, 0, (i + 1) * 33)).flat();
  t.true(
    later.some((p) => p.cols < (big[p.band] as Band).width),
    'tiles',
  );
  for (const p of [...first, ...later]) {
    const band = big[p.band] as Band;
    const high = Math.min(band.height - p.row0, p.rows + band.maxPx);
    const wide = Math.min(band.width - p.col0, p.cols + band.maxPx);
    t.true(
      high <= Math.max(Math.floor(500_000 / band.width), Math.min(band.height, 8 + band.maxPx)) && high * wide <= 500_000 + band.width * 8,
      JSON.stringify(p),
    );
  }
});

test('probes: new and lost tracks on every frame, found ones at track_hz, most overdue first within the budget', (t) => {
  const s = new DetectionSchedule({ budgetMs: 10, trackHz: 6, fullEvery: 5 });
  const box = { x: 0, y: 0, width: 40, height: 40 };
  const tracks: ProbeTarget[] = Array.from({ length: 30 }, (_, i) => ({ id: i + 1, probe: {}, geometry: { box, status: 'confirmed', misses: 0 } }));
  tracks.push(
    { id: 100, probe: {}, geometry: { box, status: 'tentative', misses: 0 } },
    { id: 101, probe: {}, geometry: { box, status: 'confirmed', misses: 2 } },
  );
  // A probe costs 1 ms: 7 fit in the probes' share (70 %) of the 10 ms budget.
  s.cost.probe(1, 1);
  const count = new Map<number, number>();
  const gaps = new Map<number, number[]>();
  const last = new Map<number, number>();
  for (let i = 0; i < 60; i++) {
    const picked = s.pickProbes(tracks, i * 33);
    t.true(picked.length <= 7, `frame ${i}: ${picked.length} probes`);
    s.nextStrips(bands(640, 480), 7, i * 33);
    if (i > 0) t.true(picked.some((p) => p.id === 100) && picked.some((p) => p.id === 101), `frame ${i}: the tentative and the lost track are probed`);
    for (const p of picked) {
      count.set(p.id, (count.get(p.id) ?? 0) + 1);
      if (last.has(p.id)) gaps.set(p.id, [...(gaps.get(p.id) ?? []), i - (last.get(p.id) as number)]);
      last.set(p.id, i);
    }
  }
  // 30 found tracks share 5 probes a frame (2 go to the urgent ones): each is probed every 6 frames, none starves.
  for (let id = 1; id <= 30; id++) {
    t.true((count.get(id) ?? 0) >= 9, `track ${id} probed ${count.get(id)} times in 60 frames`);
    t.true(Math.max(...(gaps.get(id) ?? [99])) <= 7, `track ${id}: gaps ${gaps.get(id)?.join(',')}`);
  }
});

test('a new track that does not move fast is probed as fresh (a narrower window); a lost, a fast or a found one is not', (t) => {
  const s = new DetectionSchedule({ budgetMs: 100, trackHz: 6, fullEvery: 5 });
  const box = { x: 100, y: 100, width: 40, height: 40 };
  const tracks: ProbeTarget[] = [
    { id: 1, probe: {}, geometry: { box, status: 'tentative', misses: 0 } },
    { id: 2, probe: {}, geometry: { box, status: 'tentative', misses: 1 } },
    // 40 px a second is a face side a second: fast (more than half a side).
    { id: 3, probe: {}, geometry: { box, status: 'tentative', misses: 0, motion: { vx: 0.04, vy: 0 } } },
    { id: 4, probe: {}, geometry: { box, status: 'confirmed', misses: 1 } },
    { id: 5, probe: {}, geometry: { box, status: 'confirmed', misses: 0 } },
  ];
  const picked = s.pickProbes(tracks, 0);
  t.deepEqual(
    picked.map((p) => p.id),
    [1, 2, 3, 4, 5],
  );
  t.deepEqual(
    tracks.map((x) => x.probe.fresh),
    [true, true, false, false, false],
  );
  // Confirmed: the next frame's probe of the first is not fresh.
  const confirmed = { ...tracks[0], geometry: { box, status: 'confirmed' as const, misses: 0 } } as ProbeTarget;
  s.pickProbes([confirmed], 500);
  t.false(confirmed.probe.fresh);
});

test('with room in the budget, a found track is probed at track_hz, not on every frame', (t) => {
  const s = new DetectionSchedule({ budgetMs: 100, trackHz: 6, fullEvery: 5 });
  const track: ProbeTarget = { id: 1, probe: {}, geometry: { box: { x: 0, y: 0, width: 40, height: 40 }, status: 'confirmed', misses: 0 } };
  let probes = 0;
  for (let i = 0; i < 90; i++) probes += s.pickProbes([track], i * 33.3).length;
  t.true(probes >= 17 && probes <= 19, `${probes} probes in 3 s`);
});

test('when the frame size changes mid-sweep, the sweep starts over on the new bands', (t) => {
  const s = new DetectionSchedule({ budgetMs: 1000, trackHz: 6, fullEvery: 5 });
  const big = bands(1920, 1080);
  s.nextStrips(big, 0, 0);
  s.cost.sweep(1, 1e4);
  // Two fifths of a 1080p sweep: the cursor is deep in the first band, below the last row of a 320x240 band.
  const deep = [...s.nextStrips(big, 0, 33), ...s.nextStrips(big, 0, 66)].at(-1) as Strip;
  const small = bands(320, 240);
  t.true(deep.row0 + deep.rows > (small[deep.band] as Band).height, JSON.stringify(deep));
  const strips = s.nextStrips(small, 0, 200);
  t.true(strips.length >= 1);
  for (const st of strips) {
    const b = small[st.band] as Band;
    t.true(st.row0 >= 0 && st.rows > 0 && st.row0 + st.rows <= b.height, JSON.stringify(st));
    t.true(st.col0 >= 0 && st.cols > 0 && st.col0 + st.cols <= b.width, JSON.stringify(st));
  }
});

test('a face that moves fast is probed on every frame; a still one at track_hz', (t) => {
  const s = new DetectionSchedule({ budgetMs: 100, trackHz: 6, fullEvery: 5 });
  const box = { x: 0, y: 0, width: 90, height: 90 };
  // 260 px/s on a 90 px face (2.9 sides/s): the demo clip's face leaving the frame.
  const walking: ProbeTarget = { id: 1, probe: {}, geometry: { box, status: 'confirmed', misses: 0, motion: { vx: 0.26, vy: 0 } } };
  const still: ProbeTarget = { id: 2, probe: {}, geometry: { box, status: 'confirmed', misses: 0, motion: { vx: 0.002, vy: 0 } } };
  const count = new Map<number, number>();
  for (let i = 0; i < 30; i++) for (const p of s.pickProbes([walking, still], i * 66.7)) count.set(p.id, (count.get(p.id) ?? 0) + 1);
  t.is(count.get(1), 30);
  t.true((count.get(2) ?? 0) >= 11 && (count.get(2) ?? 0) <= 13, `still face probed ${count.get(2)} times in 2 s`);
});

test('largestFitting: the largest size that fits, its least when none does', (t) => {
  t.is(
    largestFitting(8, 100, (n) => n * n <= 2000),
    44,
  );
  t.is(
    largestFitting(8, 100, () => true),
    100,
  );
  t.is(
    largestFitting(8, 100, () => false),
    8,
  );
  t.is(
    largestFitting(5, 5, () => false),
    5,
  );
});
