// Section 3: steady streams. A still face is put on a padded canvas and every frame gets independent,
// seeded camera jitter (shift, scale, brightness, sensor noise) with OpenCV's warpAffine; each frame then
// goes through the daemon's cropFace at the face's fixed box. The model runs the same frames twice: with
// the carried LSTM state (what the daemon does) and from the zero state every frame (raw per-frame CNN).
// A third row feeds the carried-state scores through the daemon's own hysteresis (events.margin, hold_s
// defaults) at GATE_FPS: the label its events report.
import cv from '../../src/system/opencv.js';
import { cvCall } from '../../src/errors.js';
import { cropFace, normalizeInto } from '../../src/classify/preprocess.js';
import type { EmotionModel } from '../../src/classify/emotion-model.js';
import { EMOTIONS, type EmotionScores, type RecurrentState } from '../../src/types.js';
import { applyHysteresis, type HysteresisSettings } from '../../src/events/hysteresis.js';
import { settings } from '../../src/config/load.js';
import { newTrack } from '../../src/track/face-tracker.js';
import { argmax, countFlips, summarize, type Summary } from './metrics.js';
import { grayMat } from './stills.js';

export const JITTER = { shift_px: 2, scale: 0.04, brightness: 0.05, noise_sigma: 3, pad_px: 16 } as const;
/** Frame rate assumed for the hysteresis row: a modest camera; at higher rates hold_s spans more frames. */
export const GATE_FPS = 15;

/** The daemon's default hysteresis settings, read from the config schema (not restated here). */
export function defaultHysteresis(): HysteresisSettings {
  const dflt = (key: string): number => settings().find((s) => s.key === key)?.default as number;
  return { margin: dflt('events.margin'), hold_s: dflt('events.hold_s'), first_steps: dflt('events.first_label_steps') };
}

/** Hysteresis settings and the frame rate the frames are taken to arrive at. */
export type Gate = HysteresisSettings & { fps: number };

/** The hysteresis the eval's gated rows use: the daemon defaults at GATE_FPS. */
export function defaultGate(): Gate {
  return { ...defaultHysteresis(), fps: GATE_FPS };
}

/** Committed label (class index) per frame after the daemon's hysteresis, for one stream's scores; -1 on the
 * frames before the first label is committed (events.first_label_steps). */
export function gatedLabels(scores: readonly EmotionScores[], gate: Gate): number[] {
  // The eval plays the tracker (one confirmed face) and the classifier (its scores); the gate is the daemon's.
  const track = newTrack(1, { box: { x: 0, y: 0, width: 1, height: 1 }, score: 0 }, 0);
  track.geometry.status = 'confirmed';
  return scores.map((sc, t) => {
    track.model.scores = sc;
    applyHysteresis(track, (t * 1000) / gate.fps, gate);
    const committed = track.label.committed;
    return committed === undefined ? -1 : EMOTIONS.indexOf(committed);
  });
}

/** mulberry32: small, seeded, reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `k` distinct indices of 0..n-1, seeded (partial Fisher-Yates), in ascending order. */
export function sampleIndices(n: number, k: number, seed: number): number[] {
  const idx = Array.from({ length: n }, (_, i) => i);
  const r = rng(seed);
  const m = Math.min(k, n);
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(r() * (n - i));
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
  }
  return idx.slice(0, m).sort((a, b) => a - b);
}

/** One steady stream: a still face on a padded canvas, jittered frame by frame. */
export class JitteredStream {
  private readonly canvas: cv.Mat;
  private readonly gauss: () => number;

  constructor(
    pixels: Uint8Array,
    private readonly side: number,
    private readonly random: () => number,
  ) {
    const face = grayMat(pixels, side, side);
    const p = JITTER.pad_px;
    try {
      this.canvas = cvCall('pad canvas', () => face.copyMakeBorder(p, p, p, p, cv.BORDER_REFLECT_101));
    } finally {
      face.release();
    }
    let spare: number | undefined;
    this.gauss = () => {
      if (spare !== undefined) {
        const v = spare;
        spare = undefined;
        return v;
      }
      const r = Math.sqrt(-2 * Math.log(1 - random()));
      const a = 2 * Math.PI * random();
      spare = r * Math.sin(a);
      return r * Math.cos(a);
    };
  }

  /** The next jittered frame, cropped at the face's fixed box to size x size with cropFace. */
  nextCrop(size: number): Uint8Array {
    const r = this.random;
    const w = this.canvas.cols;
    const s = 1 + (r() * 2 - 1) * JITTER.scale;
    const dx = (r() * 2 - 1) * JITTER.shift_px;
    const dy = (r() * 2 - 1) * JITTER.shift_px;
    const gain = 1 + (r() * 2 - 1) * JITTER.brightness;
    const c = w / 2;
    const m = new cv.Mat([[s, 0, (1 - s) * c + dx], [0, s, (1 - s) * c + dy]], cv.CV_64F);
    const warped = cvCall('jitter warpAffine', () => this.canvas.warpAffine(m, new cv.Size(w, w), cv.INTER_LINEAR, cv.BORDER_REFLECT_101));
    m.release();
    const px = new Uint8Array(warped.getData());
    warped.release();
    // Gain and sensor noise on the face box only: cropFace never reads outside it.
    const p = JITTER.pad_px;
    for (let y = p; y < p + this.side; y++) {
      for (let i = y * w + p; i < y * w + p + this.side; i++) px[i] = Math.max(0, Math.min(255, Math.round((px[i] as number) * gain + this.gauss() * JITTER.noise_sigma)));
    }
    const frame = grayMat(px, w, w);
    try {
      return cropFace(frame, { x: JITTER.pad_px, y: JITTER.pad_px, width: this.side, height: this.side }, size);
    } finally {
      frame.release();
    }
  }

  release(): void {
    this.canvas.release();
  }
}

export interface StreamModeResult {
  flips_per_100: Summary;
  /** Share of streams with at most one label flip per 100 frames. */
  share_le1_flip: number;
  /** Share of all stream frames labelled with the image's true class. */
  frame_accuracy: number;
  /** The same over frame ranges [from, to) of the stream: how accuracy evolves as state builds up. */
  accuracy_by_frames: Array<{ from: number; to: number; accuracy: number }>;
}

const FRAME_RANGES: ReadonlyArray<readonly [number, number]> = [[0, 1], [1, 5], [5, 20], [20, 50], [50, 100]];

/** events.first_label_steps values compared in the first-label rows (1 labels a face on its first step). */
export const FIRST_LABEL_STEPS = [1, 2, 3, 5, 8, 12, 15] as const;

/** What a face's first label is worth when it is committed after `steps` model steps (the rest of the gate as the
 * daemon's defaults). */
export interface FirstLabelRow {
  steps: number;
  /** Seconds from the first step to the first label at the gate's frame rate (one step per frame). */
  first_label_s: number;
  /** Share of streams whose first committed label is the image's true class. */
  accuracy: number;
  /** Share of streams whose committed label changes after the first one (an emotion_changed on a still face). */
  changed_later: number;
  /** Flips per 100 frames after the gate (the first commit is not a flip). */
  flips_per_100: Summary;
  /** Share of all frames labelled right (frames before the first label count as not right). */
  frame_accuracy: number;
}

function firstLabelRows(scores: readonly EmotionScores[][], truth: readonly number[], frames: number, gate: Gate): FirstLabelRow[] {
  return FIRST_LABEL_STEPS.filter((n) => n <= frames).map((steps) => {
    const traces = scores.map((sc) => gatedLabels(sc, { ...gate, first_steps: steps }));
    const first = traces.map((t) => t.find((k) => k !== -1) ?? -1);
    const m = modeResult(traces, [...truth], frames);
    return {
      steps,
      first_label_s: (steps - 1) / gate.fps,
      accuracy: first.filter((k, i) => k === truth[i]).length / Math.max(1, traces.length),
      changed_later: traces.filter((t, i) => t.some((k) => k !== -1 && k !== first[i])).length / Math.max(1, traces.length),
      flips_per_100: m.flips_per_100,
      frame_accuracy: m.frame_accuracy,
    };
  });
}

export interface StreamResult {
  n_streams: number;
  frames_per_stream: number;
  seed: number;
  jitter: typeof JITTER & { note: string };
  with_state: StreamModeResult;
  without_state: StreamModeResult;
  /** The carried-state scores after the daemon's hysteresis at `gate.fps`. */
  after_gate: StreamModeResult;
  gate: HysteresisSettings & { fps: number };
  /** The gate with other events.first_label_steps values, on the same scores. */
  first_label: FirstLabelRow[];
}

function modeResult(traces: number[][], truth: number[], frames: number): StreamModeResult {
  const flips = traces.map((t) => (countFlips(t) * 100) / Math.max(1, frames));
  const accuracyIn = (from: number, to: number): number => {
    let hits = 0;
    let n = 0;
    traces.forEach((t, i) => t.slice(from, to).forEach((k) => ((hits += k === truth[i] ? 1 : 0), (n += 1))));
    return hits / Math.max(1, n);
  };
  return {
    flips_per_100: summarize(flips),
    share_le1_flip: flips.filter((f) => f <= 1).length / Math.max(1, flips.length),
    frame_accuracy: accuracyIn(0, frames),
    accuracy_by_frames: FRAME_RANGES.filter(([from]) => from < frames).map(([from, to]) => ({ from, to: Math.min(to, frames), accuracy: accuracyIn(from, to) })),
  };
}

/**
 * Step `b` streams through the model together for `frames` frames, the LSTM state carried per stream; the
 * crop of stream i at frame t comes from `crop(i, t)`. On frames where `zeroToo(t)`, the same crops also go
 * through the model from the zero state in the same call (the memory-less reference), given to `onZero`.
 * Returns each stream's carried-state scores per frame.
 */
export async function stepStreams(
  model: EmotionModel,
  b: number,
  frames: number,
  crop: (i: number, t: number) => Uint8Array,
  zeroToo: (t: number) => boolean,
  onZero: (i: number, scores: EmotionScores) => void,
): Promise<EmotionScores[][]> {
  const spec = model.info.preprocess;
  const per = spec.size * spec.size;
  const fresh = (): Array<RecurrentState | undefined> => Array.from({ length: b }, () => undefined);
  let states = fresh();
  const scores = Array.from({ length: b }, () => [] as EmotionScores[]);
  for (let t = 0; t < frames; t++) {
    const zero = zeroToo(t);
    const input = new Float32Array((zero ? 2 : 1) * b * per);
    for (let i = 0; i < b; i++) {
      normalizeInto(crop(i, t), spec, input, i * per);
      if (zero) input.copyWithin((b + i) * per, i * per, (i + 1) * per);
    }
    const out = await model.step(input, zero ? [...states, ...fresh()] : states);
    states = out.states.slice(0, b);
    out.scores.forEach((sc, i) => (i < b ? scores[i]!.push(sc) : onZero(i - b, sc)));
  }
  return scores;
}

/** Steady streams for `count` seeded images of `images`; `batch` streams share each model call. */
export async function evalStreams(
  model: EmotionModel,
  images: readonly Uint8Array[],
  labels: readonly number[],
  side: number,
  opts: { count: number; frames: number; seed: number; batch?: number },
): Promise<StreamResult> {
  const size = model.info.preprocess.size;
  const picked = sampleIndices(images.length, opts.count, opts.seed);
  const withState: number[][] = [];
  const allScores: EmotionScores[][] = [];
  const without: number[][] = [];
  const gated: number[][] = [];
  const gate = defaultGate();
  const batch = opts.batch ?? 32;
  for (let start = 0; start < picked.length; start += batch) {
    const ids = picked.slice(start, start + batch);
    const streams = ids.map((id) => new JitteredStream(images[id] as Uint8Array, side, rng(opts.seed * 100003 + id)));
    const traceZ = streams.map(() => [] as number[]);
    let scoresS: EmotionScores[][];
    try {
      scoresS = await stepStreams(model, streams.length, opts.frames, (i) => (streams[i] as JitteredStream).nextCrop(size), () => true, (i, sc) => traceZ[i]!.push(argmax(sc)));
    } finally {
      for (const s of streams) s.release();
    }
    withState.push(...scoresS.map((sc) => sc.map(argmax)));
    without.push(...traceZ);
    gated.push(...scoresS.map((sc) => gatedLabels(sc, gate)));
    allScores.push(...scoresS);
  }
  const truth = picked.map((id) => labels[id] as number);
  return {
    n_streams: picked.length,
    frames_per_stream: opts.frames,
    seed: opts.seed,
    jitter: { ...JITTER, note: 'each frame independently: shift uniform ±shift_px (at the 48-px face scale), scale 1±scale about the canvas centre, gain 1±brightness, Gaussian noise σ=noise_sigma gray levels; canvas = face padded by pad_px (reflected); crop = the fixed face box' },
    with_state: modeResult(withState, truth, opts.frames),
    without_state: modeResult(without, truth, opts.frames),
    after_gate: modeResult(gated, truth, opts.frames),
    gate,
    first_label: firstLabelRows(allScores, truth, opts.frames, gate),
  };
}
