// Turns clip runs into the numbers the bench reports (per clip), checks them against the targets, and
// prints them as a table.
import { STAGES, type Stage } from '../../src/system/stats.js';
import { quantile } from '../../src/system/quantile.js';
import type { RunRecord } from './run-clip.js';
import { tracksSeen } from './run-clip.js';
import type { SceneReport } from './scene.js';

/** A classroom clip scored against its layout: each figure is the median over the runs. */
export interface SceneSummary {
  runs: number;
  faces: number;
  tracked: number;
  false_tracks: number;
  extra_tracks: number;
  label_right: number;
  labelled: number;
  /** The slowest face's LSTM steps per second, and the median face's. */
  classify_hz_min: number | null;
  classify_hz_median: number | null;
  /** Seconds from a face's arrival to its face_appeared (faces that arrive after the first frame). */
  first_report_s_median: number | null;
  /** The same at p95 (nearest rank over the faces of a run). */
  first_report_s_p95: number | null;
  first_report_s_max: number | null;
  /** Seconds from a face's expression onset to its label (median, p90), and the faces that got there. */
  label_s_median: number | null;
  label_s_p90: number | null;
  label_reached: number;
  label_faces: number;
}

export interface StageSummary {
  median: number;
  p95: number;
  n: number;
}

export interface ClipReport {
  /** Short name of the clip (file name without extension). */
  clip: string;
  path: string;
  width: number;
  height: number;
  runs: number;
  /** "none": every frame as fast as it goes; "realtime": at the clip's frame rate, as a camera delivers it. */
  pace: 'none' | 'realtime';
  /** The clip's own frame rate. */
  clip_fps: number;
  /** Frames processed over all runs. */
  frames: number;
  /** Frames dropped because the pipeline was busy (paced runs), over all runs. */
  frames_dropped: number;
  /** Frames read and dropped undecoded (the motion gate's idle rate), over all runs. */
  frames_skipped: number;
  wall_s: number;
  /** Frames processed per second of wall time. */
  fps: number;
  stage_ms: Record<Stage, StageSummary>;
  /** Classify time divided by faces classified. */
  ms_per_face: number | null;
  /** CPU ms per processed frame (all threads): each run's mean, the median over the runs. */
  cpu_ms_per_frame: number;
  /** CPU ms between consecutive frames (all threads), median over the runs of each run's p50 and p95. */
  cpu_ms: { p50: number; p95: number };
  /** CPU seconds per wall second over the runs (2 = both cores busy). */
  cpu_cores_used: number;
  /** CPU seconds per wall second of each run, as a share of one core (paced runs: what the camera costs). */
  cpu_share_runs: number[];
  /** RSS once OpenCV, ONNX Runtime and the daemon's modules were loaded, before the first run. */
  rss_base_mb: number;
  /** Peak RSS of each run (each in a process of its own), and their median. */
  peak_rss_runs_mb: number[];
  peak_rss_mb: number;
  faces_classified: number;
  /** Distinct track ids that had face_appeared, per run. */
  tracks_seen: number;
  events: { face_appeared: number; emotion_changed: number; face_gone: number };
  frames_bad: number;
  mqtt: { parts: number; messages: number; bytes: number } | null;
  /** Load average (1 min) before and after: other work on the machine skews wall-clock numbers. */
  load_avg: [number, number];
  /** For composed clips with a layout (the classrooms): what was found, tracked and classified. */
  scene: SceneSummary | null;
}

function round(x: number, digits = 2): number {
  const k = 10 ** digits;
  return Math.round(x * k) / k;
}

function summarise(samples: number[]): StageSummary {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: round(quantile(sorted, 0.5)), p95: round(quantile(sorted, 0.95)), n: sorted.length };
}

/** The middle value (the lower middle for an even count); null when there is none. */
function middle(xs: Array<number | null>): number | null {
  const v = xs.filter((x): x is number => x !== null).sort((a, b) => a - b);
  return v.length === 0 ? null : (v[Math.floor((v.length - 1) / 2)] as number);
}

/** Each scene figure as the median over the runs' reports. */
export function sceneSummary(reports: SceneReport[]): SceneSummary | null {
  const first = reports[0];
  if (!first) return null;
  const m = (f: (r: SceneReport) => number | null): number => middle(reports.map(f)) ?? 0;
  return {
    runs: reports.length,
    faces: first.faces,
    tracked: m((r) => r.tracked),
    false_tracks: m((r) => r.false_tracks),
    extra_tracks: m((r) => r.extra_tracks),
    label_right: m((r) => r.label_right),
    labelled: first.labelled,
    classify_hz_min: middle(reports.map((r) => r.classify_hz.min)),
    classify_hz_median: middle(reports.map((r) => r.classify_hz.median)),
    first_report_s_median: middle(reports.map((r) => r.first_report_s.median)),
    first_report_s_p95: middle(reports.map((r) => r.first_report_s.p95)),
    first_report_s_max: middle(reports.map((r) => r.first_report_s.max)),
    label_s_median: middle(reports.map((r) => r.label_s.median)),
    label_s_p90: middle(reports.map((r) => r.label_s.p90)),
    label_reached: m((r) => r.label_s.reached),
    label_faces: first.label_s.faces,
  };
}

export interface ReportContext {
  name: string;
  rssBaseBytes: number;
  loadBefore: number;
  loadAfter: number;
  mqtt: { messages: number; bytes: number } | null;
  scenes?: SceneReport[];
  pace?: 'none' | 'realtime';
}

/** CPU ms per frame of one run (all threads: decoding, OpenCV, ONNX Runtime). */
export function cpuPerFrame(run: Pick<RunRecord, 'cpuMs' | 'frames'>): number {
  return run.cpuMs / Math.max(1, run.frames);
}

/** One report over every run of a clip (samples pooled). */
export function clipReport(runs: RunRecord[], ctx: ReportContext): ClipReport {
  const first = runs[0];
  if (!first) throw new Error('no runs');
  const pooled = Object.fromEntries(STAGES.map((s) => [s, runs.flatMap((r) => r.samples[s])])) as Record<Stage, number[]>;
  const frames = runs.reduce((a, r) => a + r.frames, 0);
  const wallMs = runs.reduce((a, r) => a + r.wallMs, 0);
  const cpuMs = runs.reduce((a, r) => a + r.cpuMs, 0);
  const faces = runs.reduce((a, r) => a + r.facesClassified, 0);
  const classifyMs = pooled.classify.reduce((a, b) => a + b, 0);
  const events = first.sink.events;
  const camera = first.sink.cameras.find((c) => c.state === 'online');
  return {
    clip: ctx.name,
    path: first.clip,
    width: camera?.width ?? 0,
    height: camera?.height ?? 0,
    runs: runs.length,
    pace: ctx.pace ?? 'none',
    clip_fps: camera?.fps ?? 0,
    frames,
    frames_dropped: runs.reduce((a, r) => a + r.framesDropped, 0),
    frames_skipped: runs.reduce((a, r) => a + (r.framesSkipped ?? 0), 0),
    wall_s: round(wallMs / 1000),
    fps: round(frames / (wallMs / 1000), 1),
    stage_ms: Object.fromEntries(STAGES.map((s) => [s, summarise(pooled[s])])) as Record<Stage, StageSummary>,
    ms_per_face: faces > 0 ? round(classifyMs / faces) : null,
    cpu_ms_per_frame: round(middle(runs.map(cpuPerFrame)) ?? 0),
    cpu_ms: {
      p50: round(
        middle(
          runs.map((r) =>
            quantile(
              [...r.cpuPerFrameMs].sort((a, b) => a - b),
              0.5,
            ),
          ),
        ) ?? 0,
      ),
      p95: round(
        middle(
          runs.map((r) =>
            quantile(
              [...r.cpuPerFrameMs].sort((a, b) => a - b),
              0.95,
            ),
          ),
        ) ?? 0,
      ),
    },
    cpu_cores_used: round(cpuMs / wallMs),
    cpu_share_runs: runs.map((r) => round(r.cpuMs / r.wallMs, 3)),
    rss_base_mb: round(ctx.rssBaseBytes / 2 ** 20, 1),
    peak_rss_runs_mb: runs.map((r) => round(Math.max(r.rssPeakBytes, r.maxRssBytes) / 2 ** 20, 1)),
    peak_rss_mb: round((middle(runs.map((r) => Math.max(r.rssPeakBytes, r.maxRssBytes))) ?? 0) / 2 ** 20, 1),
    faces_classified: faces,
    tracks_seen: tracksSeen(events).length,
    events: {
      face_appeared: events.filter((e) => e.type === 'face_appeared').length,
      emotion_changed: events.filter((e) => e.type === 'emotion_changed').length,
      face_gone: events.filter((e) => e.type === 'face_gone').length,
    },
    frames_bad: runs.reduce((a, r) => a + r.framesBad, 0),
    mqtt: ctx.mqtt ? { parts: first.mqttParts, ...ctx.mqtt } : null,
    load_avg: [round(ctx.loadBefore), round(ctx.loadAfter)],
    scene: sceneSummary(ctx.scenes ?? []),
  };
}

export const TARGETS = { fps: 60, p95FrameMs: 30, peakRssMb: 200 } as const;

export interface TargetCheck {
  what: string;
  target: string;
  measured: string;
  pass: boolean;
}

export function checkTargets(r: ClipReport): TargetCheck[] {
  return [
    { what: 'frames/s processed', target: `>= ${TARGETS.fps}`, measured: String(r.fps), pass: r.fps >= TARGETS.fps },
    { what: 'p95 frame time', target: `<= ${TARGETS.p95FrameMs} ms`, measured: `${r.stage_ms.frame.p95} ms`, pass: r.stage_ms.frame.p95 <= TARGETS.p95FrameMs },
    { what: 'peak RSS', target: `<= ${TARGETS.peakRssMb} MB`, measured: `${r.peak_rss_mb} MB`, pass: r.peak_rss_mb <= TARGETS.peakRssMb },
  ];
}

/** Classroom targets (issue 14): against the three-face clip's CPU per frame measured in the same run. */
export const CLASSROOM_TARGETS = {
  // cpuRatio 1.6 and the 1080p peak RSS: issue 29 (motion-gated sweeps, gray decoding).
  '1280x720': { tracked: 0.96, falseTracks: 0, extraTracks: 1, labelRight: 0.8, minHz: 5, cpuRatio: 1.6, peakRssMb: null },
  '1920x1080': { tracked: 0.9, falseTracks: null, extraTracks: null, labelRight: null, minHz: null, cpuRatio: 4, peakRssMb: 220 },
} as const;

export function checkClassroom(r: ClipReport, kiosk: ClipReport): TargetCheck[] {
  const t = CLASSROOM_TARGETS[`${r.width}x${r.height}` as keyof typeof CLASSROOM_TARGETS];
  const s = r.scene;
  if (!t || !s) return [];
  const pct = (x: number): string => `${(x * 100).toFixed(0)} %`;
  const ratio = r.cpu_ms_per_frame / kiosk.cpu_ms_per_frame;
  const checks: TargetCheck[] = [
    { what: 'faces tracked', target: `>= ${pct(t.tracked)}`, measured: `${s.tracked}/${s.faces}`, pass: s.tracked >= t.tracked * s.faces },
    { what: 'cpu/frame vs 3 faces', target: `<= ${t.cpuRatio}x`, measured: `${ratio.toFixed(2)}x`, pass: ratio <= t.cpuRatio },
  ];
  if (t.falseTracks !== null)
    checks.push({ what: 'false tracks', target: `<= ${t.falseTracks}`, measured: String(s.false_tracks), pass: s.false_tracks <= t.falseTracks });
  if (t.extraTracks !== null)
    checks.push({ what: 'extra tracks', target: `<= ${t.extraTracks}`, measured: String(s.extra_tracks), pass: s.extra_tracks <= t.extraTracks });
  if (t.labelRight !== null)
    checks.push({
      what: 'last label right',
      target: `>= ${pct(t.labelRight)}`,
      measured: `${s.label_right}/${s.labelled}`,
      pass: s.label_right >= t.labelRight * s.labelled,
    });
  if (t.minHz !== null)
    checks.push({
      what: 'slowest face steps',
      target: `>= ${t.minHz} Hz`,
      measured: `${s.classify_hz_min ?? 0} Hz`,
      pass: (s.classify_hz_min ?? 0) >= t.minHz,
    });
  if (t.peakRssMb !== null)
    checks.push({ what: 'peak RSS', target: `<= ${t.peakRssMb} MB`, measured: `${r.peak_rss_mb} MB`, pass: r.peak_rss_mb <= t.peakRssMb });
  return checks;
}

/** Paced targets (issue 29): CPU of an empty room as a share of one core, and how soon a new face is reported. */
export const PACED_TARGETS: Record<string, { cpuShare?: number; firstReportP95S?: number }> = {
  'empty-room-1280x720': { cpuShare: 0.2 },
  'empty-room-640x480': { cpuShare: 0.1 },
  'classroom-27faces-1280x720': { firstReportP95S: 0.5 },
  'classroom-27faces-1280x720-15fps': { firstReportP95S: 0.8 },
};

export function checkPaced(r: ClipReport): TargetCheck[] {
  const t = PACED_TARGETS[r.clip];
  if (!t) return [];
  const checks: TargetCheck[] = [];
  const share = middle(r.cpu_share_runs) ?? 0;
  if (t.cpuShare !== undefined)
    checks.push({ what: 'CPU, one core', target: `<= ${t.cpuShare * 100} %`, measured: `${(share * 100).toFixed(1)} %`, pass: share <= t.cpuShare });
  if (t.firstReportP95S !== undefined) {
    const p95 = r.scene?.first_report_s_p95 ?? null;
    checks.push({
      what: 'first event p95',
      target: `<= ${t.firstReportP95S} s`,
      measured: p95 === null ? 'none' : `${p95} s`,
      pass: p95 !== null && p95 <= t.firstReportP95S,
    });
  }
  return checks;
}

/** The paced table: what a camera at the clip's rate costs, and how soon new faces are reported. */
export function pacedTable(reports: ClipReport[]): string {
  const head = [
    'clip',
    'size',
    'fps',
    'runs',
    'cpu % of a core (median, runs)',
    'dropped',
    'idle-skipped',
    'cpu/frame',
    'first event s p50/p95',
    'tracked',
    'rss MB',
  ];
  const rows = reports.map((r) => {
    const s = r.scene;
    const share = (middle(r.cpu_share_runs) ?? 0) * 100;
    return [
      r.clip,
      `${r.width}x${r.height}`,
      String(r.clip_fps),
      String(r.runs),
      `${share.toFixed(1)} (${r.cpu_share_runs.map((x) => (x * 100).toFixed(1)).join(', ')})`,
      `${((100 * r.frames_dropped) / Math.max(1, r.frames + r.frames_dropped + r.frames_skipped)).toFixed(1)} %`,
      `${((100 * r.frames_skipped) / Math.max(1, r.frames + r.frames_dropped + r.frames_skipped)).toFixed(1)} %`,
      r.cpu_ms_per_frame.toFixed(1),
      s ? `${s.first_report_s_median ?? '-'}/${s.first_report_s_p95 ?? '-'}` : '-',
      s ? `${s.tracked}/${s.faces}` : '-',
      r.peak_rss_mb.toFixed(0),
    ];
  });
  return formatTable(head, rows);
}

/** CPU per frame against an earlier bench.json (`--compare`), clip by clip, in the same pace. */
export function compareTable(reports: ClipReport[], before: ClipReport[]): string {
  const head = ['clip', 'pace', 'cpu/frame before', 'after', 'change', 'cpu % before', 'after', 'rss MB before', 'after'];
  const rows: string[][] = [];
  for (const r of reports) {
    const b = before.find((x) => x.clip === r.clip && (x.pace ?? 'none') === r.pace);
    if (!b) continue;
    const share = (x: ClipReport): string => (x.cpu_share_runs ? `${((middle(x.cpu_share_runs) ?? 0) * 100).toFixed(1)}` : '-');
    rows.push([
      r.clip,
      r.pace,
      b.cpu_ms_per_frame.toFixed(2),
      r.cpu_ms_per_frame.toFixed(2),
      `${(((r.cpu_ms_per_frame - b.cpu_ms_per_frame) / b.cpu_ms_per_frame) * 100).toFixed(0)} %`,
      share(b),
      share(r),
      b.peak_rss_mb.toFixed(0),
      r.peak_rss_mb.toFixed(0),
    ]);
  }
  return formatTable(head, rows);
}

function formatTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The scene table: one row per classroom clip. */
export function sceneTable(reports: ClipReport[]): string {
  const head = [
    'clip',
    'faces',
    'tracked',
    'false',
    'extra',
    'label right',
    'hz min/med',
    'first report s med/p95/max',
    'onset->label s med/p90 (got)',
    'cpu p50/p95',
    'cores',
  ];
  const rows = reports
    .filter((r) => r.scene)
    .map((r) => {
      const s = r.scene as SceneSummary;
      return [
        r.clip,
        String(s.faces),
        String(s.tracked),
        String(s.false_tracks),
        String(s.extra_tracks),
        `${s.label_right}/${s.labelled}`,
        `${s.classify_hz_min ?? '-'}/${s.classify_hz_median ?? '-'}`,
        `${s.first_report_s_median ?? '-'}/${s.first_report_s_p95 ?? '-'}/${s.first_report_s_max ?? '-'}`,
        `${s.label_s_median ?? '-'}/${s.label_s_p90 ?? '-'} (${s.label_reached}/${s.label_faces})`,
        `${r.cpu_ms.p50.toFixed(1)}/${r.cpu_ms.p95.toFixed(1)}`,
        r.cpu_cores_used.toFixed(2),
      ];
    });
  return formatTable(head, rows);
}

/** The stage that takes most of the median frame, with its share. */
export function dominantStage(r: ClipReport): { stage: Stage; share: number } {
  const parts = (['capture', 'detect', 'track', 'classify', 'events', 'publish'] as const).map((s) => ({ stage: s as Stage, ms: r.stage_ms[s].median }));
  // Capture runs beside the pipeline (the next frame is decoded while this one is processed): the
  // share is of the pipeline's own frame time.
  const inFrame = parts.filter((p) => p.stage !== 'capture');
  const best = inFrame.reduce((a, b) => (b.ms > a.ms ? b : a));
  return { stage: best.stage, share: r.stage_ms.frame.median > 0 ? best.ms / r.stage_ms.frame.median : 0 };
}

function pad(s: string, n: number, right = false): string {
  return right ? s.padEnd(n) : s.padStart(n);
}

function mp(s: StageSummary): string {
  return s.n === 0 ? '-' : `${s.median.toFixed(1)}/${s.p95.toFixed(1)}`;
}

/** The per-clip table (stage columns are median/p95 ms). */
export function table(reports: ClipReport[]): string {
  const head = [
    'clip',
    'size',
    'frames',
    'fps',
    'frame',
    'capture',
    'detect',
    'track',
    'classify',
    'events',
    'publish',
    'ms/face',
    'cpu/frame',
    'cpu p50/p95',
    'cores',
    'rss MB',
    'faces',
    'tracks',
  ];
  const rows = reports.map((r) => [
    r.clip,
    `${r.width}x${r.height}`,
    String(r.frames),
    r.fps.toFixed(1),
    mp(r.stage_ms.frame),
    mp(r.stage_ms.capture),
    mp(r.stage_ms.detect),
    mp(r.stage_ms.track),
    mp(r.stage_ms.classify),
    mp(r.stage_ms.events),
    mp(r.stage_ms.publish),
    r.ms_per_face === null ? '-' : r.ms_per_face.toFixed(2),
    r.cpu_ms_per_frame.toFixed(1),
    `${r.cpu_ms.p50.toFixed(1)}/${r.cpu_ms.p95.toFixed(1)}`,
    r.cpu_cores_used.toFixed(2),
    `${r.peak_rss_mb.toFixed(0)}`,
    String(r.faces_classified),
    String(r.tracks_seen),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => pad(c, widths[i] ?? 0, i === 0)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
