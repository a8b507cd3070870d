// Hysteresis on a track's emotion: the first label is committed only after the face's LSTM has taken
// `first_steps` steps (its state starts at zero, and the first step is its least certain one), and a new label
// replaces the committed one only after it has led by `margin` for `hold_s` seconds, so a face does not flicker
// between two close labels.
import { argmax, type Emotion, type LabelledFace } from '../types.js';

export interface HysteresisSettings {
  margin: number;
  hold_s: number;
  /** events.first_label_steps: model steps a face takes before its first label is committed (1 = at once). */
  first_steps: number;
}

interface Commit {
  before: Emotion | null;
  after: Emotion;
}

/**
 * Feed the track's latest `model.scores` (the classifier's part) at `nowMs`, once per new step. Returns the change
 * when the committed emotion changes (including the first commit, whose `before` is null), otherwise null.
 */
export function applyHysteresis(track: LabelledFace, nowMs: number, s: HysteresisSettings): Commit | null {
  const scores = track.model.scores;
  if (!scores) return null;
  accountTime(track, nowMs);
  const label = track.label;
  const leader = argmax(scores);
  const current = label.committed;
  if (current === undefined) {
    label.steps = (label.steps ?? 0) + 1;
    if (label.steps < s.first_steps) return null;
    label.committed = leader;
    label.pending = undefined;
    return { before: null, after: leader };
  }
  if (leader === current || scores[leader] - scores[current] < s.margin) {
    label.pending = undefined;
    return null;
  }
  if (label.pending?.emotion !== leader) {
    label.pending = { emotion: leader, sinceMs: nowMs };
    if (s.hold_s > 0) return null;
  }
  if (nowMs - label.pending.sinceMs < s.hold_s * 1000) return null;
  label.committed = leader;
  label.pending = undefined;
  return { before: current, after: leader };
}

/**
 * The one accounting of face-time: the time since the face's last accounting goes to its committed label (its
 * `timeIn`, whose shares its face_gone carries), and what was added is returned so that the room window adds the
 * same time to the room (room-window.ts). Nothing is added before the first label.
 */
export function accountTime({ label }: LabelledFace, nowMs: number): { emotion: Emotion; ms: number } | null {
  let added: { emotion: Emotion; ms: number } | null = null;
  if (label.committed !== undefined && label.accountedMs !== undefined) {
    added = { emotion: label.committed, ms: Math.max(0, nowMs - label.accountedMs) };
    label.timeIn[label.committed] += added.ms;
  }
  label.accountedMs = nowMs;
  return added;
}
