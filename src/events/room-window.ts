// Anonymous room summary: share of face-time per committed emotion over a window, faces present now.
// With privacy.min_faces = k, face-time counts only while at least k faces with an emotion are present, and a
// window that cannot speak for k faces is published as withheld (see withheld()).
import { EMOTIONS, zeroScores, type RoomSummary, type TrackedFace } from '../types.js';
import { dominant, normalise } from './emotion-gate.js';

export class RoomWindow {
  private totals = zeroScores();
  /** Face-time in the window while fewer than minFaces faces were present (not counted in totals). */
  private uncountedMs = 0;
  private windowStartMs: number;
  private lastTickMs: number;

  constructor(
    private readonly device: string,
    startMs: number,
    /** privacy.min_faces (1 = every face-time counts). */
    private readonly minFaces = 1,
    /** The wall time that stamps a summary made at frame time `frameMs` (default: frame times are wall times). */
    private readonly wall: (frameMs: number) => number = (frameMs) => frameMs,
  ) {
    this.windowStartMs = startMs;
    this.lastTickMs = startMs;
  }

  /** Account the time since the last tick to the committed emotion of each confirmed face. */
  tick(tracks: readonly TrackedFace[], nowMs: number): void {
    const dt = Math.max(0, nowMs - this.lastTickMs);
    this.lastTickMs = nowMs;
    const labels = tracks.flatMap((t) => (t.geometry.status === 'confirmed' && t.label.committed ? [t.label.committed] : []));
    if (labels.length === 0) return;
    if (labels.length < this.minFaces) {
      this.uncountedMs += dt;
      return;
    }
    for (const committed of labels) this.totals[committed] += dt;
  }

  /** Close the window: the summary of it, and a new window starts. */
  summary(tracks: readonly TrackedFace[], nowMs: number): RoomSummary {
    this.tick(tracks, nowMs);
    const faces = tracks.filter((t) => t.geometry.status === 'confirmed').length;
    const withheld = isWithheld(faces, this.minFaces, this.hasData, this.uncountedMs);
    const shares = withheld ? zeroScores() : normalise(this.totals);
    const out: RoomSummary = {
      device: this.device,
      time: new Date(this.wall(nowMs)).toISOString(),
      window_s: Math.round((nowMs - this.windowStartMs) / 100) / 10,
      faces,
      shares,
      dominant: dominant(shares),
      withheld,
      min_faces: this.minFaces,
    };
    this.totals = zeroScores();
    this.uncountedMs = 0;
    this.windowStartMs = nowMs;
    return out;
  }

  private get hasData(): boolean {
    return EMOTIONS.some((e) => this.totals[e] > 0);
  }
}

/** The summary of a room nothing has been seen in yet, since `startMs` (a run that has just started; monotonic ms
 * like `nowMs`), under `minFaces`, stamped with the wall time `wallMs`. */
export function emptySummary(device: string, startMs: number, nowMs: number, minFaces: number, wallMs: number): RoomSummary {
  return { device, time: new Date(wallMs).toISOString(), window_s: Math.max(0.1, Math.round((nowMs - startMs) / 100) / 10), faces: 0, shares: zeroScores(), dominant: null, withheld: false, min_faces: minFaces };
}

/**
 * A summary is withheld while 1 to minFaces - 1 faces are present at its end (an empty room tells nobody's
 * mood), or when the window had faces but never minFaces of them at once. With minFaces 1 it never is.
 */
export function isWithheld(facesNow: number, minFaces: number, counted: boolean, uncountedMs: number): boolean {
  if (facesNow > 0 && facesNow < minFaces) return true;
  return !counted && uncountedMs > 0;
}
