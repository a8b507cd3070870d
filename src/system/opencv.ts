// The one place that loads OpenCV: the binding itself, from @u4/opencv4nodejs's build folder. The package's
// own entry point first runs its build tool (@u4/opencv-build) to look for OpenCV builds, which reads
// package.json files, logs to stdout (that would corrupt `--print`), needs OPENCV4NODEJS_DISABLE_AUTOBUILD
// outside the install folder, and costs about 15 MB of resident memory; the daemon needs none of it. What the
// entry point adds that the daemon uses is the promise form of `*Async` methods, done here for the classes.
import { createRequire } from 'node:module';
import path from 'node:path';
import type * as OpenCV from '@u4/opencv4nodejs';

type CV = typeof OpenCV.default;

const require = createRequire(import.meta.url);

/** build/Release/opencv4nodejs.node beside the package's entry point (cjs/lib/opencv4nodejs.js). */
function bindingPath(): string {
  return path.resolve(path.dirname(require.resolve('@u4/opencv4nodejs')), '../../build/Release/opencv4nodejs.node');
}

type Callback = (err: unknown, res?: unknown) => void;
type NativeAsync = (this: unknown, ...args: unknown[]) => void;

/** A native `xAsync(..., callback)` that also returns a promise when called without a callback. */
function promised(fn: NativeAsync): (...args: unknown[]) => unknown {
  return function (this: unknown, ...args: unknown[]): unknown {
    if (typeof args.at(-1) === 'function') return fn.apply(this, args);
    return new Promise((resolve, reject) => fn.apply(this, [...args, ((err, res) => (err ? reject(err) : resolve(res))) as Callback]));
  };
}

function load(): CV {
  const cv = require(bindingPath()) as Record<string, unknown>;
  for (const value of Object.values(cv)) {
    if (typeof value !== 'function' || !value.prototype) continue;
    const proto = value.prototype as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(proto)) {
      const method = Object.getOwnPropertyDescriptor(proto, key)?.value as unknown;
      if (key.endsWith('Async') && typeof method === 'function') proto[key] = promised(method as NativeAsync);
    }
  }
  for (const [key, value] of Object.entries(cv)) {
    if (key.endsWith('Async') && typeof value === 'function') cv[key] = promised(value as NativeAsync);
  }
  return cv as unknown as CV;
}

const cv = load();
/** The binding's classes as types (`cv.Mat`), as the package's default export offers them. */
declare namespace cv {
  export type Mat = OpenCV.Mat;
  export type Rect = OpenCV.Rect;
  export type Size = OpenCV.Size;
  export type Point2 = OpenCV.Point2;
  export type Vec3 = OpenCV.Vec3;
  export type VideoCapture = OpenCV.VideoCapture;
  export type VideoWriter = OpenCV.VideoWriter;
  export type CascadeClassifier = OpenCV.CascadeClassifier;
}
export default cv;
export type { Mat, Rect, VideoCapture, CascadeClassifier } from '@u4/opencv4nodejs';
