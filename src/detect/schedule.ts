// What the detector searches on each frame, within a per-frame time budget:
//  - track probes: a small window around each track, so that a known face keeps its id. Confirmed faces
//    are re-detected at detector.track_hz, round-robin (most overdue first); tentative tracks, tracks that
//    missed their last probe and fast-moving faces are searched on every frame, so new faces confirm, lost
//    ones are found again or end quickly, and a face that walks does not outrun its search window.
//  - the sweep for new faces: bands of face sizes (bands.ts), each cut into strips of rows, searched from a
//    cursor that advances as far as the rest of the budget allows, and never faster than one sweep per
//    detector.full_every frames. A completed sweep's duration is the longest a new face waits to be found.
// Costs are learned while running (ms per cascade window, ms per probe), so the budget holds on a Pi as on a PC.
import type { Band } from './bands.js';
import { stripWindows, sweepWindows } from './bands.js';
import type { Box } from '../types.js';
import { RateKeeper } from '../system/rate-keeper.js';

export interface ScheduleSettings {
  /** Detection time per frame to aim for (ms); the first frame and one strip per frame may exceed it. */
  budgetMs: number;
  /** Re-detections per second of each confirmed, found track. */
  trackHz: number;
  /** A sweep takes at least this many frames (cheap frames need not be swept on every frame). */
  fullEvery: number;
}

/** What the schedule needs to know of a track: its id and some of the tracker's geometry (a TrackedFace is one). */
export interface ProbeTarget {
  readonly id: number;
  readonly geometry: {
    readonly box: Box;
    readonly status: 'tentative' | 'confirmed';
    readonly misses: number;
    /** The tracker's velocity estimate (px/ms), when it has one. */
    readonly motion?: { readonly vx: number; readonly vy: number };
  };
}

/** A face moving faster than this (face sides per second) is probed on every frame: between two probes at
 * track_hz it would move out of its search window (the demo clip's face leaves at 2.9 sides/s). */
const FAST_SIDES_PER_S = 0.5;

/** Speed of a track in face sides per second. */
export function speed({ geometry: g }: ProbeTarget): number {
  const side = Math.max(1, g.box.width);
  return g.motion ? (Math.hypot(g.motion.vx, g.motion.vy) * 1000) / side : 0;
}

/** Rows [row0, row0 + rows) of a band's image whose windows this frame's sweep scans (anchor rows). */
export interface Strip {
  band: number;
  row0: number;
  rows: number;
  /** Cascade windows its detectMultiScale call scans (bands.ts stripWindows): what its time is learned against. */
  windows: number;
}

export interface SweepStats {
  /** Duration of the last completed sweep (frame clock), or null before one completed. */
  lastSweepMs: number | null;
  lastSweepFrames: number | null;
}

/** Learned cost of detection work, smoothed (alpha 0.2). */
export class CostModel {
  /** ms per cascade window of the sweep, and per probe; first values are replaced by the first measurement. */
  msPerWindow = 2e-4;
  msPerProbe = 0.3;
  private sweepSeen = false;
  private probeSeen = false;

  sweep(ms: number, windows: number): void {
    if (windows <= 0 || !Number.isFinite(ms)) return;
    const x = ms / windows;
    this.msPerWindow = this.sweepSeen ? 0.8 * this.msPerWindow + 0.2 * x : x;
    this.sweepSeen = true;
  }

  probe(ms: number, probes: number): void {
    if (probes <= 0 || !Number.isFinite(ms)) return;
    const x = ms / probes;
    this.msPerProbe = this.probeSeen ? 0.8 * this.msPerProbe + 0.2 * x : x;
    this.probeSeen = true;
  }
}

/** Share of the budget that probes may take; the rest is the sweep's, so that new faces are always looked for. */
const PROBE_SHARE = 0.7;

export class DetectionSchedule {
  readonly cost = new CostModel();
  /** Frame-clock time each found track is next due for a probe. */
  private readonly nextProbe = new Map<number, number>();
  private readonly rate: RateKeeper;
  private cursor = { band: 0, row: 0 };
  private frames = 0;
  private sweepStart: { ms: number; frame: number } | null = null;
  private done: { ms: number; frames: number } | null = null;
  /** Windows of a whole sweep of the current bands (they change only with the frame size). */
  private total: { bands: readonly Band[]; windows: number } | null = null;

  constructor(private readonly settings: ScheduleSettings) {
    this.rate = new RateKeeper(settings.trackHz);
  }

  /** The tracks to probe on this frame: urgent ones (tentative, missed, fast), then the most overdue confirmed.
   * A found track is probed at track_hz on average, whatever the frame rate (RateKeeper); when the budget
   * cannot take all that are due, the rest wait for the next frames. */
  pickProbes(tracks: readonly ProbeTarget[], nowMs: number): ProbeTarget[] {
    this.rate.tick(nowMs);
    const live = new Set(tracks.map((t) => t.id));
    for (const id of this.nextProbe.keys()) if (!live.has(id)) this.nextProbe.delete(id);
    const lateness = (t: ProbeTarget): number =>
      t.geometry.status === 'tentative' || t.geometry.misses > 0 || speed(t) > FAST_SIDES_PER_S ? Infinity : this.rate.lateness(this.nextProbe.get(t.id), nowMs);
    const due = tracks.map((t) => ({ t, late: lateness(t) })).filter((x) => x.late >= 0);
    due.sort((a, b) => b.late - a.late || a.t.id - b.t.id);
    const fit = Math.max(1, Math.floor((this.settings.budgetMs * PROBE_SHARE) / Math.max(1e-3, this.cost.msPerProbe)));
    const chosen = due.slice(0, fit).map((x) => x.t);
    for (const t of chosen) this.nextProbe.set(t.id, this.rate.next(this.nextProbe.get(t.id), nowMs));
    return chosen;
  }

  /** Start the sweep over (the frame size changed: the bands are new). */
  restartSweep(): void {
    this.cursor = { band: 0, row: 0 };
    this.sweepStart = null;
  }

  /** Cut this frame's share of the sweep into strips and advance the cursor. `spentMs`: the probes' time.
   * A sweep ends with the frame that finishes it; the next starts on the next frame. */
  nextStrips(bands: readonly Band[], spentMs: number, nowMs: number): Strip[] {
    const frame = this.frames++;
    if (bands.length === 0) return [];
    if (this.cursor.band >= bands.length || this.cursor.row >= (bands[this.cursor.band] as Band).height) this.restartSweep();
    this.sweepStart ??= { ms: nowMs, frame };
    let allowance = frame === 0 ? Infinity : this.allowance(this.totalWindows(bands), spentMs);
    const strips: Strip[] = [];
    for (;;) {
      const band = bands[this.cursor.band] as Band;
      const left = band.height - this.cursor.row;
      const rows = this.rowsFor(band, left, allowance);
      const windows = stripWindows(band, Math.min(left, rows + band.maxPx));
      strips.push({ band: this.cursor.band, row0: this.cursor.row, rows, windows });
      allowance -= windows;
      this.cursor.row += rows;
      if (this.cursor.row >= band.height) {
        this.cursor = { band: this.cursor.band + 1, row: 0 };
        if (this.cursor.band >= bands.length) {
          this.cursor.band = 0;
          this.finishSweep(nowMs, frame);
          break;
        }
      }
      if (allowance <= 0) break;
    }
    return strips;
  }

  /** The most anchor rows of `band` whose strip fits `allowance` windows; at least a quarter of the band's
   * largest window (smaller strips would mostly rescan their overlap), at most what is left of the band. */
  private rowsFor(band: Band, left: number, allowance: number): number {
    if (stripWindows(band, left) <= allowance) return left;
    let lo = Math.min(left, Math.max(8, Math.ceil(band.maxPx / 4)));
    let hi = left;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (stripWindows(band, Math.min(left, mid + band.maxPx)) <= allowance) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  private allowance(total: number, spentMs: number): number {
    const perWindow = Math.max(1e-9, this.cost.msPerWindow);
    const byBudget = Math.max(0, this.settings.budgetMs - spentMs) / perWindow;
    return Math.min(byBudget, total / this.settings.fullEvery);
  }

  private finishSweep(nowMs: number, frame: number): void {
    const start = this.sweepStart ?? { ms: nowMs, frame };
    this.done = { ms: nowMs - start.ms, frames: frame - start.frame + 1 };
    this.sweepStart = { ms: nowMs, frame: frame + 1 };
  }

  private totalWindows(bands: readonly Band[]): number {
    if (this.total?.bands !== bands) this.total = { bands, windows: sweepWindows(bands) };
    return this.total.windows;
  }

  stats(): SweepStats {
    return { lastSweepMs: this.done?.ms ?? null, lastSweepFrames: this.done?.frames ?? null };
  }
}
