// Turns track changes into events: face_appeared (a confirmed face's first classification; its emotion is null
// until the first label is committed, see hysteresis.ts), emotion_changed (after hysteresis; the first commit
// after an announcement without a label has before: null) and face_gone (only for faces that were ever confirmed).
// The gate decides and returns the events; the pipeline hands them to the sinks.
import { EMOTIONS, zeroScores, type Emotion, type EmotionEvent, type EmotionScores, type LabelledFace, type TrackedFace } from '../types.js';
import { accountTime, applyHysteresis, type HysteresisSettings } from './hysteresis.js';

interface GateDeps {
  device: string;
  /** Distinguishes event ids across restarts. */
  bootId?: string;
  /** The wall time that stamps an event made at frame time `frameMs` (default: frame times are wall times). */
  wall?: (frameMs: number) => number;
}

export class EmotionGate {
  private counter = 0;
  private readonly bootId: string;

  constructor(
    private readonly settings: HysteresisSettings,
    private readonly deps: GateDeps,
  ) {
    this.bootId = deps.bootId ?? Date.now().toString(36);
  }

  /** Call after a confirmed track got new scores (one model step); returns the event it makes, if any. */
  classified(track: LabelledFace, nowMs: number): EmotionEvent | null {
    const change = applyHysteresis(track, nowMs, this.settings);
    const scores = track.model.scores;
    if (!track.label.announced) {
      track.label.announced = true;
      return { ...this.base(track, nowMs), type: 'face_appeared', emotion: track.label.committed ?? null, scores: scores ? round(scores) : null };
    }
    if (change && scores) return { ...this.base(track, nowMs), type: 'emotion_changed', before: change.before, after: change.after, scores: round(scores) };
    return null;
  }

  /** A confirmed track ended: its face_gone, after its face_appeared when it was never announced. */
  ended(track: LabelledFace, nowMs: number): EmotionEvent[] {
    const out: EmotionEvent[] = [];
    if (!track.label.announced) {
      // Confirmed but never classified (e.g. paused): it still appeared and left.
      track.label.announced = true;
      out.push({ ...this.base(track, nowMs), type: 'face_appeared', emotion: null, scores: null });
    }
    const g = track.geometry;
    accountTime(track, Math.min(nowMs, g.lastSeenMs));
    const shares = normalise(track.label.timeIn);
    out.push({
      ...this.base(track, nowMs),
      type: 'face_gone',
      duration_s: Math.round((g.lastSeenMs - g.firstSeenMs) / 100) / 10,
      dominant: dominant(shares),
      shares,
    });
    return out;
  }

  private base(track: TrackedFace, nowMs: number) {
    this.counter += 1;
    const b = track.geometry.box;
    return {
      id: `${this.deps.device}-${this.bootId}-${this.counter}`,
      device: this.deps.device,
      track: track.id,
      time: new Date(this.deps.wall?.(nowMs) ?? nowMs).toISOString(),
      box: { x: Math.round(b.x), y: Math.round(b.y), width: Math.round(b.width), height: Math.round(b.height) },
    };
  }
}

export function normalise(totals: EmotionScores): EmotionScores {
  const sum = EMOTIONS.reduce((acc, e) => acc + totals[e], 0);
  const out = zeroScores();
  if (sum > 0) for (const e of EMOTIONS) out[e] = Math.round((totals[e] / sum) * 1000) / 1000;
  return out;
}

export function dominant(shares: EmotionScores): Emotion | null {
  let best: Emotion | null = null;
  for (const e of EMOTIONS) if (shares[e] > 0 && (best === null || shares[e] > shares[best])) best = e;
  return best;
}

function round(s: EmotionScores): EmotionScores {
  const out = zeroScores();
  for (const e of EMOTIONS) out[e] = Math.round(s[e] * 1000) / 1000;
  return out;
}
