// The slow-entrance clip: faces that arrive with little motion, the case a motion gate must not miss. Three CK+
// subjects (their neutral first frame, held), 640x480 at 30 fps for 9 s, on a plain wall:
//  - "seated": there from the first frame and sits still to the end;
//  - "sits down": comes down slowly from above the frame into its seat, from 1 s to 7 s (1.6 px a frame, about
//    0.6 face sides a second), then sits still;
//  - "fades in": its picture comes up from the wall's grey over 4 s, from 1 s to 5 s (less than one grey level a
//    frame: no two consecutive frames differ by a threshold), then stays.
// Its "into an empty room" variant (INTO_EMPTY) has no seated face and starts both entrances 3 s later, at 4 s: by
// then the motion gate has found the room idle and takes only detector.idle_fps frames a second.
import cv from '../../../src/system/opencv.js';
import type { BoxTuple, CkSequence } from './data.js';
import { readCkSequences } from './data.js';
import { cached, medianBox, writeClip, type ComposedClip, type ComposedFace } from './compose.js';

export const ENTRANCE = {
  name: 'slow-entrance-640x480',
  width: 640,
  height: 480,
  fps: 30,
  frames: 270,
  face: 80,
  /** Frames of the descent and of the fade. */
  sitDown: [30, 210] as [number, number],
  fadeIn: [30, 150] as [number, number],
} as const;

/** The same entrances into a room that was empty for the first 4 s (no seated face). */
export const INTO_EMPTY = {
  ...ENTRANCE,
  name: 'slow-entrance-into-empty-640x480',
  frames: 360,
  sitDown: [120, 300] as [number, number],
  fadeIn: [120, 240] as [number, number],
} as const;

const BACKGROUND = 96;
const REGION_PER_FACE = 1.6;
/** Where each face's picture ends up (left, top), by role. */
const SEATS = { seated: [40, 180], sitsDown: [256, 170], fadesIn: [472, 190] } as const;

/** The square crop of a sequence's first frame around its face, scaled so that the face is `face` px wide. */
function picture(seq: CkSequence, face: number): { mat: cv.Mat; faceAt: [number, number] } {
  const [bx, by, bw] = medianBox(seq.boxes);
  const side = Math.min(seq.width, seq.height, Math.round(bw * REGION_PER_FACE));
  const x0 = Math.min(seq.width - side, Math.max(0, Math.round(bx + bw / 2 - side / 2)));
  const y0 = Math.min(seq.height - side, Math.max(0, Math.round(by + bw / 2 - side / 2)));
  const k = face / bw;
  const full = cv.imread(seq.files[0] as string, cv.IMREAD_GRAYSCALE);
  if (full.empty) throw new Error(`cannot read ${seq.files[0]}`);
  const mat = full.getRegion(new cv.Rect(x0, y0, side, side)).resize(Math.round(side * k), Math.round(side * k), 0, 0, cv.INTER_AREA);
  full.release();
  return { mat, faceAt: [Math.round((bx - x0) * k), Math.round((by - y0) * k)] };
}

/** Paste the rows of `pic` that fall inside the canvas with its top-left corner at (x, y). */
function paste(canvas: cv.Mat, pic: cv.Mat, x: number, y: number): void {
  const top = Math.max(0, -y);
  const rows = Math.min(pic.rows, canvas.rows - y) - top;
  if (rows <= 0) return;
  pic.getRegion(new cv.Rect(0, top, pic.cols, rows)).copyTo(canvas.getRegion(new cv.Rect(x, y + top, pic.cols, rows)));
}

/** The slow-entrance clip under `cacheDir` (made on first use); its manifest's faces are, in order, the seated
 * face (not in INTO_EMPTY), the one that sits down and the one that fades in, each with its box in its seat and
 * the frame it starts to be visible. */
export function slowEntranceClip(dataDir: string, cacheDir: string, spec: typeof ENTRANCE | typeof INTO_EMPTY = ENTRANCE): ComposedClip {
  const withSeated = spec === ENTRANCE;
  const recipe = `slow-entrance/v1: ${spec.width}x${spec.height} at ${spec.fps} fps, ${spec.frames} frames, faces ${spec.face} px (neutral first frames of the first three CK+ subjects), seats ${JSON.stringify(withSeated ? SEATS : { ...SEATS, seated: null })}, sits down over frames ${spec.sitDown.join('-')}, fades in over ${spec.fadeIn.join('-')}`;
  return cached(cacheDir, spec.name, recipe, (file) => {
    const bySubject = new Map<string, CkSequence>();
    for (const s of readCkSequences(dataDir).sort((a, b) => `${a.subject}/${a.sequence}`.localeCompare(`${b.subject}/${b.sequence}`)))
      if (!bySubject.has(s.subject)) bySubject.set(s.subject, s);
    const seqs = [...bySubject.values()].slice(0, 3);
    if (seqs.length < 3) throw new Error('fewer than three CK+ subjects in ckplus/fullframe.json');
    const pics = seqs.map((s) => picture(s, spec.face));
    const [seated, sitting, fading] = pics as [ReturnType<typeof picture>, ReturnType<typeof picture>, ReturnType<typeof picture>];
    const sitFrom = -sitting.mat.rows;
    try {
      writeClip(
        file,
        spec.frames,
        (i, canvas) => {
          if (withSeated) paste(canvas, seated.mat, SEATS.seated[0], SEATS.seated[1]);
          const [s0, s1] = spec.sitDown;
          const t = Math.min(1, Math.max(0, (i - s0) / (s1 - s0)));
          paste(canvas, sitting.mat, SEATS.sitsDown[0], Math.round(sitFrom + t * (SEATS.sitsDown[1] - sitFrom)));
          const [f0, f1] = spec.fadeIn;
          const a = Math.min(1, Math.max(0, (i - f0) / (f1 - f0)));
          if (a > 0) {
            const faded = fading.mat.convertTo(cv.CV_8U, a, (1 - a) * BACKGROUND);
            paste(canvas, faded, SEATS.fadesIn[0], SEATS.fadesIn[1]);
            faded.release();
          }
        },
        { width: spec.width, height: spec.height },
        spec.fps,
      );
    } finally {
      for (const p of pics) p.mat.release();
    }
    const faceBox = (seat: readonly [number, number], p: ReturnType<typeof picture>): BoxTuple => [
      seat[0] + p.faceAt[0],
      seat[1] + p.faceAt[1],
      spec.face,
      spec.face,
    ];
    const faces: ComposedFace[] = [
      ...(withSeated
        ? [
            {
              subject: `${seqs[0]?.subject} (seated)`,
              region: [SEATS.seated[0], SEATS.seated[1], seated.mat.cols, seated.mat.rows] as BoxTuple,
              face: faceBox(SEATS.seated, seated),
              firstFrame: 0,
              lastFrame: spec.frames - 1,
            },
          ]
        : []),
      {
        subject: `${seqs[1]?.subject} (sits down)`,
        region: [SEATS.sitsDown[0], SEATS.sitsDown[1], sitting.mat.cols, sitting.mat.rows],
        face: faceBox(SEATS.sitsDown, sitting),
        firstFrame: spec.sitDown[0],
        lastFrame: spec.frames - 1,
      },
      {
        subject: `${seqs[2]?.subject} (fades in)`,
        region: [SEATS.fadesIn[0], SEATS.fadesIn[1], fading.mat.cols, fading.mat.rows],
        face: faceBox(SEATS.fadesIn, fading),
        firstFrame: spec.fadeIn[0],
        lastFrame: spec.frames - 1,
      },
    ];
    return { width: spec.width, height: spec.height, fps: spec.fps, frames: spec.frames, faces };
  });
}
