// Composes camera-like reference clips from CK+ full-frame sequences (real faces, real expressions)
// and caches them as MJPEG AVI beside a JSON manifest that says where each face is and when. The
// composition is deterministic; a clip is rewritten only when its recipe changes.
import fs from 'node:fs';
import path from 'node:path';
import cv from '../../../src/system/opencv.js';
import { nearestRank } from '../../../src/system/quantile.js';
import type { BoxTuple, CkSequence } from './data.js';
import { readCkSequences } from './data.js';

export interface ComposedFace {
  subject: string;
  /** Where the face's picture is drawn, in clip pixels. */
  region: BoxTuple;
  /** First and last frame (0-based, inclusive) in which the face is visible. */
  firstFrame: number;
  lastFrame: number;
  /** The face itself (the sequence's median Haar box, as drawn), for clips that place many small faces. */
  face?: BoxTuple;
  /** The class the face's sequence ends in (the CK+ apex label), when it has one of the six. */
  label?: string;
  /** Frame at which the face's expression starts to move from neutral towards the apex. */
  onsetFrame?: number;
}

export interface ComposedClip {
  name: string;
  /** Absolute path of the AVI. */
  path: string;
  recipe: string;
  width: number;
  height: number;
  fps: number;
  frames: number;
  faces: ComposedFace[];
}

const FPS = 30;
const WIDTH = 640;
const HEIGHT = 480;
const BACKGROUND = 96;
/** Frames the apex is held after each sequence, so that an expression lasts long enough to be committed. */
const APEX_HOLD = 10;

/** Three subjects side by side for ten seconds, each cycling through its own sequences. */
export const THREE_FACES = {
  name: 'ck3faces-640x480',
  recipe: 'ck3faces/v1: S055 S074 S130, 213x320 regions, crop 326x490 around the median face centre, apex hold 10, 300 frames',
  subjects: ['S055', 'S074', 'S130'],
  regionWidth: 213,
  regionHeight: 320,
  /** Each subject at its own height, so that the faces are not in one line. */
  regionTop: [80, 56, 104],
  frames: 10 * FPS,
} as const;

/** Every subject once, one after another, with empty frames between them. */
export const SUBJECTS_IN_TURN = {
  name: 'ck-subjects-in-turn-640x480',
  recipe: 'ck-subjects-in-turn/v1: longest sequence per subject, >= 45 face frames, 30 empty frames after each, rows 5..485',
  faceFrames: 45,
  gapFrames: 30,
} as const;

/** The composed three-face clip under `cacheDir` (made on first use). */
export function threeFaceClip(dataDir: string, cacheDir: string): ComposedClip {
  const spec = THREE_FACES;
  return cached(cacheDir, spec.name, spec.recipe, (file) => {
    const bySubject = groupBySubject(readCkSequences(dataDir));
    const crops = new CropCache();
    const lanes = spec.subjects.map((subject, i) => {
      const seqs = bySubject.get(subject);
      if (!seqs) throw new Error(`CK+ subject ${subject} is not in ckplus/fullframe.json`);
      const left = Math.round((i * WIDTH) / spec.subjects.length);
      const right = Math.round(((i + 1) * WIDTH) / spec.subjects.length);
      const top = spec.regionTop[i] ?? 80;
      const region: BoxTuple = [left, top, right - left, spec.regionHeight];
      return { subject, region, crop: cropAround(seqs, region), timeline: loop(timelineOf(seqs), spec.frames) };
    });
    writeClip(file, spec.frames, (i, canvas) => {
      for (const lane of lanes) {
        const frame = lane.timeline[i] as string;
        const [x, y, w, h] = lane.region;
        crops.get(frame, lane.crop, w, h).copyTo(canvas.getRegion(new cv.Rect(x, y, w, h)));
      }
    });
    crops.release();
    return {
      width: WIDTH,
      height: HEIGHT,
      fps: FPS,
      frames: spec.frames,
      faces: lanes.map((l) => ({ subject: l.subject, region: l.region, firstFrame: 0, lastFrame: spec.frames - 1 })),
    };
  });
}

/** The composed clip with every CK+ subject in turn under `cacheDir` (made on first use). */
export function subjectsInTurnClip(dataDir: string, cacheDir: string): ComposedClip {
  const spec = SUBJECTS_IN_TURN;
  return cached(cacheDir, spec.name, spec.recipe, (file) => {
    const bySubject = groupBySubject(readCkSequences(dataDir));
    const schedule: Array<string | null> = [];
    const faces: ComposedFace[] = [];
    for (const [subject, seqs] of [...bySubject].sort(([a], [b]) => a.localeCompare(b))) {
      const longest = [...seqs].sort((a, b) => b.files.length - a.files.length || a.sequence.localeCompare(b.sequence))[0] as CkSequence;
      const files = [...longest.files];
      while (files.length < spec.faceFrames) files.push(longest.files[longest.files.length - 1] as string);
      const [bx, by, bw, bh] = medianBox(longest.boxes);
      faces.push({ subject, region: [bx, by - 5, bw, bh], firstFrame: schedule.length, lastFrame: schedule.length + files.length - 1 });
      schedule.push(...files, ...new Array<null>(spec.gapFrames).fill(null));
    }
    const rows = new cv.Rect(0, 5, WIDTH, HEIGHT);
    writeClip(file, schedule.length, (i, canvas) => {
      const png = schedule[i];
      if (!png) return;
      const full = cv.imread(png, cv.IMREAD_GRAYSCALE);
      full.getRegion(rows).copyTo(canvas);
      full.release();
    });
    return { width: WIDTH, height: HEIGHT, fps: FPS, frames: schedule.length, faces };
  });
}

/** A photo held still for `frames` frames, scaled to fit 640x480 (e.g. the face-free dogs.jpg). */
export function stillClip(photo: string, name: string, frames: number, cacheDir: string): ComposedClip {
  const recipe = `still/v1: ${path.basename(photo)} ${fs.statSync(photo).size} bytes, fit 640x480, ${frames} frames`;
  return cached(cacheDir, name, recipe, (file) => {
    const img = cv.imread(photo, cv.IMREAD_GRAYSCALE);
    if (img.empty) throw new Error(`cannot read ${photo}`);
    const k = Math.min(WIDTH / img.cols, HEIGHT / img.rows);
    const w = Math.round(img.cols * k);
    const h = Math.round(img.rows * k);
    const fitted = img.resize(h, w, 0, 0, cv.INTER_AREA);
    const at = new cv.Rect(Math.floor((WIDTH - w) / 2), Math.floor((HEIGHT - h) / 2), w, h);
    writeClip(file, frames, (_i, canvas) => fitted.copyTo(canvas.getRegion(at)));
    img.release();
    fitted.release();
    return { width: WIDTH, height: HEIGHT, fps: FPS, frames, faces: [] };
  });
}

type Made = Omit<ComposedClip, 'name' | 'path' | 'recipe'>;

/** Return the cached clip when its manifest has this recipe; otherwise compose it (atomically). */
export function cached(cacheDir: string, name: string, recipe: string, make: (file: string) => Made): ComposedClip {
  const file = path.join(cacheDir, `${name}.avi`);
  const manifest = path.join(cacheDir, `${name}.json`);
  if (fs.existsSync(file) && fs.existsSync(manifest)) {
    const known = JSON.parse(fs.readFileSync(manifest, 'utf8')) as ComposedClip;
    if (known.recipe === recipe) return { ...known, path: file };
  }
  fs.mkdirSync(cacheDir, { recursive: true });
  // Tests in parallel processes may compose the same clip: each writes its own file, the last rename wins.
  const tmp = path.join(cacheDir, `${name}.${process.pid}.tmp.avi`);
  try {
    const made = make(tmp);
    const clip: ComposedClip = { name, path: file, recipe, ...made };
    fs.renameSync(tmp, file);
    fs.writeFileSync(`${manifest}.${process.pid}.tmp`, `${JSON.stringify({ ...clip, path: path.basename(file) }, null, 1)}\n`);
    fs.renameSync(`${manifest}.${process.pid}.tmp`, manifest);
    return clip;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Write `frames` frames of an MJPEG AVI (640x480 at 30 fps unless `size` and `fps` say otherwise); `draw` paints frame i onto a gray canvas. */
export function writeClip(file: string, frames: number, draw: (i: number, canvas: cv.Mat) => void, size = { width: WIDTH, height: HEIGHT }, fps = FPS): void {
  writeFrames(file, frames, size, fps, (i) => {
    const canvas = new cv.Mat(size.height, size.width, cv.CV_8UC1, BACKGROUND);
    try {
      draw(i, canvas);
      return canvas.cvtColor(cv.COLOR_GRAY2BGR);
    } finally {
      canvas.release();
    }
  });
}

/** Write `frames` BGR frames made by `make` (each released here) as an MJPEG AVI. */
export function writeFrames(file: string, frames: number, size: { width: number; height: number }, fps: number, make: (i: number) => cv.Mat): void {
  const writer = new cv.VideoWriter(file, cv.VideoWriter.fourcc('MJPG'), fps, new cv.Size(size.width, size.height), true);
  try {
    for (let i = 0; i < frames; i++) {
      const bgr = make(i);
      writer.write(bgr);
      bgr.release();
    }
  } finally {
    writer.release();
  }
  if (!fs.existsSync(file) || fs.statSync(file).size === 0) throw new Error(`OpenCV VideoWriter wrote nothing to ${file} (no MJPG encoder?)`);
}

function groupBySubject(seqs: CkSequence[]): Map<string, CkSequence[]> {
  const out = new Map<string, CkSequence[]>();
  for (const s of seqs) out.set(s.subject, [...(out.get(s.subject) ?? []), s]);
  for (const list of out.values()) list.sort((a, b) => a.sequence.localeCompare(b.sequence));
  return out;
}

/** The subject's sequences one after another, neutral to apex, each apex held APEX_HOLD frames. */
function timelineOf(seqs: CkSequence[]): string[] {
  return seqs.flatMap((s) => [...s.files, ...new Array<string>(APEX_HOLD).fill(s.files[s.files.length - 1] as string)]);
}

function loop<T>(items: T[], n: number): T[] {
  return Array.from({ length: n }, (_, i) => items[i % items.length] as T);
}

/** The upper middle value (a box edge of one of the frames, never a mean of two); 0 for none. */
function median(xs: number[]): number {
  return nearestRank(xs, 0.5) ?? 0;
}

export function medianBox(boxes: BoxTuple[]): BoxTuple {
  return [0, 1, 2, 3].map((k) => median(boxes.map((b) => b[k] as number))) as BoxTuple;
}

/** The part of the 640x490 frame drawn into `region`: full height, the region's aspect, around the face. */
function cropAround(seqs: CkSequence[], region: BoxTuple): cv.Rect {
  const first = seqs[0] as CkSequence;
  const centre = median(seqs.flatMap((s) => s.boxes.map((b) => b[0] + b[2] / 2)));
  const h = first.height;
  const w = Math.min(first.width, Math.round((h * region[2]) / region[3]));
  const x = Math.min(first.width - w, Math.max(0, Math.round(centre - w / 2)));
  return new cv.Rect(x, 0, w, h);
}

/** Frames repeat (loops, held apexes): keep each scaled crop once. */
class CropCache {
  private readonly mats = new Map<string, cv.Mat>();

  get(file: string, crop: cv.Rect, w: number, h: number): cv.Mat {
    let m = this.mats.get(file);
    if (!m) {
      const full = cv.imread(file, cv.IMREAD_GRAYSCALE);
      if (full.empty) throw new Error(`cannot read ${file}`);
      m = full.getRegion(crop).resize(h, w, 0, 0, cv.INTER_AREA);
      full.release();
      this.mats.set(file, m);
    }
    return m;
  }

  release(): void {
    for (const m of this.mats.values()) m.release();
    this.mats.clear();
  }
}
