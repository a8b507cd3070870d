// Follows faces across frames: stable ids, a confirmation gate against false detections, and expiry.
// Each TrackedFace also carries the classifier's LSTM state and the gate's emotion state.
import type { Config } from '../config/schema.js';
import { zeroScores, type Box, type Detection, type TrackedFace } from '../types.js';
import { blend, centreDistance, iou } from './geometry.js';

export type TrackerSettings = Config['tracker'];

export interface TrackUpdate {
  /** Tracks confirmed by this frame. */
  confirmed: TrackedFace[];
  /** Confirmed tracks that ended with this frame (tentative ones vanish silently). */
  ended: TrackedFace[];
}

/** How far a matched box moves towards the new detection: smooths Haar jitter but follows motion. */
const BOX_SMOOTHING = 0.7;
/** A tentative track dropped after this many misses in a row never was a face. */
const TENTATIVE_MAX_MISSES = 2;
/** Detections remembered per track for the votes gate. */
const VOTE_HISTORY = 9;
/** Fallback match for fast motion when boxes no longer overlap enough: centre distance in face sides. */
const MAX_CENTRE_DISTANCE = 1.0;

export class FaceTracker {
  private live: TrackedFace[] = [];
  private nextId = 1;

  constructor(private readonly settings: TrackerSettings) {}

  get tracks(): readonly TrackedFace[] {
    return this.live;
  }

  get confirmedTracks(): TrackedFace[] {
    return this.live.filter((t) => t.status === 'confirmed');
  }

  update(detections: readonly Detection[], nowMs: number): TrackUpdate {
    const matched = this.associate(detections);
    const confirmed: TrackedFace[] = [];
    for (const [track, det] of matched) {
      track.box = squareBlend(track.box, det.box);
      track.hits += 1;
      track.misses = 0;
      track.lastSeenMs = nowMs;
      track.votes = [...track.votes.slice(1 - VOTE_HISTORY), det.score];
    }
    const used = new Set([...matched.values()]);
    for (const t of this.live) if (!matched.has(t)) t.misses += 1;
    for (const d of detections) if (!used.has(d)) this.live.push(this.spawn(d, nowMs));
    for (const t of this.live) {
      if (t.status === 'tentative' && t.hits >= this.settings.confirm_hits && median(t.votes) >= this.settings.confirm_votes) {
        t.status = 'confirmed';
        t.confirmedMs = nowMs;
        confirmed.push(t);
      }
    }
    return { confirmed, ended: this.expire(nowMs) };
  }

  /** End every track now (shutdown, reset): returns the confirmed ones. */
  endAll(): TrackedFace[] {
    const ended = this.live.filter((t) => t.status === 'confirmed');
    this.live = [];
    return ended;
  }

  /** Greedy one-to-one matching: best IoU first, then nearest centre for what is left. */
  private associate(detections: readonly Detection[]): Map<TrackedFace, Detection> {
    const pairs: Array<{ t: TrackedFace; d: Detection; score: number }> = [];
    for (const t of this.live) {
      for (const d of detections) {
        const overlap = iou(t.box, d.box);
        if (overlap >= this.settings.iou_threshold) pairs.push({ t, d, score: 1 + overlap });
        else if (centreDistance(t.box, d.box) <= MAX_CENTRE_DISTANCE && similarSize(t.box, d.box)) pairs.push({ t, d, score: 1 - centreDistance(t.box, d.box) });
      }
    }
    // Confirmed tracks win ties so that a spurious tentative track never steals a real face.
    pairs.sort((a, b) => b.score - a.score || rank(b.t) - rank(a.t));
    const out = new Map<TrackedFace, Detection>();
    const taken = new Set<Detection>();
    for (const p of pairs) {
      if (out.has(p.t) || taken.has(p.d)) continue;
      out.set(p.t, p.d);
      taken.add(p.d);
    }
    return out;
  }

  private spawn(d: Detection, nowMs: number): TrackedFace {
    return newTrack(this.nextId++, d, nowMs);
  }

  private expire(nowMs: number): TrackedFace[] {
    const ended: TrackedFace[] = [];
    this.live = this.live.filter((t) => {
      const gone =
        t.status === 'tentative'
          ? t.misses > TENTATIVE_MAX_MISSES
          : t.misses > this.settings.max_misses || nowMs - t.lastSeenMs > this.settings.max_age_s * 1000;
      if (gone && t.status === 'confirmed') ended.push(t);
      return !gone;
    });
    return ended;
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? 0 : s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function rank(t: TrackedFace): number {
  return t.status === 'confirmed' ? 1 : 0;
}

function similarSize(a: Box, b: Box): boolean {
  const r = a.width / b.width;
  return r > 0.6 && r < 1.6;
}

/** Blend towards the detection and keep the box square (the model was trained on square crops). */
function squareBlend(from: Box, to: Box): Box {
  const b = blend(from, to, BOX_SMOOTHING);
  const side = (b.width + b.height) / 2;
  return { x: b.x + (b.width - side) / 2, y: b.y + (b.height - side) / 2, width: side, height: side };
}

/** A new tentative track on its first detection (also what tools that drive the event gate on their own
 * score streams start from). */
export function newTrack(id: number, d: Detection, nowMs: number): TrackedFace {
  return { id, box: { ...d.box }, status: 'tentative', hits: 1, votes: [d.score], misses: 0, firstSeenMs: nowMs, lastSeenMs: nowMs, timeIn: zeroScores() };
}
