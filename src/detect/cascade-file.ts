// Finds the cascade XML: the project's cascades/ (copied by the setup), then OpenCV's data directories.
import fs from 'node:fs';
import path from 'node:path';
import { EmotiondError } from '../errors.js';
import { fromRoot } from '../system/paths.js';

const NAMED: Record<string, { file: string; dir: string }> = {
  haar: { file: 'haarcascade_frontalface_default.xml', dir: 'haarcascades' },
  lbp: { file: 'lbpcascade_frontalface_improved.xml', dir: 'lbpcascades' },
};

const OPENCV_DATA_DIRS = ['/usr/share/opencv4', '/usr/local/share/opencv4', '/usr/share/opencv', '/usr/local/share/opencv'];

/** Candidate locations for a cascade setting ("haar", "lbp" or a path), most preferred first. */
export function cascadeCandidates(setting: string): string[] {
  const named = NAMED[setting];
  if (!named) return [fromRoot(setting)];
  const dataDirs = process.env.OPENCV_DATA_DIR ? [process.env.OPENCV_DATA_DIR, ...OPENCV_DATA_DIRS] : OPENCV_DATA_DIRS;
  return [fromRoot(path.join('cascades', named.file)), ...dataDirs.map((d) => path.join(d, named.dir, named.file))];
}

export function resolveCascade(setting: string): string {
  const candidates = cascadeCandidates(setting);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found) {
    throw new EmotiondError(
      'EMD_CASCADE_MISSING',
      `detector.cascade "${setting}": none of ${candidates.join(', ')} exists (install Debian's opencv-data or run the setup, which copies cascades into cascades/)`,
    );
  }
  return found;
}
