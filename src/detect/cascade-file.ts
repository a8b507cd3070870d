// Finds the cascade XML: the project's cascades/ (copied by the setup), then OpenCV's data directories.
import fs from 'node:fs';
import path from 'node:path';
import { EmotiondError, fileReason } from '../errors.js';
import { fromRoot } from '../system/paths.js';

const NAMED: Record<string, { file: string; dir: string }> = {
  haar: { file: 'haarcascade_frontalface_default.xml', dir: 'haarcascades' },
  lbp: { file: 'lbpcascade_frontalface_improved.xml', dir: 'lbpcascades' },
};

const OPENCV_DATA_DIRS = ['/usr/share/opencv4', '/usr/local/share/opencv4', '/usr/share/opencv', '/usr/local/share/opencv'];

/** Candidate locations for a cascade setting ("haar", "lbp" or a path), most preferred first. */
function cascadeCandidates(setting: string): string[] {
  const named = NAMED[setting];
  if (!named) return [fromRoot(setting)];
  const dataDirs = process.env.OPENCV_DATA_DIR ? [process.env.OPENCV_DATA_DIR, ...OPENCV_DATA_DIRS] : OPENCV_DATA_DIRS;
  return [fromRoot(path.join('cascades', named.file)), ...dataDirs.map((d) => path.join(d, named.dir, named.file))];
}

/** The cascade file to load, checked (see checkCascadeFile). Throws EMD_CASCADE_MISSING / EMD_CASCADE_LOAD. */
export function resolveCascade(setting: string): string {
  const candidates = cascadeCandidates(setting);
  const found = candidates.find((p) => fs.existsSync(p));
  if (!found && !NAMED[setting]) throw new EmotiondError('EMD_CASCADE_MISSING', `detector.cascade ${candidates[0]}: no such file`);
  if (!found) {
    throw new EmotiondError(
      'EMD_CASCADE_MISSING',
      `detector.cascade "${setting}": none of ${candidates.join(', ')} exists (install Debian's opencv-data or run the setup, which copies cascades into cascades/)`,
    );
  }
  checkCascadeFile(found);
  return found;
}

/**
 * OpenCV does not throw on a file it cannot parse (a directory, a truncated or foreign XML): it aborts the whole
 * process from native code. So the file is read here first and must look like a complete cascade: an OpenCV XML
 * storage, ending where it should, that holds stages.
 */
function checkCascadeFile(file: string): void {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new EmotiondError('EMD_CASCADE_LOAD', `detector.cascade ${file}: ${fileReason(err)}`);
  }
  const complete = /^\s*<\?xml/.test(text) && text.includes('<opencv_storage>') && /<\/opencv_storage>\s*$/.test(text);
  if (!complete) throw new EmotiondError('EMD_CASCADE_LOAD', `detector.cascade ${file}: not an OpenCV cascade XML file (or cut short)`);
  if (!text.includes('<stages>') || !text.includes('</stages>'))
    throw new EmotiondError('EMD_CASCADE_LOAD', `detector.cascade ${file}: an OpenCV XML file without cascade stages`);
}
