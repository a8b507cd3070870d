// Face detection with an OpenCV cascade, scheduled within a per-frame time budget (schedule.ts): on each
// frame, a window around the tracks that are due is searched (track probes), and the rest of the budget
// goes to the sweep for new faces, band by band of face sizes, each band at the resolution its smallest face
// needs (bands.ts): the next strips of a full sweep, and (motion gate, detector.sweep_interval_s > 0) the
// areas where the frame moved (motion-mask.ts, motion-regions.ts). Every Mat made here is released before
// detect() returns.
import fs from 'node:fs';
import cv from '../system/opencv.js';
import type { Box, DetectStats, Detection, MovedIn } from '../types.js';
import type { Config } from '../config/schema.js';
import { EmotiondError, asError, cvCall } from '../errors.js';
import { clampBox, contains, grown, iou, sameFace } from '../geometry.js';
import { areaWindows, planBands, smallestFace, type Band } from './bands.js';
import { DetectionSchedule, type ProbeTarget, type Strip } from './schedule.js';
import { MotionMask, movedIn, type MotionFrame } from '../motion/motion-mask.js';
import { KNOWN_GROW, PendingMotion, type SearchArea } from '../motion/motion-regions.js';

export type DetectorSettings = Config['detector'];

/** Face width a track probe works at (its window is shrunk to it; never below 1.5 cascade windows): a large
 * face costs what a small one does. 48 rather than 36 px: probes run at track_hz, not on every frame, so the
 * difference is lost in the noise of CPU per frame (720p classroom: 18.8-19.0 ms against 18.6-19.3), and the
 * surprised 47-52 px faces of the 1080p classroom keep their track through the apex (3 extra tracks -> 0). */
const TRACK_FACE_PX = 48;

/** Behind the motion gate, a still face (found by its last probe, no motion in its window since) is probed in its
 * own box with TIGHT_MARGIN of its side around it, for faces of TIGHT_SIZES times its size: its pixels did not
 * change, so the probe only confirms it. On the classroom and three-face clips such a probe costs 0.9-1.1 ms
 * against 2.2-2.4 ms with roi_margin 0.5 (a window on a face passes most of the cascade's stages), and finds
 * the face 96-100 % of the time; when it misses, the track's next probe (on the next frame) uses roi_margin.
 * Moving faces keep roi_margin: probed in their own box at track_hz, one face of the 720p classroom ended on
 * another label (25/27 last labels right against 26/27). */
const TIGHT_MARGIN = 0.15;
const TIGHT_SIZES: [number, number] = [0.8, 1.25];

/** A new (tentative) track that does not move fast is probed with this margin (or roi_margin when smaller), for
 * faces of 0.7-1.4 times its size as a moving face is: it was found on one of the last frames, so its face is near
 * its box (a quarter of its side holds a face that crosses a 720p frame in 3 s, 0.24 sides a frame at 30 fps), and
 * the windows of the larger sizes, which OpenCV scans pixel by pixel, have fewer places to go. On the 720p
 * classroom its 54 probes took 114 ms of CPU instead of 160 with roi_margin 0.5, all found, median votes 27
 * against 29 (the confirmation gate asks for 8). A miss widens the next probe (roi_margin and up). */
const FRESH_MARGIN = 0.25;

/** Motion gate: the room is idle once nothing moved, no motion waited to be searched and no face was tracked or
 * found for this long (the frame clock); the pipeline then takes detector.idle_fps frames a second. */
const IDLE_AFTER_MS = 2000;

/** A probe's window: the face's own box (a still face), a narrower margin (a new track), or roi_margin. */
type ProbeKind = 'still' | 'fresh' | 'wide';

interface DetectionRound {
  /** Tracks searched on this frame: id -> the detection that continues it, or null when none was found. */
  probed: Map<number, Detection | null>;
  /** Faces the sweep found on this frame, less those a probe found. */
  found: Detection[];
  /** Every face seen on this frame (probe hits and sweep finds), for callers without a tracker. */
  all: Detection[];
  /** Motion gate: whether the picture moved in `box` on this frame (every box on a new scene); null without the gate. */
  movedIn: MovedIn;
  /** Motion gate: tracks not probed on this frame whose window did not move since their last probe found them
   * (still there: the tracker counts them as seen); empty without the gate. */
  held: Set<number>;
}

export class FaceDetector {
  private readonly classifier: cv.CascadeClassifier;
  /** The cascade's training window: the smallest face it can find. */
  readonly window: number;
  private readonly schedule: DetectionSchedule;
  /** What depends only on the frame size, worked out once per size: the bands, the smallest face, the motion cell. */
  private plan?: { width: number; height: number; bands: Band[]; minFace: number; cell: number };
  /** The motion gate's mask and the moved cells not yet searched; null without the gate. */
  private readonly motion: MotionMask | null;
  private readonly pending = new PendingMotion<Band>(areaWindows);
  private jitter = 0;
  /** Motion gate: the frame clock of the last frame on which anything moved, motion waited, or a face was tracked or
   * found; null before the first frame and after searchWhole(). */
  private lastActiveMs: number | null = null;

  constructor(
    private readonly settings: DetectorSettings,
    readonly cascadePath: string,
  ) {
    try {
      this.classifier = new cv.CascadeClassifier(cascadePath);
    } catch (thrown) {
      throw new EmotiondError('EMD_CASCADE_LOAD', `${cascadePath}: ${asError(thrown).message}`);
    }
    this.window = cascadeWindow(cascadePath);
    this.schedule = new DetectionSchedule({
      budgetMs: settings.budget_ms,
      trackHz: settings.track_hz,
      fullEvery: settings.full_every,
      sweepIntervalMs: settings.sweep_interval_s * 1000,
    });
    this.motion = settings.sweep_interval_s > 0 ? new MotionMask(settings.motion_threshold) : null;
  }

  /** Search an 8-bit gray frame: the tracks that are due, then this frame's share of the sweep. */
  detect(gray: cv.Mat, tracks: readonly ProbeTarget[], nowMs: number): DetectionRound {
    const bands = this.bandsFor(gray.cols, gray.rows);
    const t0 = performance.now();
    const motion = this.motion ? this.watch(gray, tracks) : null;
    const t1 = performance.now();
    const probes = this.schedule.pickProbes(tracks, nowMs);
    const probed = new Map<number, Detection | null>();
    for (const t of probes) probed.set(t.id, this.probe(gray, t.geometry.box, t.geometry.misses, probeKind(t.probe)));
    const t2 = performance.now();
    this.schedule.cost.probe(t2 - t1, probes.length);
    const hits = [...probed.values()].filter((d): d is Detection => d !== null);
    // Faces already known are painted over before the sweep (with their heads, KNOWN_GROW): found on this frame, or
    // found by their last probe.
    const known = [...hits.map((d) => d.box), ...tracks.filter((t) => t.geometry.misses === 0 && !probed.has(t.id)).map((t) => t.geometry.box)];
    if (motion && !motion.scene) {
      this.pending.add(motion, bands.length, known, { width: gray.cols, height: gray.rows });
      // A face its probe did not find may still be there, in a pose the probe's scale misses: the sweep looks
      // too, as the sweep of the whole frame did (a still face would otherwise end, to be found by the next one).
      for (const t of probes)
        if (probed.get(t.id) === null) this.pending.addBox(this.probeWindow(t.geometry.box, gray.cols, gray.rows, t.geometry.misses), bands.length);
    }
    const plan = this.schedule.plan(bands, t2 - t0, nowMs, this.pending);
    const swept: Detection[] = [];
    for (const strip of plan.strips) swept.push(...this.sweepStrip(gray, bands[strip.band] as Band, strip, known));
    for (const area of plan.areas) {
      // A face found in this motion by another band (or a strip) explains it: its own arrival.
      const faces = swept.map((d) => d.box);
      if (this.pending.explained(area, faces)) {
        this.schedule.unsearched(bands, area.windows);
        continue;
      }
      swept.push(...this.sweepRegion(gray, bands[area.band] as Band, this.jittered(area), known));
    }
    this.pending.explain(swept.map((d) => d.box));
    const found = suppress(swept).filter((d) => !hits.some((h) => sameFace(h.box, d.box)));
    // A full sweep alone does not keep the room active: it goes on at the idle rate.
    if (!motion || motion.scene || motion.count > 0 || tracks.length > 0 || found.length > 0 || this.pending.size > 0) this.lastActiveMs = nowMs;
    return { probed, found, all: [...hits, ...found], movedIn: motion ? (box) => movedIn(motion, box) : null, held: this.schedule.held(tracks, probed) };
  }

  /** Search the whole frame again from the next frame on (a reopened camera, tracks ended): behind the motion
   * gate, a face that sits still would otherwise wait for the next full sweep. */
  searchWhole(): void {
    this.schedule.requestFull();
    this.motion?.reset();
    this.pending.clear();
    this.lastActiveMs = null;
  }

  /** Motion gate: whether the room was idle up to the frame at `nowMs`: for IDLE_AFTER_MS nothing moved, no motion
   * waited to be searched, and no face was tracked or found. Never without the gate. */
  idle(nowMs: number): boolean {
    return this.motion !== null && this.lastActiveMs !== null && nowMs - this.lastActiveMs >= IDLE_AFTER_MS;
  }

  /** Update the motion mask (after bandsFor: its cell is the frame size's); tracks whose probe window moved are
   * probed at track_hz again, and a new scene (or the first frame) is swept whole. */
  private watch(gray: cv.Mat, tracks: readonly ProbeTarget[]): MotionFrame {
    const motion = (this.motion as MotionMask).update(gray, (this.plan as { cell: number }).cell);
    if (motion.scene) {
      this.schedule.requestFull();
      this.schedule.noteMoved(tracks);
    } else if (motion.count > 0) {
      this.schedule.noteMoved(tracks.filter((t) => movedIn(motion, this.probeWindow(t.geometry.box, gray.cols, gray.rows, t.geometry.misses))));
    }
    return motion;
  }

  /** The smallest face the detector looks for in a frame of this width (detector.min_size, detect_width). */
  minFace(width: number, height: number): number {
    return Math.round(smallestFace({ frameWidth: width, window: this.window, minFace: this.minFacePx(height, width), maxWidth: this.settings.detect_width }));
  }

  stats(): DetectStats {
    const s = this.schedule.stats();
    return {
      sweep_s: s.lastSweepMs === null ? null : Math.round(s.lastSweepMs) / 1000,
      sweep_frames: s.lastSweepFrames,
      min_face_px: this.plan?.minFace ?? 0,
      budget_ms: this.settings.budget_ms,
      searched: Math.round(s.searched * 1000) / 1000,
    };
  }

  /** detector.min_size: pixels when >= 1, else a fraction of the shorter frame side. */
  private minFacePx(height: number, width: number): number {
    const m = this.settings.min_size;
    return m >= 1 ? m : m * Math.min(width, height);
  }

  /** The bands depend only on the frame size: planned once per size, not per frame. */
  private bandsFor(width: number, height: number): Band[] {
    if (this.plan?.width !== width || this.plan.height !== height) {
      const s = this.settings;
      const side = Math.min(width, height);
      const bands = planBands({
        frameWidth: width,
        frameHeight: height,
        window: this.window,
        minFace: this.minFacePx(height, width),
        maxFace: s.max_size * side,
        scaleFactor: s.scale_factor,
        maxWidth: s.detect_width,
      });
      const minFace = this.minFace(width, height);
      this.plan = { width, height, bands, minFace, cell: MotionMask.cellFor(minFace) };
      this.schedule.restartSweep();
    }
    return this.plan.bands;
  }

  /** One strip (or tile) of a full sweep: its rows and columns of the band and their margins, in frame pixels. */
  private sweepStrip(gray: cv.Mat, band: Band, strip: Strip, known: readonly Box[]): Detection[] {
    const k = band.scale;
    const y0 = Math.floor(strip.row0 / k);
    const y1 = Math.min(gray.rows, Math.ceil(Math.min(band.height, strip.row0 + strip.rows + band.maxPx) / k));
    const x0 = Math.floor(strip.col0 / k);
    const x1 = Math.min(gray.cols, Math.ceil(Math.min(band.width, strip.col0 + strip.cols + band.maxPx) / k));
    return this.sweepRegion(gray, band, { x: x0, y: y0, width: x1 - x0, height: y1 - y0, windows: strip.windows }, known);
  }

  /** The area moved in by 0-2 pixels, a different amount on each call: the cascade's result on a still picture
   * depends on where its windows fall (a 2-pixel grid on the band's pixels), so an area searched again (a face
   * that its probe lost, motion that goes on) is not searched the same way twice. */
  private jittered(area: SearchArea): SearchArea {
    const j = this.jitter++ % 3;
    const dx = Math.min(j, Math.max(0, area.width - 1));
    const dy = Math.min((j * 2) % 3, Math.max(0, area.height - 1));
    return { ...area, x: area.x + dx, y: area.y + dy, width: area.width - dx, height: area.height - dy };
  }

  /** A rectangle of the frame, scaled to the band, equalised, known faces painted flat, searched for the band's faces. */
  private sweepRegion(gray: cv.Mat, band: Band, area: Omit<SearchArea, 'band' | 'moved'>, known: readonly Box[]): Detection[] {
    const t0 = performance.now();
    const k = band.scale;
    const outW = Math.max(1, Math.round(area.width * k));
    const outH = Math.max(1, Math.round(area.height * k));
    if (outH < band.minPx || outW < band.minPx) return [];
    const region = cvCall('crop sweep area', () => gray.getRegion(new cv.Rect(area.x, area.y, area.width, area.height)));
    const scaled = k < 1 ? cvCall('scale sweep area', () => region.resize(outH, outW, 0, 0, cv.INTER_AREA)) : region;
    const sx = scaled.cols / area.width;
    const sy = scaled.rows / area.height;
    const toArea = (b: Box): Box => ({ x: (b.x - area.x) * sx, y: (b.y - area.y) * sy, width: b.width * sx, height: b.height * sy });
    const masks = known
      .map((b) => toArea(grown(b, KNOWN_GROW)))
      .filter((b) => b.y < scaled.rows && b.y + b.height > 0 && b.x < scaled.cols && b.x + b.width > 0);
    const own = this.settings.equalize
      ? cvCall('equalise sweep area', () => scaled.equalizeHist())
      : masks.length > 0
        ? cvCall('copy sweep area', () => scaled.copy())
        : scaled;
    try {
      for (const b of masks) {
        const r = clampBox(b, own.cols, own.rows);
        if (r) cvCall('mask tracked face', () => own.drawRectangle(new cv.Rect(r.x, r.y, r.width, r.height), MASK_GREY, -1));
      }
      const found = this.run(own, band.minPx, band.maxPx);
      return found.map((d) => ({
        score: d.score,
        box: { x: area.x + d.box.x / sx, y: area.y + d.box.y / sy, width: d.box.width / sx, height: d.box.height / sy },
      }));
    } finally {
      if (own !== scaled) own.release();
      if (scaled !== region) scaled.release();
      region.release();
      this.schedule.cost.sweep(performance.now() - t0, area.windows);
    }
  }

  private run(img: cv.Mat, minPx: number, maxPx: number): Detection[] {
    const s = this.settings;
    const res = cvCall('detectMultiScale', () =>
      this.classifier.detectMultiScale(img, {
        scaleFactor: s.scale_factor,
        minNeighbors: s.min_neighbors,
        minSize: new cv.Size(minPx, minPx),
        maxSize: new cv.Size(maxPx, maxPx),
      }),
    );
    return res.objects.map((r, i) => ({ box: { x: r.x, y: r.y, width: r.width, height: r.height }, score: res.numDetections[i] ?? 0 }));
  }

  /** The window a probe of `track` searches, inside the frame: the box with roi_margin of its side around it
   * (TIGHT_MARGIN for a still face's probe, FRESH_MARGIN for a new track's when smaller); after a miss the
   * margin grows. */
  private probeWindow(track: Box, width: number, height: number, misses: number, kind: ProbeKind = 'wide'): Box {
    const share = kind === 'still' ? TIGHT_MARGIN : kind === 'fresh' ? Math.min(FRESH_MARGIN, this.settings.roi_margin) : this.settings.roi_margin;
    const m = share * Math.max(track.width, track.height) * Math.min(3, 1 + misses);
    const x0 = Math.max(0, Math.floor(track.x - m));
    const y0 = Math.max(0, Math.floor(track.y - m));
    return {
      x: x0,
      y: y0,
      width: Math.max(0, Math.min(width, Math.ceil(track.x + track.width + m)) - x0),
      height: Math.max(0, Math.min(height, Math.ceil(track.y + track.height + m)) - y0),
    };
  }

  /** Search a window around one track; returns the one box that best continues it, or null. The window is
   * shrunk so that the face is about TRACK_FACE_PX wide, and equalised on its own. After a miss the margin
   * grows (up to 3x): the face moved further than predicted, or turned away for a moment. */
  private probe(gray: cv.Mat, track: Box, misses = 0, kind: ProbeKind = 'wide'): Detection | null {
    const tight = kind === 'still';
    const side = Math.max(track.width, track.height);
    const { x: x0, y: y0, width: ww, height: wh } = this.probeWindow(track, gray.cols, gray.rows, misses, kind);
    const x1 = x0 + ww;
    const y1 = y0 + wh;
    if (ww < this.window || wh < this.window) return null;
    const k = Math.min(1, Math.max(TRACK_FACE_PX, this.window * 1.5) / side);
    const w = Math.round((x1 - x0) * k);
    const h = Math.round((y1 - y0) * k);
    const [small, large] = tight ? TIGHT_SIZES : [0.7, 1.4];
    const minPx = Math.max(this.window, Math.floor(side * k * small));
    const maxPx = Math.min(Math.ceil(side * k * large), w, h);
    if (maxPx < minPx) return null;
    const region = cvCall('crop probe window', () => gray.getRegion(new cv.Rect(x0, y0, x1 - x0, y1 - y0)));
    const shrunk = k < 1 ? cvCall('shrink probe window', () => region.resize(h, w, 0, 0, cv.INTER_AREA)) : region;
    const eq = this.settings.equalize ? cvCall('equalise probe window', () => shrunk.equalizeHist()) : shrunk;
    try {
      const found = this.run(eq, minPx, maxPx).map((d) => ({
        ...d,
        box: { x: x0 + d.box.x / k, y: y0 + d.box.y / k, width: d.box.width / k, height: d.box.height / k },
      }));
      found.sort((a, b) => iou(b.box, track) - iou(a.box, track));
      return found[0] ?? null;
    } finally {
      if (eq !== shrunk) eq.release();
      if (shrunk !== region) shrunk.release();
      region.release();
    }
  }
}

/** How this frame's probe of a track searches, as the schedule marked it: in the face's own box (still), in a
 * narrower window (a new track), or with roi_margin. */
function probeKind(p: { still?: boolean; fresh?: boolean }): ProbeKind {
  return p.still === true ? 'still' : p.fresh === true ? 'fresh' : 'wide';
}

/** The window size declared in a cascade XML (24 for the Haar frontal face cascade). */
export function cascadeWindow(file: string): number {
  const head = fs.readFileSync(file, 'utf8').slice(0, 4096);
  const w = /<width>\s*(\d+)\s*<\/width>/.exec(head)?.[1];
  const h = /<height>\s*(\d+)\s*<\/height>/.exec(head)?.[1];
  return Math.max(Number(w ?? 24), Number(h ?? 24));
}

/** The grey that known faces are painted with before the sweep (mid-grey of an equalised frame). A face is
 * where a cascade is dearest (most windows there pass many stages): painting it over halves a band's cost. The
 * windows that straddle its box's edge (half grey, half forehead, hair or chin) still pass many: painting the box
 * grown by KNOWN_GROW, as far as the head reaches, cut the 720p classroom's periodic sweep from about 131 to 80-104
 * ms of CPU and the sweeps and areas of the three-face clip by a sixth or more (0.70 to 0.50-0.58 ms a frame). */
const MASK_GREY = new cv.Vec3(128, 128, 128);

/** Non-maximum suppression: of boxes overlapping by IoU > 0.3 keep the one with more votes; of nested
 * boxes keep the outer one (a face-sized box inside a face is a part of it), with the better votes. */
export function suppress(dets: Detection[]): Detection[] {
  const sorted = [...dets].sort((a, b) => b.score - a.score || b.box.width - a.box.width);
  const kept: Detection[] = [];
  for (const d of sorted) {
    const i = kept.findIndex((k) => sameFace(k.box, d.box));
    if (i < 0) kept.push(d);
    else if (contains(d.box, (kept[i] as Detection).box) && d.box.width > 1.2 * (kept[i] as Detection).box.width)
      kept[i] = { box: d.box, score: (kept[i] as Detection).score };
  }
  return kept;
}
