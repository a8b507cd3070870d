// What the detector searches on each frame, within a per-frame time budget:
//  - track probes: a small window around each track, so that a known face keeps its id. Confirmed faces
//    are re-detected at detector.track_hz, round-robin (most overdue first); tentative tracks, tracks that
//    missed their last probe and fast-moving faces are searched on every frame, so new faces confirm, lost
//    ones are found again or end quickly, and a face that walks does not outrun its search window.
//  - the sweep for new faces: bands of face sizes (bands.ts), each cut into strips of rows, searched from a
//    cursor that advances as far as the rest of the budget allows, and never faster than one sweep per
//    detector.full_every frames. A completed sweep's duration is the longest a new face waits to be found.
//    A strip is searched with a margin of the band's largest face below it, which the next strip searches
//    again: when the budget leaves room for only a few rows of a wide band, the strip is cut into tiles of
//    about as many columns, whose margins (below and right) rescan far less (nextPiece). On the 720p classroom
//    a periodic sweep searched 2.6 times the windows of a whole one in strips of 21 rows.
// With the motion gate (detector.sweep_interval_s > 0) the whole frame is swept only on the first frame, when
// asked (a reopened camera, a new scene, tracks reset) and every sweep_interval_s; in between the sweep searches
// only where the frame moved (motion-regions.ts), within the same allowance, and a confirmed face whose window
// saw no motion since its last probe found it is probed at the still rate instead of track_hz: its picture is
// the one the cascade found a face in, so it is held (still there) in between (held()).
// Costs are learned while running (ms per cascade window, ms per probe), so the budget holds on a Pi as on a PC.
import type { Band } from './bands.js';
import { areaWindows, stripWindows, sweepWindows } from './bands.js';
import type { Box, FaceProbe } from '../types.js';
import { RateKeeper } from '../system/rate-keeper.js';
import { largestFitting } from '../system/largest-fitting.js';
import type { PendingMotion, SearchArea } from '../motion/motion-regions.js';

interface ScheduleSettings {
  /** Detection time per frame to aim for (ms); the first frame and one strip per frame may exceed it. */
  budgetMs: number;
  /** Re-detections per second of each confirmed, found track. */
  trackHz: number;
  /** A sweep takes at least this many frames (cheap frames need not be swept on every frame). */
  fullEvery: number;
  /** Motion gate: ms between full sweeps, searching only where the frame moved in between; 0 = sweep continuously. */
  sweepIntervalMs?: number;
  /** Motion gate: probes of a confirmed face that saw no motion since its last probe, per second. */
  stillHz?: number;
}

/** What the schedule needs to know of a track: its id, some of the tracker's geometry, and the detector's part of
 * the face, which the schedule writes (a Face is one). */
export interface ProbeTarget {
  readonly id: number;
  readonly probe: FaceProbe;
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

/** A track that moves so fast that it is probed on every frame. */
function isFast(t: ProbeTarget): boolean {
  return speed(t) > FAST_SIDES_PER_S;
}

/** Speed of a track in face sides per second. */
function speed({ geometry: g }: ProbeTarget): number {
  const side = Math.max(1, g.box.width);
  return g.motion ? (Math.hypot(g.motion.vx, g.motion.vy) * 1000) / side : 0;
}

/** Rows [row0, row0 + rows) and columns [col0, col0 + cols) of a band's image whose windows this frame's sweep
 * scans (anchor positions): the whole width (a strip), or a tile of it when the budget is small. */
export interface Strip {
  band: number;
  row0: number;
  rows: number;
  col0: number;
  cols: number;
  /** Cascade windows its detectMultiScale call scans (bands.ts areaWindows): what its time is learned against. */
  windows: number;
}

interface SweepStats {
  /** Duration of the last completed sweep (frame clock), or null before one completed. */
  lastSweepMs: number | null;
  lastSweepFrames: number | null;
  /** Cascade windows the sweep searched per frame, as a share of a whole sweep, over the last SHARE_FRAMES frames. */
  searched: number;
}

/** This frame's search for new faces: the strips of a full sweep in progress, and areas that moved. */
interface SweepPlan {
  strips: Strip[];
  areas: SearchArea[];
}

/** Frames over which the searched share is averaged. */
const SHARE_FRAMES = 256;

/** Searches of fewer cascade windows than this do not teach the cost model. */
const MIN_WINDOWS_LEARNED = 2000;

/** Learned cost of detection work, smoothed (alpha 0.2). */
class CostModel {
  /** ms per cascade window of the sweep, and per probe; first values are replaced by the first measurement. */
  msPerWindow = 2e-4;
  msPerProbe = 0.3;
  private sweepSeen = false;
  private probeSeen = false;

  sweep(ms: number, windows: number): void {
    // A small search costs mostly its call (crop, scale, the cascade's setup): it says little about a window's cost.
    if (windows < MIN_WINDOWS_LEARNED || !Number.isFinite(ms)) return;
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

/** Most band pixels one strip may search at once. detectMultiScale keeps, for as long as the detector lives,
 * integral images of every pyramid level of the largest image it was given: the whole first band of a 1080p frame
 * (1536x864) in one call holds 28 MB of them, a strip of this size 10 MB. The first frame is swept in 3 strips
 * instead of 1 (about a third more windows, once). */
const MAX_STRIP_PX = 500_000;

/** Motion gate: probes per second of a still face (its window saw no motion since its last probe found it). Held
 * by the motion mask in between (held()), it needs no probe to keep its track: the probe only checks, now and then,
 * that the cascade still finds it where the mask says nothing changed. On the 720p classroom a still face's probe
 * costs about 1 ms (a window on a face passes most of the cascade's stages): 27 still faces probed once a second
 * took 0.6-0.7 ms of every frame at 30 fps. */
export const STILL_PROBE_HZ = 0.25;

/** Share of the budget that probes may take; the rest is the sweep's, so that new faces are always looked for. */
const PROBE_SHARE = 0.7;

export class DetectionSchedule {
  readonly cost = new CostModel();
  private readonly rate: RateKeeper;
  /** Where the sweep goes on: band, anchor row and column; `rows`: the height of the row of tiles under way. */
  private cursor = { band: 0, row: 0, col: 0, rows: 0 };
  private frames = 0;
  private sweepStart: { ms: number; frame: number } | null = null;
  private done: { ms: number; frames: number } | null = null;
  /** Windows of a whole sweep of the current bands (they change only with the frame size). */
  private total: { bands: readonly Band[]; windows: number } | null = null;
  /** Motion gate: a full sweep is running; one was asked for; when the last one started (frame clock). */
  private fullRunning = false;
  private fullAsked = true;
  private lastFullMs = -Infinity;
  private readonly stillRate: RateKeeper | null;
  /** Share of a whole sweep searched on each of the last frames (a ring). */
  private readonly shares = new Float64Array(SHARE_FRAMES);

  constructor(private readonly settings: ScheduleSettings) {
    this.rate = new RateKeeper(settings.trackHz);
    this.stillRate = this.gated ? new RateKeeper(Math.min(settings.trackHz, settings.stillHz ?? STILL_PROBE_HZ)) : null;
  }

  /** Whether the motion gate is on. */
  get gated(): boolean {
    return (this.settings.sweepIntervalMs ?? 0) > 0;
  }

  /** Tracks whose probe window saw motion on this frame (motion gate). */
  noteMoved(tracks: Iterable<ProbeTarget>): void {
    for (const t of tracks) t.probe.moved = true;
  }

  /** Sweep the whole frame, starting with the next frame (a reopened camera, a new scene, tracks reset). */
  requestFull(): void {
    this.fullAsked = true;
  }

  /** The tracks to probe on this frame: urgent ones (tentative, missed, fast), then the most overdue confirmed.
   * A found track is probed at track_hz on average, whatever the frame rate (RateKeeper); when the budget
   * cannot take all that are due, the rest wait for the next frames. */
  pickProbes(tracks: readonly ProbeTarget[], nowMs: number): ProbeTarget[] {
    this.rate.tick(nowMs);
    this.stillRate?.tick(nowMs);
    for (const t of tracks) {
      t.probe.still = false;
      t.probe.fresh = false;
    }
    const lateness = (t: ProbeTarget): number => {
      if (t.geometry.status === 'tentative' || t.geometry.misses > 0 || isFast(t)) return Infinity;
      // Still (motion gate): its pixels did not change since its last probe, which found it.
      if (this.stillRate && this.unchanged(t)) return this.stillRate.lateness((t.probe.lastMs as number) + this.stillRate.periodMs, nowMs);
      return this.rate.lateness(t.probe.nextMs, nowMs);
    };
    const isStill = (t: ProbeTarget): boolean => !isFast(t) && this.unchanged(t);
    const due = tracks.map((t) => ({ t, late: lateness(t) })).filter((x) => x.late >= 0);
    due.sort((a, b) => b.late - a.late || a.t.id - b.t.id);
    const fit = Math.max(1, Math.floor((this.settings.budgetMs * PROBE_SHARE) / Math.max(1e-3, this.cost.msPerProbe)));
    // A still face that is due is probed whatever the budget (every few seconds, in its own box: cheap), so that
    // arrivals and lost faces, which are probed on every frame, cannot keep it from being checked.
    const chosen = [...due.slice(0, fit), ...due.slice(fit).filter((x) => isStill(x.t))].map((x) => x.t);
    for (const t of chosen) {
      t.probe.still = isStill(t);
      t.probe.fresh = t.geometry.status === 'tentative' && !isFast(t);
      t.probe.nextMs = this.rate.next(t.probe.nextMs, nowMs);
      // A probe that misses makes the track urgent (misses > 0) until one finds it again.
      t.probe.lastMs = nowMs;
      t.probe.moved = false;
    }
    return chosen;
  }

  /** Motion gate: of `tracks`, the ids of the confirmed ones that `probed` (this frame's probes) left out and whose
   * window saw no motion since their last probe found them. Their picture is the one the cascade found a face in,
   * so the face is still there: the tracker counts them as seen, and they need no probe to keep their track. */
  held(tracks: readonly ProbeTarget[], probed: ReadonlyMap<number, unknown>): Set<number> {
    return new Set(tracks.filter((t) => this.unchanged(t) && !probed.has(t.id)).map((t) => t.id));
  }

  /** Motion gate: a confirmed track that its last probe found and whose window saw no motion since. */
  private unchanged(t: ProbeTarget): boolean {
    return this.stillRate !== null && t.geometry.status === 'confirmed' && t.geometry.misses === 0 && t.probe.lastMs !== undefined && t.probe.moved !== true;
  }

  /** Start the sweep over (the frame size changed: the bands are new). */
  restartSweep(): void {
    this.rewind();
    this.fullAsked = true;
  }

  /** Cut this frame's share of the sweep into strips and advance the cursor. `spentMs`: the probes' time.
   * A sweep ends with the frame that finishes it; the next starts on the next frame. */
  nextStrips(bands: readonly Band[], spentMs: number, nowMs: number): Strip[] {
    const frame = this.frames++;
    if (bands.length === 0) return [];
    const allowance = frame === 0 ? Infinity : this.allowance(this.totalWindows(bands), spentMs);
    const strips = this.stripsWithin(bands, allowance, nowMs, frame);
    this.account(bands, strips);
    return strips;
  }

  /** This frame's search for new faces. Without the motion gate, the sweep's strips (nextStrips). With it: the
   * moved areas first, within the budget, then the strips of a full sweep while one runs (at least one strip a
   * frame, at its usual pace); a full sweep starts on the first frame, when asked, and every sweep_interval_s. */
  plan(bands: readonly Band[], spentMs: number, nowMs: number, pending: PendingMotion<Band>): SweepPlan {
    if (!this.gated) return { strips: this.nextStrips(bands, spentMs, nowMs), areas: [] };
    const frame = this.frames++;
    if (bands.length === 0) return { strips: [], areas: [] };
    if (this.fullAsked || (!this.fullRunning && nowMs - this.lastFullMs >= (this.settings.sweepIntervalMs ?? 0))) {
      this.fullAsked = false;
      this.fullRunning = true;
      this.lastFullMs = nowMs;
      this.rewind();
      // The full sweep searches the cells that moved before it: no need to search them twice.
      pending.clear();
    }
    // Motion is searched within the budget (a new face waits as little as it can); a full sweep keeps its pace.
    const byBudget = frame === 0 ? Infinity : Math.max(0, this.settings.budgetMs - spentMs) / Math.max(1e-9, this.cost.msPerWindow);
    const areas = pending.take(bands, byBudget);
    const spent = areas.reduce((a, x) => a + x.windows, 0);
    const allowance = frame === 0 ? Infinity : Math.min(byBudget - spent, this.allowance(this.totalWindows(bands), spentMs));
    const strips = this.fullRunning ? this.stripsWithin(bands, Math.max(allowance, 0), nowMs, frame) : [];
    this.account(bands, [...strips, ...areas]);
    return { strips, areas };
  }

  /** Windows of this frame's plan that were not searched after all (an area whose motion a face found explains). */
  unsearched(bands: readonly Band[], windows: number): void {
    const total = this.totalWindows(bands);
    const i = this.frames % SHARE_FRAMES;
    if (total > 0) this.shares[i] = Math.max(0, (this.shares[i] as number) - windows / total);
  }

  /** The searched share of this frame. */
  private account(bands: readonly Band[], searched: ReadonlyArray<{ windows: number }>): void {
    const total = this.totalWindows(bands);
    this.shares[this.frames % SHARE_FRAMES] = total > 0 ? searched.reduce((a, x) => a + x.windows, 0) / total : 0;
  }

  /** The sweep's cursor back to the first row of the first band, no sweep under way. */
  private rewind(): void {
    this.cursor = { band: 0, row: 0, col: 0, rows: 0 };
    this.sweepStart = null;
  }

  /** Strips (or tiles) from the cursor within `allowance` windows (at least one); ends a sweep when the cursor wraps. */
  private stripsWithin(bands: readonly Band[], allowanceIn: number, nowMs: number, frame: number): Strip[] {
    const at = bands[this.cursor.band];
    if (!at || this.cursor.row >= at.height || this.cursor.col >= at.width) this.rewind();
    this.sweepStart ??= { ms: nowMs, frame };
    let allowance = allowanceIn;
    const strips: Strip[] = [];
    for (;;) {
      const band = bands[this.cursor.band] as Band;
      const strip = this.nextPiece(band, allowance, allowanceIn);
      // The first piece of a frame is searched even when it does not fit; the next only when half of it does
      // (a frame's share overshoots as often as it falls short).
      if (strips.length > 0 && strip.windows > 2 * allowance) break;
      strips.push(strip);
      allowance -= strip.windows;
      this.cursor.col += strip.cols;
      if (this.cursor.col >= band.width) this.cursor = { ...this.cursor, row: this.cursor.row + strip.rows, col: 0 };
      if (this.cursor.row >= band.height) {
        this.cursor = { band: this.cursor.band + 1, row: 0, col: 0, rows: 0 };
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

  /** The next piece of `band` from the cursor within `allowance` windows (at least the least piece). At the start
   * of a row: a strip of the whole width, or a row of tiles when tiles rescan less per anchor position, as high as
   * `share` (the frame's whole allowance) makes best, so that a row begun with what is left of a frame is not
   * thin; inside a row of tiles, as many columns as fit, with the row's height. */
  private nextPiece(band: Band, allowance: number, share: number): Strip {
    const { row, col } = this.cursor;
    const left = band.height - row;
    const m = band.maxPx;
    if (col === 0) {
      const rows = this.rowsFor(band, left, share);
      const side = this.sideFor(band, left, share);
      // Windows per anchor position, about: a strip rescans its margin below, a tile its margins below and right.
      const tiles = rows < left && side < band.width && ((side + m) / side) ** 2 < (rows + m) / rows;
      this.cursor.rows = tiles ? side : rows;
      if (!tiles) return { band: this.cursor.band, row0: row, rows, col0: 0, cols: band.width, windows: stripWindows(band, Math.min(left, rows + m)) };
    }
    const rows = Math.min(left, this.cursor.rows);
    const imgRows = Math.min(left, rows + m);
    const colsLeft = band.width - col;
    const least = this.least(band, colsLeft);
    const widest = Math.max(least, Math.min(colsLeft, Math.floor(MAX_STRIP_PX / imgRows) - m));
    let cols = largestFitting(least, widest, (c) => areaWindows(band, Math.min(colsLeft, c + m), imgRows) <= allowance);
    // No sliver of columns left for a later tile: it would search its margin mostly.
    if (colsLeft - cols < least) cols = colsLeft;
    return { band: this.cursor.band, row0: row, rows, col0: col, cols, windows: areaWindows(band, Math.min(colsLeft, cols + m), imgRows) };
  }

  /** The side of the largest square tile (anchor rows and columns, its margins added) that fits `allowance`
   * windows, at least the least piece, and no taller than the band's tallest strip (MAX_STRIP_PX of image): the
   * cascade keeps its buffers as wide as the widest image and as high as the highest it was given, so a taller
   * tile would grow them (the 1080p classroom's first frame in tiles of 707 rows: peak RSS 205 -> 217 MB). */
  private sideFor(band: Band, left: number, allowance: number): number {
    const m = band.maxPx;
    const least = this.least(band, left);
    const tallest = Math.floor(MAX_STRIP_PX / band.width) - m;
    const most = Math.max(least, Math.min(Math.max(left, band.width), tallest));
    return largestFitting(least, most, (side) => areaWindows(band, Math.min(band.width, side + m), Math.min(left, side + m)) <= allowance);
  }

  /** The fewest anchor rows (or columns) a piece has: a quarter of the band's largest window (smaller pieces
   * would mostly rescan their margins), at most what is left. */
  private least(band: Band, left: number): number {
    return Math.min(left, Math.max(8, Math.ceil(band.maxPx / 4)));
  }

  /** The most anchor rows of `band` whose strip fits `allowance` windows; at least a quarter of the band's
   * largest window (smaller strips would mostly rescan their overlap), at most what is left of the band. */
  private rowsFor(band: Band, left: number, allowance: number): number {
    const least = this.least(band, left);
    // At most MAX_STRIP_PX of image per detectMultiScale call, even when the allowance is unlimited (the first frame).
    const most = Math.min(left, Math.max(least, Math.floor(MAX_STRIP_PX / band.width) - band.maxPx));
    return largestFitting(least, most, (rows) => stripWindows(band, Math.min(left, rows + band.maxPx)) <= allowance);
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
    if (this.gated) {
      this.fullRunning = false;
      this.sweepStart = null;
    }
  }

  private totalWindows(bands: readonly Band[]): number {
    if (this.total?.bands !== bands) this.total = { bands, windows: sweepWindows(bands) };
    return this.total.windows;
  }

  stats(): SweepStats {
    const n = Math.min(this.frames, SHARE_FRAMES);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += this.shares[i] as number;
    return { lastSweepMs: this.done?.ms ?? null, lastSweepFrames: this.done?.frames ?? null, searched: n > 0 ? sum / n : 0 };
  }
}
