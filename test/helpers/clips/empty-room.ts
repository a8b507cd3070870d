// Empty-room clips: what a camera sees for most of its hours. A colour gradient with a few flat shapes
// (furniture), temporal sensor noise on every channel of every frame, and one lighting step (a lamp, or the
// camera's auto-exposure) halfway through. MJPEG at the quality of a UVC camera, which keeps the sensor noise
// (OpenCV's VideoWriter compresses it away: 19 KB a 720p frame): JPEGs from OpenCV's encoder at quality 95
// (about 250 KB a 720p frame; `ffmpeg -threads 1 -f null` decodes the 720p clip at 14 % of a core, the 480p
// one at 5 %), put in an AVI by ffmpeg (a dependency of deploy/setup.sh) without re-encoding. Needs no shared data.
import { spawnSync } from 'node:child_process';
import cv from '../../../src/system/opencv.js';
import { rng } from '../../../models/eval/streams.js';
import { cached, type ComposedClip } from './compose.js';

export interface EmptyRoomSpec {
  name: string;
  width: number;
  height: number;
  fps: number;
  seconds: number;
  /** Standard deviation of the per-pixel, per-channel temporal noise (8-bit levels). */
  noise: number;
  /** The lighting step: every pixel is multiplied by `gain` from `atS` seconds on. */
  step: { atS: number; gain: number };
  /** JPEG quality. */
  quality: number;
}

export const EMPTY_480P: EmptyRoomSpec = {
  name: 'empty-room-640x480',
  width: 640,
  height: 480,
  fps: 30,
  seconds: 20,
  noise: 4,
  step: { atS: 10, gain: 1.3 },
  quality: 95,
};
export const EMPTY_720P: EmptyRoomSpec = { ...EMPTY_480P, name: 'empty-room-1280x720', width: 1280, height: 720 };
/** The bench's empty room, smaller and shorter (6 s at 30 fps, the lighting step at 4 s), for the tests: needs no shared data. */
export const SMALL_EMPTY_ROOM: EmptyRoomSpec = {
  ...EMPTY_480P,
  name: 'empty-room-320x240-6s',
  width: 320,
  height: 240,
  seconds: 6,
  step: { atS: 4, gain: 1.3 },
};

const SEED = 20261214;
/** Noise fields drawn once; each frame adds one of them from a random offset (fresh noise at a fraction of the cost). */
const NOISE_FIELDS = 6;

/** The still scene, BGR interleaved, before lighting and noise. */
function scene(spec: EmptyRoomSpec, rnd: () => number): Float32Array {
  const { width: w, height: h } = spec;
  const img = new Float32Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      img[i] = 70 + (60 * x) / w;
      img[i + 1] = 80 + (50 * y) / h;
      img[i + 2] = 90 + (40 * (x + y)) / (w + h);
    }
  }
  for (let k = 0; k < 6; k++) {
    const rw = Math.round(w * (0.1 + 0.2 * rnd()));
    const rh = Math.round(h * (0.1 + 0.3 * rnd()));
    const x0 = Math.round((w - rw) * rnd());
    const y0 = Math.round((h - rh) * rnd());
    const tone = [40 + 120 * rnd(), 40 + 120 * rnd(), 40 + 120 * rnd()];
    for (let y = y0; y < y0 + rh; y++) for (let x = x0; x < x0 + rw; x++) for (let c = 0; c < 3; c++) img[(y * w + x) * 3 + c] = tone[c] as number;
  }
  return img;
}

function gaussianField(n: number, sigma: number, rnd: () => number): Int8Array {
  const out = new Int8Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - rnd())) * sigma;
    const a = 2 * Math.PI * rnd();
    out[i] = Math.max(-127, Math.min(127, Math.round(r * Math.cos(a))));
    if (i + 1 < n) out[i + 1] = Math.max(-127, Math.min(127, Math.round(r * Math.sin(a))));
  }
  return out;
}

/** The empty-room clip under `cacheDir` (made on first use). */
export function emptyRoomClip(cacheDir: string, spec: EmptyRoomSpec): ComposedClip {
  const recipe = `empty-room/v1: ${spec.width}x${spec.height} at ${spec.fps} fps, ${spec.seconds} s, gradient and 6 shapes, noise sigma ${spec.noise} per channel, lighting x${spec.step.gain} at ${spec.step.atS} s, JPEG quality ${spec.quality}, seed ${SEED}`;
  return cached(cacheDir, spec.name, recipe, (file) => {
    const rnd = rng(SEED);
    const base = scene(spec, rnd);
    const n = base.length;
    const fields = Array.from({ length: NOISE_FIELDS }, () => gaussianField(n, spec.noise, rnd));
    const frames = Math.round(spec.seconds * spec.fps);
    const pixels = new Uint8ClampedArray(n);
    const jpegs: Buffer[] = [];
    for (let i = 0; i < frames; i++) {
      const gain = i >= spec.step.atS * spec.fps ? spec.step.gain : 1;
      const noise = fields[Math.floor(rnd() * NOISE_FIELDS)] as Int8Array;
      const offset = Math.floor(rnd() * n);
      for (let j = 0, k = offset; j < n; j++, k = k + 1 === n ? 0 : k + 1) pixels[j] = (base[j] as number) * gain + (noise[k] as number);
      const mat = new cv.Mat(Buffer.from(pixels.buffer, pixels.byteOffset, n), spec.height, spec.width, cv.CV_8UC3);
      jpegs.push(cv.imencode('.jpg', mat, [cv.IMWRITE_JPEG_QUALITY, spec.quality]));
      mat.release();
    }
    const mux = spawnSync(
      'ffmpeg',
      ['-loglevel', 'error', '-y', '-f', 'image2pipe', '-framerate', String(spec.fps), '-c:v', 'mjpeg', '-i', '-', '-c:v', 'copy', file],
      { input: Buffer.concat(jpegs), maxBuffer: 2 ** 20 },
    );
    if (mux.error || mux.status !== 0) throw new Error(`ffmpeg could not write ${file}: ${mux.error?.message ?? mux.stderr.toString().trim()}`);
    return { width: spec.width, height: spec.height, fps: spec.fps, frames, faces: [] };
  });
}
