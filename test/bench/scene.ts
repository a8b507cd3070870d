// Scores a clip run against the clip's layout (the manifest of a composed clip: where each face is, from
// when, and the label its sequence ends in): faces tracked, false and extra tracks, the last committed label
// per face, the per-face classification rate, how long a new face waits before it is reported, and how long a
// face's expression takes to become its label.
import fs from 'node:fs';
import type { BoxTuple } from '../helpers/clips/data.js';
import type { ComposedFace } from '../helpers/clips/compose.js';
import type { EmotionEvent, FaceState } from '../../src/types.js';
import type { RunRecord } from './run-clip.js';
import { nearestRank } from '../../src/system/quantile.js';

export interface SceneReport {
  faces: number;
  /** Faces with at least one confirmed track on them. */
  tracked: number;
  /** Tracks whose face_appeared box lies on no face. */
  false_tracks: number;
  /** Tracks beyond the first on a face (id switches, duplicates). */
  extra_tracks: number;
  /** Faces whose last committed label (its last faces/<id> state) is the sequence's label. */
  label_right: number;
  labelled: number;
  /** LSTM steps per second of each tracked face over its confirmed life (frame clock): min and median. */
  classify_hz: { min: number | null; median: number | null };
  /** Frame-clock seconds from a face's first frame to its face_appeared (its first event), for faces that arrive
   * after the first frame (the first frame is searched whole): median, p95 (nearest rank) and max. */
  first_report_s: { median: number | null; p95: number | null; max: number | null; late_faces: number };
  /** Frame-clock seconds from the onset of a face's expression (its manifest's onsetFrame) to the first
   * emotion_changed to the sequence's label after it: median and p90 over the faces that got there, and how many. */
  label_s: { median: number | null; p90: number | null; reached: number; faces: number };
  /** Per face: index, subject, label, tracks, last label, steps/s. */
  per_face: Array<{
    face: number;
    subject: string;
    label: string | null;
    tracks: number[];
    last: string | null;
    hz: number | null;
    report_s: number | null;
    label_s: number | null;
  }>;
}

/** The layout of a composed clip, read from the manifest beside it (null when there is none or it has no face boxes). */
export function readLayout(clip: string): { fps: number; faces: ComposedFace[] } | null {
  const manifest = clip.replace(/\.avi$/, '.json');
  if (manifest === clip || !fs.existsSync(manifest)) return null;
  const m = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { fps: number; faces: ComposedFace[] };
  return m.faces.length > 0 && m.faces.every((f) => f.face) ? m : null;
}

function inside(cx: number, cy: number, [x, y, w, h]: BoxTuple): boolean {
  return cx >= x && cx < x + w && cy >= y && cy < y + h;
}

const round = (x: number | null, k = 100): number | null => (x === null ? null : Math.round(x * k) / k);

export function scoreScene(run: RunRecord, layout: { fps: number; faces: ComposedFace[] }): SceneReport {
  const events = run.sink.events;
  const appeared = events.filter((e): e is Extract<EmotionEvent, { type: 'face_appeared' }> => e.type === 'face_appeared');
  const t0 = run.firstFrameMs;
  const frameMs = 1000 / layout.fps;
  const owner = (b: { x: number; y: number; width: number; height: number }): number =>
    layout.faces.findIndex((f) => inside(b.x + b.width / 2, b.y + b.height / 2, f.face as BoxTuple));
  const byFace = new Map<number, number[]>();
  let falseTracks = 0;
  for (const e of appeared) {
    const i = owner(e.box);
    if (i < 0) falseTracks += 1;
    else byFace.set(i, [...(byFace.get(i) ?? []), e.track]);
  }
  const states = new Map<number, FaceState[]>();
  for (const f of run.sink.faces) states.set(f.track, [...(states.get(f.track) ?? []), f]);
  const perFace = layout.faces.map((f, i) => {
    const tracks = byFace.get(i) ?? [];
    const all = tracks.flatMap((id) => states.get(id) ?? []).sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
    const last = all.at(-1)?.emotion ?? null;
    const main = tracks.map((id) => states.get(id) ?? []).sort((a, b) => b.length - a.length)[0] ?? [];
    const span = main.length >= 2 ? (Date.parse((main.at(-1) as FaceState).time) - Date.parse((main[0] as FaceState).time)) / 1000 : 0;
    const firstReport = tracks.length ? Math.min(...tracks.map((id) => Date.parse((appeared.find((e) => e.track === id) as EmotionEvent).time))) : null;
    return {
      face: i,
      subject: f.subject,
      label: f.label ?? null,
      tracks,
      last,
      hz: span > 0 ? round((main.length - 1) / span, 10) : null,
      report_s: firstReport === null ? null : round((firstReport - t0 - f.firstFrame * frameMs) / 1000),
      label_s: labelDelay(events, tracks, f, t0, frameMs),
    };
  });
  const withOnset = layout.faces.filter((f) => f.onsetFrame !== undefined && f.label);
  const delays = perFace.filter((p) => p.label_s !== null).map((p) => p.label_s as number);
  const late = perFace.filter((p, i) => (layout.faces[i] as ComposedFace).firstFrame > 0 && p.report_s !== null).map((p) => p.report_s as number);
  const hz = perFace.filter((p) => p.hz !== null).map((p) => p.hz as number);
  const labelled = perFace.filter((p) => p.label !== null);
  return {
    faces: layout.faces.length,
    tracked: perFace.filter((p) => p.tracks.length > 0).length,
    false_tracks: falseTracks,
    extra_tracks: perFace.reduce((a, p) => a + Math.max(0, p.tracks.length - 1), 0),
    label_right: labelled.filter((p) => p.last === p.label).length,
    labelled: labelled.length,
    classify_hz: { min: hz.length ? Math.min(...hz) : null, median: nearestRank(hz, 0.5) ?? null },
    first_report_s: {
      median: nearestRank(late, 0.5) ?? null,
      p95: nearestRank(late, 0.95) ?? null,
      max: late.length ? Math.max(...late) : null,
      late_faces: late.length,
    },
    label_s: { median: nearestRank(delays, 0.5) ?? null, p90: nearestRank(delays, 0.9) ?? null, reached: delays.length, faces: withOnset.length },
    per_face: perFace,
  };
}

/** Seconds from the onset of face `f`'s expression to the first emotion_changed of one of its tracks to its label at
 * or after it (null: no onset or label in the manifest, or never). */
function labelDelay(events: EmotionEvent[], tracks: number[], f: ComposedFace, t0: number, frameMs: number): number | null {
  if (f.onsetFrame === undefined || !f.label) return null;
  const onsetMs = t0 + f.onsetFrame * frameMs;
  const hit = events.find((e) => e.type === 'emotion_changed' && tracks.includes(e.track) && e.after === f.label && Date.parse(e.time) >= onsetMs);
  return hit ? round((Date.parse(hit.time) - onsetMs) / 1000) : null;
}
