// Still face images (FER2013 48x48 crops) through the daemon's preprocessing and one model step each
// from the zero LSTM state, batched.
import cv from '../../src/system/opencv.js';
import { cvCall } from '../../src/errors.js';
import { cropFace, normalizeInto } from '../../src/classify/preprocess.js';
import type { EmotionModel } from '../../src/classify/emotion-model.js';
import { EMOTIONS } from '../../src/types.js';
import { argmax } from './metrics.js';

/** An 8-bit gray Mat holding a copy of `pixels` (caller releases it). */
export function grayMat(pixels: Uint8Array, width: number, height: number): cv.Mat {
  return cvCall('make gray Mat', () => new cv.Mat(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), height, width, cv.CV_8UC1));
}

/** A still whose whole image is the face: crop the full-image box with the daemon's cropFace. */
export function cropStill(pixels: Uint8Array, side: number, size: number): Uint8Array {
  const mat = grayMat(pixels, side, side);
  try {
    return cropFace(mat, { x: 0, y: 0, width: side, height: side }, size);
  } finally {
    mat.release();
  }
}

export interface StillPredictions {
  /** Predicted class index (EMOTIONS order) per image. */
  labels: number[];
  /** Probability of the predicted class per image. */
  confidence: number[];
}

/** One step from the zero state per image, `batch` images per model call. */
export async function predictStills(model: EmotionModel, images: readonly Uint8Array[], side: number, batch = 64): Promise<StillPredictions> {
  const spec = model.info.preprocess;
  const per = spec.size * spec.size;
  const out: StillPredictions = { labels: [], confidence: [] };
  for (let start = 0; start < images.length; start += batch) {
    const chunk = images.slice(start, start + batch);
    const input = new Float32Array(chunk.length * per);
    chunk.forEach((img, i) => normalizeInto(cropStill(img, side, spec.size), spec, input, i * per));
    const { scores } = await model.step(input, chunk.map(() => undefined));
    for (const s of scores) {
      const k = argmax(s);
      out.labels.push(k);
      out.confidence.push(s[EMOTIONS[k] as (typeof EMOTIONS)[number]]);
    }
  }
  return out;
}
