// Versions and machine for the report, and the fixed notes on how the data is used.
import fs from 'node:fs';
import os from 'node:os';
import { createRequire } from 'node:module';
import ort from 'onnxruntime-node';
import cv from '../../src/system/opencv.js';

function ortVersion(): string {
  const v = (ort.env as { versions?: Record<string, string> }).versions;
  if (v?.node) return v.node;
  try {
    const pkg = createRequire(import.meta.url).resolve('onnxruntime-node/package.json');
    return (JSON.parse(fs.readFileSync(pkg, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function environment(): { node: string; onnxruntime: string; opencv: string; platform: string; arch: string; cpu: string; cpus: number } {
  const v = cv.version as { major: number; minor: number; revision: number };
  return {
    node: process.version,
    onnxruntime: ortVersion(),
    opencv: `${v.major}.${v.minor}.${v.revision}`,
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cpus: os.cpus().length,
  };
}

export const NOTES = [
  'FER2013: the PublicTest rows of the Kaggle CSV; labels 0 Angry, 2 Fear, 3 Happy, 4 Sad, 5 Surprise, 6 Neutral map to our six classes; label 1 (Disgust) has no class and its rows are dropped (not merged).',
  'FER2013 images are 48x48 face crops: the crop box is the whole image, through the daemon\'s cropFace + normalizeInto, one model step from the zero LSTM state (batches of 64).',
  'CK+: every labelled sequence of CK+/Emotion; codes 1 anger, 4 fear, 5 happy, 6 sadness, 7 surprise (0 neutral); 2 contempt and 3 disgust have no class and are dropped. Frame 1 is the neutral onset, the last frame the labelled apex.',
  'CK+ frames: cv.imread gray, the daemon\'s FaceDetector with default detector settings (the sweep for new faces within detector.budget_ms, the track window of the face re-searched at detector.track_hz); the crop is the FaceTracker box of the face (predicted between re-detections; frames before the face was first found use its first box); crop with cropFace; the model is stepped with the face\'s carried state from the zero state at frame 1.',
  'Settle time: the first frame index (0 = onset) from which the prediction equals the apex label on every frame to the apex; the fraction divides by the number of frames.',
  'Stability: each stream repeats one still with independent per-frame jitter; flips = label changes between consecutive frames, scaled to 100 frames. The zero-state row runs the same jittered frames through the model with no carried state; the hysteresis row feeds the carried-state scores through the daemon\'s applyHysteresis with the default events.margin / events.hold_s at GATE_FPS frames per second.',
  'Speed: EmotionModel.step (tensor setup + ORT run) timed with hrtime after warm-up; one intra-op thread; the machine is shared, so medians are the figure to read.',
];
