// Anonymous room summary: share of face-time per committed emotion over a window, faces present now.
import { EMOTIONS, zeroScores, type RoomSummary, type TrackedFace } from '../types.js';
import { dominant, normalise } from './emotion-gate.js';

export class RoomWindow {
  private totals = zeroScores();
  private windowStartMs: number;
  private lastTickMs: number;

  constructor(
    private readonly device: string,
    startMs: number,
  ) {
    this.windowStartMs = startMs;
    this.lastTickMs = startMs;
  }

  /** Account the time since the last tick to the committed emotion of each confirmed face. */
  tick(tracks: readonly TrackedFace[], nowMs: number): void {
    const dt = Math.max(0, nowMs - this.lastTickMs);
    this.lastTickMs = nowMs;
    for (const t of tracks) if (t.status === 'confirmed' && t.committed) this.totals[t.committed] += dt;
  }

  /** Close the window: the summary of it, and a new window starts. */
  summary(tracks: readonly TrackedFace[], nowMs: number): RoomSummary {
    this.tick(tracks, nowMs);
    const shares = normalise(this.totals);
    const out: RoomSummary = {
      device: this.device,
      time: new Date(nowMs).toISOString(),
      window_s: Math.round((nowMs - this.windowStartMs) / 100) / 10,
      faces: tracks.filter((t) => t.status === 'confirmed').length,
      shares,
      dominant: dominant(shares),
    };
    this.totals = zeroScores();
    this.windowStartMs = nowMs;
    return out;
  }

  get hasData(): boolean {
    return EMOTIONS.some((e) => this.totals[e] > 0);
  }
}
