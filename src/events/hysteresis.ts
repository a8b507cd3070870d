// Hysteresis on a track's emotion: a new label replaces the committed one only after it has led by
// `margin` for `hold_s` seconds, so a face does not flicker between two close labels.
import { argmax, type Emotion, type TrackedFace } from '../types.js';

export interface HysteresisSettings {
  margin: number;
  hold_s: number;
}

export interface Commit {
  before: Emotion | null;
  after: Emotion;
}

/**
 * Feed the track's latest `scores` (already on the track) at `nowMs`. Returns the change when the
 * committed emotion changes (including the first commit, whose `before` is null), otherwise null.
 */
export function applyHysteresis(track: TrackedFace, nowMs: number, s: HysteresisSettings): Commit | null {
  const scores = track.scores;
  if (!scores) return null;
  accountTime(track, nowMs);
  const leader = argmax(scores);
  const current = track.committed;
  if (current === undefined) {
    track.committed = leader;
    track.pending = undefined;
    return { before: null, after: leader };
  }
  if (leader === current || scores[leader] - scores[current] < s.margin) {
    track.pending = undefined;
    return null;
  }
  if (track.pending?.emotion !== leader) {
    track.pending = { emotion: leader, sinceMs: nowMs };
    if (s.hold_s > 0) return null;
  }
  if (nowMs - track.pending.sinceMs < s.hold_s * 1000) return null;
  track.committed = leader;
  track.pending = undefined;
  return { before: current, after: leader };
}

/** Add the time since the last call to the committed emotion's total. */
export function accountTime(track: TrackedFace, nowMs: number): void {
  if (track.committed !== undefined && track.accountedMs !== undefined) {
    track.timeIn[track.committed] += Math.max(0, nowMs - track.accountedMs);
  }
  track.accountedMs = nowMs;
}
