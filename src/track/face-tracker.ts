// Follows faces across frames: stable ids, a confirmation gate against false detections, and expiry.
// The tracker makes each face (its classifier and gate parts empty) and writes only its geometry.
import type { Config } from '../config/schema.js';
import { zeroScores, type Box, type Detection, type Face, type TrackerFace } from '../types.js';
import { blend, centreDistance, iou } from '../geometry.js';
import { median } from '../system/quantile.js';

export type TrackerSettings = Config['tracker'];

/** What the detector found on one frame (see FaceDetector.detect). */
export interface TrackerRound {
  /** Tracks searched on this frame: id -> the detection that continues it, or null (a miss). */
  probed: ReadonlyMap<number, Detection | null>;
  /** Faces found anywhere else. */
  found: readonly Detection[];
  /** Tracks not probed whose picture did not change since a probe found them (the detector's motion gate): still
   * there, so seen on this frame (their box and hits unchanged, their velocity zero). */
  held?: ReadonlySet<number>;
}

interface TrackUpdate {
  /** Tracks confirmed by this frame. */
  confirmed: Face[];
  /** Confirmed tracks that ended with this frame (tentative ones vanish silently). */
  ended: Face[];
}

/** How far a matched box moves towards the new detection: smooths Haar jitter but follows motion. */
const BOX_SMOOTHING = 0.7;
/** A tentative track dropped after this many misses in a row never was a face. */
const TENTATIVE_MAX_MISSES = 2;
/** Detections remembered per track for the votes gate. */
const VOTE_HISTORY = 9;
/** Fallback match for fast motion when boxes no longer overlap enough: centre distance in face sides. */
const MAX_CENTRE_DISTANCE = 1.0;
/** Weight of the newest measurement in the velocity estimate. */
const VELOCITY_GAIN = 0.4;
/** Fastest believable motion, in face sides per second (faster estimates are measurement noise or a jump). */
const MAX_SPEED = 3;
/** A missed search halves the velocity: a face that is not where it was predicted is not extrapolated further. */
const MISS_DAMPING = 0.5;

export class FaceTracker {
  private live: Face[] = [];
  private nextId = 1;

  constructor(private readonly settings: TrackerSettings) {}

  get tracks(): readonly Face[] {
    return this.live;
  }

  get confirmedTracks(): Face[] {
    return this.live.filter((t) => t.geometry.status === 'confirmed');
  }

  /** One frame of detection results: the tracks the detector probed (only those can miss; the others keep their
   * predicted box until their turn) and what its sweep found, which continues any track it matches. */
  update(round: TrackerRound, nowMs: number): TrackUpdate {
    const { probed, found } = round;
    for (const t of this.live) {
      if (!probed.has(t.id) && round.held?.has(t.id) === true && t.geometry.misses === 0) hold(t, nowMs);
      else predict(t, nowMs);
    }
    const hits = new Map<Face, Detection>();
    for (const t of this.live) {
      const d = probed.get(t.id);
      if (d) hits.set(t, d);
    }
    const matched = this.associate(
      this.live.filter((t) => !hits.has(t)),
      found,
    );
    for (const [t, d] of matched) hits.set(t, d);
    for (const [track, det] of hits) hit(track, det, nowMs);
    for (const t of this.live) {
      if (!hits.has(t) && probed.has(t.id)) miss(t);
    }
    const used = new Set(matched.values());
    for (const d of found) if (!used.has(d)) this.live.push(this.spawn(d, nowMs));
    const confirmed: Face[] = [];
    for (const t of this.live) {
      const g = t.geometry;
      if (g.status === 'tentative' && g.hits >= this.settings.confirm_hits && median(g.votes) >= this.settings.confirm_votes) {
        g.status = 'confirmed';
        confirmed.push(t);
      }
    }
    return { confirmed, ended: this.expire(nowMs) };
  }

  /** End every track now (shutdown, reset): returns the confirmed ones. */
  endAll(): Face[] {
    const ended = this.live.filter((t) => t.geometry.status === 'confirmed');
    this.live = [];
    return ended;
  }

  /** Greedy one-to-one matching: best IoU first, then nearest centre for what is left. */
  private associate(tracks: readonly Face[], detections: readonly Detection[]): Map<Face, Detection> {
    const pairs: Array<{ t: Face; d: Detection; score: number }> = [];
    for (const t of tracks) {
      const box = t.geometry.box;
      for (const d of detections) {
        const overlap = iou(box, d.box);
        if (overlap >= this.settings.iou_threshold) pairs.push({ t, d, score: 1 + overlap });
        else if (centreDistance(box, d.box) <= MAX_CENTRE_DISTANCE && similarSize(box, d.box)) pairs.push({ t, d, score: 1 - centreDistance(box, d.box) });
      }
    }
    // Confirmed tracks win ties so that a spurious tentative track never steals a real face.
    pairs.sort((a, b) => b.score - a.score || rank(b.t) - rank(a.t));
    const out = new Map<Face, Detection>();
    const taken = new Set<Detection>();
    for (const p of pairs) {
      if (out.has(p.t) || taken.has(p.d)) continue;
      out.set(p.t, p.d);
      taken.add(p.d);
    }
    return out;
  }

  private spawn(d: Detection, nowMs: number): Face {
    return newTrack(this.nextId++, d, nowMs);
  }

  private expire(nowMs: number): Face[] {
    const ended: Face[] = [];
    this.live = this.live.filter((t) => {
      const g = t.geometry;
      const gone =
        g.status === 'tentative'
          ? g.misses > TENTATIVE_MAX_MISSES
          : g.misses > this.settings.max_misses || nowMs - g.lastSeenMs > this.settings.max_age_s * 1000;
      if (gone && g.status === 'confirmed') ended.push(t);
      return !gone;
    });
    return ended;
  }
}

/** Move the box along the track's velocity up to `nowMs` (boxes are predicted between re-detections). */
function predict({ geometry: g }: TrackerFace, nowMs: number): void {
  const m = g.motion;
  if (!m) return;
  const dt = nowMs - m.movedMs;
  if (dt > 0 && (m.vx !== 0 || m.vy !== 0)) g.box = { ...g.box, x: g.box.x + m.vx * dt, y: g.box.y + m.vy * dt };
  m.movedMs = nowMs;
}

/** The detector holds the track (its picture did not change since a probe found it): the face is where it was
 * found and does not move, so it is seen now, its box stays and its velocity is zero (a velocity left over from its
 * last probes would otherwise carry the box off the face between two probes of a still face). */
function hold({ geometry: g }: TrackerFace, nowMs: number): void {
  g.lastSeenMs = nowMs;
  if (g.motion) Object.assign(g.motion, { vx: 0, vy: 0, movedMs: nowMs });
}

/** A detection continues the track: blend the box towards it and update the velocity estimate. */
function hit({ geometry: g }: TrackerFace, det: Detection, nowMs: number): void {
  const cx = det.box.x + det.box.width / 2;
  const cy = det.box.y + det.box.height / 2;
  const m = g.motion ?? { vx: 0, vy: 0, movedMs: nowMs, cx, cy, measuredMs: nowMs };
  const dt = nowMs - m.measuredMs;
  if (g.motion && dt > 0 && dt <= 1000) {
    const limit = (MAX_SPEED * det.box.width) / 1000;
    const clamp = (v: number): number => Math.max(-limit, Math.min(limit, v));
    m.vx = clamp((1 - VELOCITY_GAIN) * m.vx + (VELOCITY_GAIN * (cx - m.cx)) / dt);
    m.vy = clamp((1 - VELOCITY_GAIN) * m.vy + (VELOCITY_GAIN * (cy - m.cy)) / dt);
  }
  Object.assign(m, { cx, cy, measuredMs: nowMs, movedMs: nowMs });
  g.motion = m;
  g.box = squareBlend(g.box, det.box);
  g.hits += 1;
  g.misses = 0;
  g.lastSeenMs = nowMs;
  g.votes = [...g.votes.slice(1 - VOTE_HISTORY), det.score];
}

function miss({ geometry: g }: TrackerFace): void {
  g.misses += 1;
  if (g.motion) {
    g.motion.vx *= MISS_DAMPING;
    g.motion.vy *= MISS_DAMPING;
  }
}

function rank(t: TrackerFace): number {
  return t.geometry.status === 'confirmed' ? 1 : 0;
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
export function newTrack(id: number, d: Detection, nowMs: number): Face {
  const motion = { vx: 0, vy: 0, cx: d.box.x + d.box.width / 2, cy: d.box.y + d.box.height / 2, measuredMs: nowMs, movedMs: nowMs };
  return {
    id,
    geometry: { box: { ...d.box }, status: 'tentative', hits: 1, votes: [d.score], misses: 0, firstSeenMs: nowMs, lastSeenMs: nowMs, motion },
    probe: {},
    model: {},
    label: { timeIn: zeroScores() },
  };
}
