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

export interface Commit {
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

/** Add the time since the last call to the committed emotion's total. */
export function accountTime({ label }: LabelledFace, nowMs: number): void {
  if (label.committed !== undefined && label.accountedMs !== undefined) {
    label.timeIn[label.committed] += Math.max(0, nowMs - label.accountedMs);
  }
  label.accountedMs = nowMs;
}
