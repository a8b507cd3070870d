// Classroom clips: a wall of small real faces (CK+ full-frame sequences of the subjects the model never
// trained on), seated in rows, small at the back and larger at the front. Each face appears at its own
// time, holds its neutral first frame for a second, plays its neutral-to-apex sequence at 30 fps and then
// holds the apex to the end of the clip. Deterministic (a fixed seed); cached like the other composed clips.
import cv from '../../../src/system/opencv.js';
import type { BoxTuple, CkSequence } from './data.js';
import { readCkSequences } from './data.js';
import { cached, medianBox, writeClip, type ComposedClip, type ComposedFace } from './compose.js';
import { rng } from '../../../models/eval/streams.js';

export interface ClassroomSpec {
  name: string;
  width: number;
  height: number;
  faces: number;
  /** Face (Haar box) sides in clip pixels, smallest at the back row, largest at the front. */
  minFace: number;
  maxFace: number;
  rows: number;
  seconds: number;
  /** Frames per second (30 when absent): faces arrive and play their sequences at the same times at any rate. */
  fps?: number;
  /** 'arrivals' (when absent): a third of the faces from the first frame, the others arriving between 1 and 5 s,
   * each playing its expression a second after it arrives. 'still': a class sitting still: every face from the
   * first frame but every ninth, which arrives between 3 and 15 s; each plays its expression once, at a time of
   * its own between 2 and 18 s. */
  scene?: 'arrivals' | 'still';
}

export const CLASSROOM_720P: ClassroomSpec = {
  name: 'classroom-27faces-1280x720',
  width: 1280,
  height: 720,
  faces: 27,
  minFace: 36,
  maxFace: 90,
  rows: 4,
  seconds: 12,
};
export const CLASSROOM_1080P: ClassroomSpec = {
  name: 'classroom-30faces-1920x1080',
  width: 1920,
  height: 1080,
  faces: 30,
  minFace: 40,
  maxFace: 120,
  rows: 4,
  seconds: 12,
};
/** The 720p classroom at 15 fps: the same faces at the same times. */
export const CLASSROOM_720P_15FPS: ClassroomSpec = { ...CLASSROOM_720P, name: 'classroom-27faces-1280x720-15fps', fps: 15 };
/** The 720p classroom sitting still for 20 s: 24 faces from the start, 3 arrivals, one expression each. */
export const CLASSROOM_STILL_720P: ClassroomSpec = { ...CLASSROOM_720P, name: 'classroom-still-27faces-1280x720', seconds: 20, scene: 'still' };

const FPS = 30;
/** A face's picture is its Haar box grown by this much (hair, chin, some shoulder). */
const REGION_PER_FACE = 1.6;
/** Frames the neutral first frame is held when a face appears, before its expression starts. */
const NEUTRAL_HOLD = 30;
/** A third of the faces are there from the first frame; the others arrive between these times (s). */
const ARRIVALS_S: [number, number] = [1, 5];
/** The still scene: arrivals of every ninth face, and the window in which each face plays its expression (s). */
const STILL_ARRIVALS_S: [number, number] = [3, 15];
const STILL_ONSETS_S: [number, number] = [2, 18];
const SEED = 20261201;

/** CK+ labels that are one of the six classes (contempt and disgust have none). */
const LABELS: Record<string, string> = { anger: 'Angry', fear: 'Fear', happy: 'Happy', sadness: 'Sad', surprise: 'Surprise' };

/** How many faces sit in each row, back to front: more small faces at the back (weights R..1, largest remainder). */
export function rowCounts(faces: number, rows: number): number[] {
  const w = Array.from({ length: rows }, (_, r) => rows - r + 1);
  const total = w.reduce((a, b) => a + b, 0);
  const exact = w.map((x) => (faces * x) / total);
  const counts = exact.map(Math.floor);
  const order = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r);
  for (let k = 0; counts.reduce((a, b) => a + b, 0) < faces; k++) counts[(order[k % rows] as { i: number }).i]! += 1;
  return counts;
}

interface Seat {
  /** Face side in clip pixels. */
  side: number;
  /** Centre of the face in clip pixels. */
  cx: number;
  cy: number;
}

/** Seats in rows: face sides spread geometrically from minFace (back) to maxFace (front), rows staggered
 * and stacked with a gap so that no two pictures overlap; the block of rows is centred in the frame. */
export function seats(spec: ClassroomSpec, rnd: () => number): Seat[] {
  const counts = rowCounts(spec.faces, spec.rows);
  const sides = Array.from({ length: spec.faces }, (_, i) => Math.round(spec.minFace * (spec.maxFace / spec.minFace) ** (i / Math.max(1, spec.faces - 1))));
  const rows: number[][] = [];
  counts.reduce((start, n) => (rows.push(sides.slice(start, start + n)), start + n), 0);
  const tall = rows.map((r) => Math.max(...r) * REGION_PER_FACE);
  const gap = Math.max(4, (spec.height - tall.reduce((a, b) => a + b, 0)) / (spec.rows + 1));
  const out: Seat[] = [];
  let top = gap;
  rows.forEach((row, r) => {
    const cy = top + (tall[r] as number) / 2;
    top += (tall[r] as number) + gap;
    const slot = spec.width / row.length;
    const stagger = r % 2 === 0 ? 0.4 : 0.6;
    row.forEach((side, j) => {
      const jitter = (rnd() - 0.5) * 0.2 * (slot - side * REGION_PER_FACE);
      out.push({ side, cx: Math.round(slot * (j + stagger) + jitter), cy: Math.round(cy + (rnd() - 0.5) * 0.25 * gap) });
    });
  });
  return out;
}

interface Placed {
  seq: CkSequence;
  label: string;
  mirror: boolean;
  /** Square crop of the CK+ frame around the face. */
  crop: cv.Rect;
  region: BoxTuple;
  face: BoxTuple;
  first: number;
  onset: number;
}

/** The face's square crop in its sequence's frames and where it lands in the clip. */
function place(seq: CkSequence, seat: Seat): { crop: cv.Rect; region: BoxTuple; face: BoxTuple } {
  const [bx, by, bw] = medianBox(seq.boxes);
  const side = Math.min(seq.width, seq.height, Math.round(bw * REGION_PER_FACE));
  const x0 = Math.min(seq.width - side, Math.max(0, Math.round(bx + bw / 2 - side / 2)));
  const y0 = Math.min(seq.height - side, Math.max(0, Math.round(by + bw / 2 - side / 2)));
  const k = seat.side / bw;
  const regionSide = Math.round(side * k);
  const rx = Math.round(seat.cx - (bx + bw / 2 - x0) * k);
  const ry = Math.round(seat.cy - (by + bw / 2 - y0) * k);
  const face: BoxTuple = [Math.round(rx + (bx - x0) * k), Math.round(ry + (by - y0) * k), seat.side, seat.side];
  return { crop: new cv.Rect(x0, y0, side, side), region: [rx, ry, regionSide, regionSide], face };
}

function overlaps(a: BoxTuple, b: BoxTuple): boolean {
  return a[0] < b[0] + b[2] && b[0] < a[0] + a[2] && a[1] < b[1] + b[3] && b[1] < a[1] + a[3];
}

const between = (rnd: () => number, [a, b]: [number, number]): number => a + rnd() * (b - a);

/** When face i arrives and when its expression starts, in frames of the clip. */
function timing(spec: ClassroomSpec, i: number, rnd: () => number): { first: number; onset: number } {
  const fps = spec.fps ?? FPS;
  const frames = spec.seconds * fps;
  if (spec.scene === 'still') {
    const first = i % 9 === 4 ? Math.round(between(rnd, STILL_ARRIVALS_S) * fps) : 0;
    return { first, onset: Math.min(frames - 1, Math.max(first + fps, Math.round(between(rnd, STILL_ONSETS_S) * fps))) };
  }
  const first = i % 3 === 0 ? 0 : Math.round(between(rnd, ARRIVALS_S) * fps);
  return { first, onset: Math.min(frames - 1, first + Math.round((NEUTRAL_HOLD * fps) / FPS)) };
}

/** Lay out every face; throws if two pictures overlap or one leaves the frame (a broken recipe). */
function layout(spec: ClassroomSpec, sequences: CkSequence[]): Placed[] {
  // Seeded: the layout must not change between runs or machines.
  const rnd = rng(SEED);
  const usable = sequences.filter((s) => LABELS[s.label]).sort((a, b) => `${a.subject}/${a.sequence}`.localeCompare(`${b.subject}/${b.sequence}`));
  if (usable.length === 0) throw new Error('no CK+ full-frame sequence with one of the six labels');
  const order = usable
    .map((s) => ({ s, k: rnd() }))
    .sort((a, b) => a.k - b.k)
    .map((x) => x.s);
  const placed = seats(spec, rnd).map((seat, i): Placed => {
    const seq = order[i % order.length] as CkSequence;
    return { seq, label: LABELS[seq.label] as string, mirror: i >= order.length, ...place(seq, seat), ...timing(spec, i, rnd) };
  });
  placed.forEach((p, i) => {
    const [x, y, w, h] = p.region;
    if (x < 0 || y < 0 || x + w > spec.width || y + h > spec.height) throw new Error(`${spec.name}: face ${i} (${p.region.join(',')}) leaves the frame`);
    placed.slice(0, i).forEach((q, j) => {
      if (overlaps(p.region, q.region)) throw new Error(`${spec.name}: faces ${j} and ${i} overlap`);
    });
  });
  return placed;
}

/** The frame of its sequence a face shows at clip frame i (null before it arrives); sequences play at 30 fps. */
function frameAt(p: Placed, i: number, fps: number): string | null {
  if (i < p.first) return null;
  const k = Math.round((Math.max(0, i - p.onset) * FPS) / fps);
  return p.seq.files[Math.min(k, p.seq.files.length - 1)] as string;
}

/** The composed classroom clip under `cacheDir` (made on first use). */
export function classroomClip(dataDir: string, cacheDir: string, spec: ClassroomSpec = CLASSROOM_720P): ComposedClip {
  const fps = spec.fps ?? FPS;
  const variant = `${spec.fps ? `, ${fps} fps` : ''}${spec.scene === 'still' ? `, still: arrivals ${STILL_ARRIVALS_S.join('-')} s of every ninth face, onsets ${STILL_ONSETS_S.join('-')} s` : ''}`;
  const recipe = `classroom/v1: ${spec.width}x${spec.height}, ${spec.faces} faces of ${spec.minFace}-${spec.maxFace} px in ${spec.rows} rows, ${spec.seconds} s, seed ${SEED}, region x${REGION_PER_FACE}, neutral hold ${NEUTRAL_HOLD}, arrivals ${ARRIVALS_S.join('-')} s${variant}`;
  return cached(cacheDir, spec.name, recipe, (file) => {
    const placed = layout(spec, readCkSequences(dataDir));
    const frames = spec.seconds * fps;
    const scaled = new Map<string, cv.Mat>();
    const picture = (p: Placed, idx: number, png: string): cv.Mat => {
      const key = `${idx}:${png}`;
      let m = scaled.get(key);
      if (!m) {
        const full = cv.imread(png, cv.IMREAD_GRAYSCALE);
        if (full.empty) throw new Error(`cannot read ${png}`);
        const small = full.getRegion(p.crop).resize(p.region[3], p.region[2], 0, 0, cv.INTER_AREA);
        m = p.mirror ? small.flip(1) : small;
        if (m !== small) small.release();
        full.release();
        scaled.set(key, m);
      }
      return m;
    };
    try {
      writeClip(
        file,
        frames,
        (i, canvas) => {
          placed.forEach((p, idx) => {
            const png = frameAt(p, i, fps);
            if (!png) return;
            const [x, y, w, h] = p.region;
            picture(p, idx, png).copyTo(canvas.getRegion(new cv.Rect(x, y, w, h)));
          });
        },
        { width: spec.width, height: spec.height },
        fps,
      );
    } finally {
      for (const m of scaled.values()) m.release();
    }
    const faces: ComposedFace[] = placed.map((p) => ({
      subject: `${p.seq.subject}/${p.seq.sequence}${p.mirror ? ' (mirrored)' : ''}`,
      region: p.region,
      face: p.face,
      label: p.label,
      firstFrame: p.first,
      onsetFrame: p.onset,
      lastFrame: frames - 1,
    }));
    return { width: spec.width, height: spec.height, fps, frames, faces };
  });
}
