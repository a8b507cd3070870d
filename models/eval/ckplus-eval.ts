// Section 2: CK+ sequences streamed frame by frame through the daemon's FaceDetector, cropFace and the
// model with the face's carried LSTM state, from the neutral onset (frame 1) to the labelled apex.
import cv from '../../src/system/opencv.js';
import { EmotiondError, asError } from '../../src/errors.js';
import { preprocessFace } from '../../src/classify/preprocess.js';
import type { EmotionModel } from '../../src/classify/emotion-model.js';
import { FaceDetector, type DetectorSettings } from '../../src/detect/face-detector.js';
import { FaceTracker, type TrackerSettings } from '../../src/track/face-tracker.js';
import { area } from '../../src/geometry.js';
import { EMOTIONS, type Box, type Emotion, type RecurrentState } from '../../src/types.js';
import type { CkSequence } from './ckplus.js';
import { argmax, mean, percentile, settleFrame } from './metrics.js';

/** The CK+ subjects whose full sequences the model never trained on (models/ holds them out). */
export const HELD_OUT_SUBJECTS = ['S052', 'S055', 'S074', 'S106', 'S113', 'S130', 'S132'];

/** One letter per class for traces: A F H N S U (U = sUrprise). */
export const TRACE_LETTERS: Record<Emotion, string> = { Angry: 'A', Fear: 'F', Happy: 'H', Neutral: 'N', Sad: 'S', Surprise: 'U' };

export interface SequenceResult {
  subject: string;
  sequence: string;
  label: Emotion;
  ck_code: number;
  held_out: boolean;
  frames: number;
  /** Frames where the detector found the face (others reuse the nearest detected box). */
  detected: number;
  /** Predicted label per frame, as TRACE_LETTERS. */
  trace: string;
  apex_prediction: Emotion | null;
  apex_confidence: number;
  apex_correct: boolean;
  first_frame_prediction: Emotion | null;
  /** Frames after onset until the right label appears and stays to the apex; null when the apex is wrong. */
  settle_frames: number | null;
  /** settle_frames / frames. */
  settle_fraction: number | null;
}

function readGray(file: string): cv.Mat {
  let mat: cv.Mat;
  try {
    mat = cv.imread(file, cv.IMREAD_GRAYSCALE);
  } catch (thrown) {
    throw new EmotiondError('EMD_DATASET', `${file}: cannot read image (${asError(thrown).message})`);
  }
  if (mat.empty) throw new EmotiondError('EMD_DATASET', `${file}: cannot read image`);
  return mat;
}

/** CK+ frames are a video at about 30 fps. */
const FRAME_MS = 33;

/**
 * Boxes per frame as the daemon crops them: the daemon's FaceDetector (with its schedule: track probes at
 * detector.track_hz, the sweep within its budget) and FaceTracker, whose box of the face (smoothed, square,
 * predicted between re-detections) is what the classifier sees. The face is the track with the most hits;
 * frames before it was first found take its first box.
 */
function detectAll(frames: cv.Mat[], detector: FaceDetector, tracking: TrackerSettings): { boxes: Array<Box | undefined>; detected: number } {
  const tracker = new FaceTracker(tracking);
  const boxes: Array<Box | undefined> = [];
  let detected = 0;
  for (let i = 0; i < frames.length; i++) {
    const now = i * FRAME_MS;
    tracker.update(detector.detect(frames[i] as cv.Mat, tracker.tracks, now), now);
    const face = [...tracker.tracks].map((t) => t.geometry).sort((a, b) => b.hits - a.hits || area(b.box) - area(a.box))[0];
    if (face?.lastSeenMs === now) detected++;
    boxes.push(face ? { ...face.box } : undefined);
  }
  const first = boxes.find((b) => b !== undefined);
  return { boxes: boxes.map((b) => b ?? first), detected };
}

export async function evalSequence(model: EmotionModel, seq: CkSequence, settings: DetectorSettings, tracking: TrackerSettings, cascade: string): Promise<SequenceResult> {
  const frames: cv.Mat[] = [];
  const labels: number[] = [];
  let apexConfidence = 0;
  try {
    for (const f of seq.frames) frames.push(readGray(f));
    const { boxes, detected } = detectAll(frames, new FaceDetector(settings, cascade), tracking);
    const spec = model.info.preprocess;
    const input = new Float32Array(spec.size * spec.size);
    let state: RecurrentState | undefined;
    for (let i = 0; i < frames.length; i++) {
      const box = boxes[i];
      if (!box) break; // no face anywhere in the sequence
      preprocessFace(frames[i] as cv.Mat, box, spec, input, 0);
      const out = await model.step(input, [state]);
      state = out.states[0];
      const k = argmax(out.scores[0]!);
      labels.push(k);
      apexConfidence = out.scores[0]![EMOTIONS[k] as Emotion];
    }
    const truth = EMOTIONS.indexOf(seq.emotion);
    const settle = labels.length === frames.length ? settleFrame(labels, truth) : null;
    const name = (k: number | undefined): Emotion | null => (k === undefined ? null : (EMOTIONS[k] as Emotion));
    return {
      subject: seq.subject,
      sequence: seq.sequence,
      label: seq.emotion,
      ck_code: seq.ckCode,
      held_out: HELD_OUT_SUBJECTS.includes(seq.subject),
      frames: frames.length,
      detected,
      trace: labels.map((k) => TRACE_LETTERS[EMOTIONS[k] as Emotion]).join(''),
      apex_prediction: labels.length === frames.length ? name(labels[labels.length - 1]) : null,
      apex_confidence: apexConfidence,
      apex_correct: labels.length === frames.length && labels[labels.length - 1] === truth,
      first_frame_prediction: name(labels[0]),
      settle_frames: settle,
      settle_fraction: settle === null ? null : settle / frames.length,
    };
  } finally {
    for (const m of frames) m.release();
  }
}

export interface CkSummary {
  n_sequences: number;
  n_frames: number;
  subjects: string[];
  /** True when every evaluated subject is one the model was never trained on. */
  all_held_out: boolean;
  apex_accuracy: number;
  neutral_first_frame_accuracy: number;
  /** Share of frames where the detector found the face. */
  detection_rate: number;
  settle: { n_settled: number; median_frames: number | null; mean_frames: number | null; median_fraction: number | null; mean_fraction: number | null };
  labels: Record<string, number>;
}

/** null instead of NaN for an empty list. */
const orNull = (x: number): number | null => (Number.isFinite(x) ? x : null);

export function summarizeCk(results: SequenceResult[]): CkSummary {
  const n = results.length;
  const frames = results.reduce((s, r) => s + r.frames, 0);
  const settled = results.filter((r) => r.settle_frames !== null);
  const sf = settled.map((r) => r.settle_frames as number);
  const sx = settled.map((r) => r.settle_fraction as number);
  const labels: Record<string, number> = {};
  for (const r of results) labels[r.label] = (labels[r.label] ?? 0) + 1;
  return {
    n_sequences: n,
    n_frames: frames,
    subjects: [...new Set(results.map((r) => r.subject))].sort(),
    all_held_out: n > 0 && results.every((r) => r.held_out),
    apex_accuracy: n ? results.filter((r) => r.apex_correct).length / n : 0,
    neutral_first_frame_accuracy: n ? results.filter((r) => r.first_frame_prediction === 'Neutral').length / n : 0,
    detection_rate: frames ? results.reduce((s, r) => s + r.detected, 0) / frames : 0,
    settle: { n_settled: settled.length, median_frames: orNull(percentile(sf, 50)), mean_frames: orNull(mean(sf)), median_fraction: orNull(percentile(sx, 50)), mean_fraction: orNull(mean(sx)) },
    labels,
  };
}
