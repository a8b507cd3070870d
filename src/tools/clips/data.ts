// Where the project's reference data lives (../shared/data beside the checkout) and what its indexes say.
// Tools and tests that need it ask `sharedDataDir()` and skip, saying why, when it is absent.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../system/paths.js';

/** [x, y, width, height] in pixels, as the data indexes write boxes. */
export type BoxTuple = [number, number, number, number];

export interface CkSequence {
  subject: string;
  sequence: string;
  label: string;
  width: number;
  height: number;
  /** Absolute paths of the frames, neutral (first) to apex (last). */
  files: string[];
  /** The Haar face box of every frame. */
  boxes: BoxTuple[];
}

export interface FacetestPhoto {
  /** Absolute path. */
  file: string;
  width: number;
  height: number;
  faces: BoxTuple[];
}

export interface FacetestClip {
  /** Absolute path of the 720x480 MJPEG AVI. */
  avi: string;
  fps: number;
  frames: number;
}

/** The shared data directory ($EMOTIOND_DATA_DIR, else ../shared/data beside the checkout), if present. */
export function sharedDataDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dir = env.EMOTIOND_DATA_DIR ?? path.resolve(projectRoot(), '..', 'shared', 'data');
  const complete = ['facetest/index.json', 'ckplus/fullframe.json'].every((f) => fs.existsSync(path.join(dir, f)));
  return complete ? dir : undefined;
}

/** Why data-dependent work is skipped, for logs and test output. */
export function missingDataMessage(env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.EMOTIOND_DATA_DIR ?? path.resolve(projectRoot(), '..', 'shared', 'data');
  return `reference data not found at ${dir} (needs facetest/index.json and ckplus/fullframe.json; set EMOTIOND_DATA_DIR to override)`;
}

function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
}

export function readCkSequences(dataDir: string): CkSequence[] {
  const index = readJson<{ sequences: Array<Omit<CkSequence, 'files'> & { files: string[] }> }>(path.join(dataDir, 'ckplus', 'fullframe.json'));
  return index.sequences.map((s) => ({
    subject: s.subject,
    sequence: s.sequence,
    label: s.label,
    width: s.width,
    height: s.height,
    files: s.files.map((f) => path.join(dataDir, 'ckplus', f)),
    boxes: s.boxes,
  }));
}

interface FacetestIndex {
  photos: Array<{ file: string; width: number; height: number; faces: BoxTuple[] }>;
  clips: Array<{ avi: string; fps: number; n_frames: number }>;
}

export function readFacetestPhotos(dataDir: string): FacetestPhoto[] {
  const index = readJson<FacetestIndex>(path.join(dataDir, 'facetest', 'index.json'));
  return index.photos.map((p) => ({ file: path.join(dataDir, 'facetest', p.file), width: p.width, height: p.height, faces: p.faces }));
}

export function readFacetestClips(dataDir: string): FacetestClip[] {
  const index = readJson<FacetestIndex>(path.join(dataDir, 'facetest', 'index.json'));
  return index.clips.map((c) => ({ avi: path.join(dataDir, 'facetest', c.avi), fps: c.fps, frames: c.n_frames }));
}

/** The face-free photo of the facetest set. */
export function negativePhoto(dataDir: string): string {
  return path.join(dataDir, 'facetest', 'photos', 'dogs.jpg');
}
