// Turns clip runs into the numbers the bench reports (per clip), checks them against the targets, and
// prints them as a table.
import { STAGES, quantile, type Stage } from '../../system/stats.js';
import type { ClipRun } from './run-clip.js';
import { tracksSeen } from './run-clip.js';

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
  /** Frames processed over all runs. */
  frames: number;
  wall_s: number;
  /** Frames processed per second of wall time. */
  fps: number;
  stage_ms: Record<Stage, StageSummary>;
  /** Classify time divided by faces classified. */
  ms_per_face: number | null;
  cpu_ms_per_frame: number;
  /** CPU seconds per wall second over the runs (2 = both cores busy). */
  cpu_cores_used: number;
  /** RSS once OpenCV, ONNX Runtime and the daemon's modules were loaded, before the first run. */
  rss_base_mb: number;
  peak_rss_mb: number;
  faces_classified: number;
  /** Distinct track ids that had face_appeared, per run. */
  tracks_seen: number;
  events: { face_appeared: number; emotion_changed: number; face_gone: number };
  frames_bad: number;
  mqtt: { parts: number; messages: number; bytes: number } | null;
  /** Load average (1 min) before and after: other work on the machine skews wall-clock numbers. */
  load_avg: [number, number];
}

function round(x: number, digits = 2): number {
  const k = 10 ** digits;
  return Math.round(x * k) / k;
}

function summarise(samples: number[]): StageSummary {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: round(quantile(sorted, 0.5)), p95: round(quantile(sorted, 0.95)), n: sorted.length };
}

export interface ReportContext {
  name: string;
  rssBaseBytes: number;
  loadBefore: number;
  loadAfter: number;
  mqtt: { messages: number; bytes: number } | null;
}

/** One report over every run of a clip (samples pooled). */
export function clipReport(runs: ClipRun[], ctx: ReportContext): ClipReport {
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
    frames,
    wall_s: round(wallMs / 1000),
    fps: round(frames / (wallMs / 1000), 1),
    stage_ms: Object.fromEntries(STAGES.map((s) => [s, summarise(pooled[s])])) as Record<Stage, StageSummary>,
    ms_per_face: faces > 0 ? round(classifyMs / faces) : null,
    cpu_ms_per_frame: round(cpuMs / frames),
    cpu_cores_used: round(cpuMs / wallMs),
    rss_base_mb: round(ctx.rssBaseBytes / 2 ** 20, 1),
    peak_rss_mb: round(Math.max(...runs.map((r) => Math.max(r.rssPeakBytes, r.maxRssBytes))) / 2 ** 20, 1),
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
  const head = ['clip', 'size', 'frames', 'fps', 'frame', 'capture', 'detect', 'track', 'classify', 'events', 'publish', 'ms/face', 'cpu/frame', 'cores', 'rss MB', 'faces', 'tracks'];
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
    r.cpu_cores_used.toFixed(2),
    `${r.peak_rss_mb.toFixed(0)}`,
    String(r.faces_classified),
    String(r.tracks_seen),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => pad(c, widths[i] ?? 0, i === 0)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
