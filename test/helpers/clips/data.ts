// The project's reference data (../shared/data, found by models/eval/data-root.ts) as the clip helpers, the
// bench and the tests read it: CK+ full-frame sequences, facetest photos and clips.
import fs from 'node:fs';
import path from 'node:path';
import { missingData, dataRoot } from '../../../models/eval/data-root.js';

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

/** The indexes the clip tools read. */
const INDEXES = ['facetest/index.json', 'ckplus/fullframe.json'];

/** The shared data directory, if its indexes are there. */
export function sharedDataDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return missingData(INDEXES, env) ? undefined : dataRoot(env);
}

/** Why data-dependent work is skipped, for logs and test output. */
export function missingDataMessage(env: NodeJS.ProcessEnv = process.env): string {
  return missingData(INDEXES, env) ?? `shared data found at ${dataRoot(env)}`;
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
