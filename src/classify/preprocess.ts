// Face preprocessing shared by the daemon and the evaluation: crop the detector's box from the gray
// frame, resize to the model's input size with INTER_AREA, normalise as the model's metadata says.
// The training recipe (models/) applies the same formula; test/preprocess-parity.test.ts checks it.
import cv from '../system/opencv.js';
import type { Box } from '../types.js';
import { EmotiondError, cvCall } from '../errors.js';
import { clampBox } from '../geometry.js';

export interface PreprocessSpec {
  /** Side of the square input, in pixels. */
  size: number;
  resize: 'area';
  /** Pixel scale before normalisation (1/255). */
  scale: number;
  /** 'global': (p*scale - mean)/std. 'per_image': standardise each face by its own mean and std. */
  norm: 'global' | 'per_image';
  mean: number;
  std: number;
}

const EPS = 1e-6;

/** Parse and check the `emotiond.preprocess` metadata JSON. */
export function parsePreprocessSpec(json: string, where: string): PreprocessSpec {
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(json) as Record<string, unknown>;
  } catch {
    throw new EmotiondError('EMD_MODEL_METADATA', `${where}: emotiond.preprocess is not JSON: ${json.slice(0, 80)}`);
  }
  const num = (k: string, dflt?: number): number => {
    const v = raw[k] ?? dflt;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new EmotiondError('EMD_MODEL_METADATA', `${where}: emotiond.preprocess.${k} must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const norm = raw.norm ?? 'global';
  if (norm !== 'global' && norm !== 'per_image')
    throw new EmotiondError('EMD_MODEL_METADATA', `${where}: emotiond.preprocess.norm must be "global" or "per_image", got ${JSON.stringify(norm)}`);
  if ((raw.resize ?? 'area') !== 'area')
    throw new EmotiondError('EMD_MODEL_METADATA', `${where}: only resize "area" is supported, got ${JSON.stringify(raw.resize)}`);
  const spec: PreprocessSpec = { size: num('size'), resize: 'area', scale: num('scale', 1 / 255), norm, mean: num('mean', 0), std: num('std', 1) };
  if (!Number.isInteger(spec.size) || spec.size < 8 || spec.size > 512)
    throw new EmotiondError('EMD_MODEL_METADATA', `${where}: emotiond.preprocess.size ${spec.size} is out of range`);
  if (spec.norm === 'global' && spec.std <= 0) throw new EmotiondError('EMD_MODEL_METADATA', `${where}: emotiond.preprocess.std must be > 0`);
  return spec;
}

/** Normalise `size*size` gray pixels into `out` starting at `offset` (one face of a batch). */
export function normalizeInto(pixels: Uint8Array, spec: PreprocessSpec, out: Float32Array, offset = 0): void {
  const n = spec.size * spec.size;
  if (pixels.length !== n) throw new EmotiondError('EMD_FRAME_BAD', `face crop has ${pixels.length} pixels, expected ${n}`);
  if (spec.norm === 'global') {
    for (let i = 0; i < n; i++) out[offset + i] = ((pixels[i] as number) * spec.scale - spec.mean) / spec.std;
    return;
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += (pixels[i] as number) * spec.scale;
  const mean = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const d = (pixels[i] as number) * spec.scale - mean;
    sq += d * d;
  }
  const std = Math.sqrt(sq / n);
  for (let i = 0; i < n; i++) out[offset + i] = ((pixels[i] as number) * spec.scale - mean) / (std + EPS);
}

/** Crop `box` from an 8-bit gray frame and resize it to size x size with INTER_AREA. Frees its Mats. */
export function cropFace(gray: cv.Mat, box: Box, size: number): Uint8Array {
  const clamped = clampBox(box, gray.cols, gray.rows, 2);
  if (!clamped) throw new EmotiondError('EMD_FRAME_BAD', `face box ${JSON.stringify(box)} is outside the ${gray.cols}x${gray.rows} frame`);
  const region = cvCall('crop face', () => gray.getRegion(new cv.Rect(clamped.x, clamped.y, clamped.width, clamped.height)));
  let resized: cv.Mat | undefined;
  try {
    resized = cvCall('resize face', () => region.resize(size, size, 0, 0, cv.INTER_AREA));
    return new Uint8Array(resized.getData());
  } finally {
    resized?.release();
    region.release();
  }
}

/** Crop, resize and normalise one face into a batch tensor. */
export function preprocessFace(gray: cv.Mat, box: Box, spec: PreprocessSpec, out: Float32Array, offset: number): void {
  normalizeInto(cropFace(gray, box, spec.size), spec, out, offset);
}
