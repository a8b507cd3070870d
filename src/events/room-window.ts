// The room's mood: the share of face-time per committed emotion over a window (events.room_interval_s), published
// as the anonymous room summary. It is THE mood of the daemon: MQTT's room topic, Home Assistant's sensors, the
// dashboard and /metrics all show this figure. Face-time is counted by the one accounting of hysteresis.ts: each
// confirmed face's time goes to its own totals (its face_gone shares) and the same time to the room's.
// With privacy.min_faces = k, face-time counts for the room only while at least k faces with an emotion are
// present, and a window that cannot speak for k faces is published as withheld (see isWithheld()).
import { EMOTIONS, zeroScores, type Emotion, type EmotionScores, type LabelledFace, type RoomSummary, type TrackedFace } from '../types.js';
import { dominant, normalise } from './emotion-gate.js';
import { accountTime } from './hysteresis.js';

export class RoomWindow {
  private totals = zeroScores();
  /** Face-time in the window while fewer than minFaces faces were present (not counted in totals). */
  private uncountedMs = 0;
  private windowStartMs: number;
  /** Face-time per emotion (ms) of every summary made so far that was not withheld: emotiond_emotion_seconds_total. */
  private readonly counted = zeroScores();
  /** The mood of the last summary: null before the first, for an empty room and while withheld. */
  private lastMood: Emotion | null = null;

  constructor(
    private readonly device: string,
    startMs: number,
    /** privacy.min_faces (1 = every face-time counts). */
    private readonly minFaces = 1,
    /** The wall time that stamps a summary made at frame time `frameMs` (default: frame times are wall times). */
    private readonly wall: (frameMs: number) => number = (frameMs) => frameMs,
  ) {
    this.windowStartMs = startMs;
  }

  /** Account each confirmed face's time since its last accounting to its committed emotion, and to the room's. */
  tick(tracks: readonly LabelledFace[], nowMs: number): void {
    const confirmed = tracks.filter((t) => t.geometry.status === 'confirmed');
    const labelled = confirmed.filter((t) => t.label.committed !== undefined).length;
    for (const t of confirmed) {
      const added = accountTime(t, nowMs);
      if (!added) continue;
      if (labelled < this.minFaces) this.uncountedMs += added.ms;
      else this.totals[added.emotion] += added.ms;
    }
  }

  /** Whether the room has a mood now that its last summary did not have (the first face-time of a run, or after an
   * empty or withheld window): its summary is then due at once, so the mood is known within a frame of the first
   * label rather than up to room_interval_s later. */
  moodArrived(tracks: readonly TrackedFace[]): boolean {
    return this.lastMood === null && this.hasData && !isWithheld(confirmedCount(tracks), this.minFaces, true, this.uncountedMs);
  }

  /** Close the window (after a last tick): the summary of it, and a new window starts. */
  summary(tracks: readonly LabelledFace[], nowMs: number): RoomSummary {
    this.tick(tracks, nowMs);
    const faces = confirmedCount(tracks);
    const withheld = isWithheld(faces, this.minFaces, this.hasData, this.uncountedMs);
    const shares = withheld ? zeroScores() : normalise(this.totals);
    const out: RoomSummary = {
      device: this.device,
      time: new Date(this.wall(nowMs)).toISOString(),
      window_s: Math.round((nowMs - this.windowStartMs) / 100) / 10,
      // 1 to minFaces - 1 faces: their count is withheld with the mood (a count that small, with the shares before
      // and after, would tell one person's mood).
      faces: faces > 0 && faces < this.minFaces ? null : faces,
      shares,
      dominant: dominant(shares),
      withheld,
      min_faces: this.minFaces,
    };
    if (!withheld) for (const e of EMOTIONS) this.counted[e] += this.totals[e];
    this.lastMood = out.dominant;
    this.totals = zeroScores();
    this.uncountedMs = 0;
    this.windowStartMs = nowMs;
    return out;
  }

  /** Face-seconds per emotion in the summaries made so far, withheld ones left out (what the room topic said). */
  emotionSeconds(): EmotionScores {
    const out = zeroScores();
    for (const e of EMOTIONS) out[e] = this.counted[e] / 1000;
    return out;
  }

  private get hasData(): boolean {
    return EMOTIONS.some((e) => this.totals[e] > 0);
  }
}

function confirmedCount(tracks: readonly TrackedFace[]): number {
  return tracks.filter((t) => t.geometry.status === 'confirmed').length;
}

/** The summary of a room nothing has been seen in yet, since `startMs` (a run that has just started; monotonic ms
 * like `nowMs`), under `minFaces`, stamped with the wall time `wallMs`. */
export function emptySummary(device: string, startMs: number, nowMs: number, minFaces: number, wallMs: number): RoomSummary {
  return {
    device,
    time: new Date(wallMs).toISOString(),
    window_s: Math.max(0.1, Math.round((nowMs - startMs) / 100) / 10),
    faces: 0,
    shares: zeroScores(),
    dominant: null,
    withheld: false,
    min_faces: minFaces,
  };
}

/**
 * A summary is withheld while 1 to minFaces - 1 faces are present at its end (an empty room tells nobody's
 * mood), or when the window had faces but never minFaces of them at once. With minFaces 1 it never is.
 */
function isWithheld(facesNow: number, minFaces: number, counted: boolean, uncountedMs: number): boolean {
  if (facesNow > 0 && facesNow < minFaces) return true;
  return !counted && uncountedMs > 0;
}
