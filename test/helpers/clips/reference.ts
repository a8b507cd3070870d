// The reference clips the bench and the clip tests run on: the two real CK+ clips of facetest, the
// composed three-face clip, and (tests) every CK+ subject in turn. Without the shared data, the demo clip.
import fs from 'node:fs';
import path from 'node:path';
import { fromRoot } from '../../../src/system/paths.js';
import { stillClip, subjectsInTurnClip, threeFaceClip, type ComposedClip, type ComposedFace } from './compose.js';
import { CLASSROOM_1080P, CLASSROOM_720P, CLASSROOM_720P_15FPS, CLASSROOM_STILL_720P, classroomClip } from './classroom.js';
import { EMPTY_480P, EMPTY_720P, emptyRoomClip } from './empty-room.js';
import { negativePhoto, readFacetestClips, sharedDataDir } from './data.js';

export interface ReferenceClip {
  /** Short name: the file name without its extension. */
  name: string;
  path: string;
  /** Faces that are visible for at least a second, each of which should become exactly one track. */
  faces: number;
  /** Where and when each face is, for composed clips. */
  layout?: ComposedFace[];
}

/** Where composed clips are cached (git-ignored). */
export const CLIP_CACHE_DIR = fromRoot('reports/clips');

/** The demo clip made by deploy/make-demo-clip.sh (one face that drifts, then leaves). */
export const DEMO_CLIP = fromRoot('deploy/demo/demo-faces.avi');

function named(p: string, faces: number): ReferenceClip {
  return { name: path.basename(p, path.extname(p)), path: p, faces };
}

function composed(c: ComposedClip): ReferenceClip {
  return { name: c.name, path: c.path, faces: c.faces.length, layout: c.faces };
}

/** The facetest clips (one real face each). */
export function facetestClips(dataDir: string): ReferenceClip[] {
  return readFacetestClips(dataDir).map((c) => named(c.avi, 1));
}

export function threeFaces(dataDir: string, cacheDir = CLIP_CACHE_DIR): ReferenceClip {
  return composed(threeFaceClip(dataDir, cacheDir));
}

export function subjectsInTurn(dataDir: string, cacheDir = CLIP_CACHE_DIR): ReferenceClip {
  return composed(subjectsInTurnClip(dataDir, cacheDir));
}

/** The classroom clips: 27 faces of 36-90 px in 1280x720, 30 faces of 40-120 px in 1920x1080. */
export function classrooms(dataDir: string, cacheDir = CLIP_CACHE_DIR): ReferenceClip[] {
  return [CLASSROOM_720P, CLASSROOM_1080P].map((spec) => composed(classroomClip(dataDir, cacheDir, spec)));
}

/** The 720p classroom at 15 fps, and the 720p classroom sitting still for 20 s. */
export function classroomVariants(dataDir: string, cacheDir = CLIP_CACHE_DIR): { at15fps: ReferenceClip; still: ReferenceClip } {
  return { at15fps: composed(classroomClip(dataDir, cacheDir, CLASSROOM_720P_15FPS)), still: composed(classroomClip(dataDir, cacheDir, CLASSROOM_STILL_720P)) };
}

/** The empty rooms (no face, sensor noise, one lighting step): 640x480 and 1280x720 at 30 fps. */
export function emptyRooms(cacheDir = CLIP_CACHE_DIR): ReferenceClip[] {
  return [EMPTY_480P, EMPTY_720P].map((spec) => composed(emptyRoomClip(cacheDir, spec)));
}

/** The face-free photo (dogs.jpg) held for 1.5 s. */
export function faceFree(dataDir: string, cacheDir = CLIP_CACHE_DIR): ReferenceClip {
  return composed(stillClip(negativePhoto(dataDir), 'dogs-still-640x480', 45, cacheDir));
}

export interface BenchClips {
  clips: ReferenceClip[];
  /** The clip the targets are checked on. */
  target: ReferenceClip;
  /** The classroom clips, whose targets are checked against the target clip's CPU per frame. */
  classrooms: ReferenceClip[];
  /** The clips also played at their own frame rate, as a camera delivers them (CPU as a share of one core). */
  paced: ReferenceClip[];
  /** Set when the shared data is missing and the demo clip stands in. */
  note?: string;
}

/** The bench's clips: clip1, clip2, the three-face clip, the two classrooms, the still classroom and the empty
 * rooms; paced: the empty rooms, the three faces and the 720p classrooms at 30 and 15 fps and sitting still. The
 * demo clip and the empty rooms when the data is absent. */
export function benchClips(cacheDir = CLIP_CACHE_DIR): BenchClips {
  const dataDir = sharedDataDir();
  const empty = emptyRooms(cacheDir);
  if (dataDir) {
    const three = threeFaces(dataDir, cacheDir);
    const rooms = classrooms(dataDir, cacheDir);
    const { at15fps, still } = classroomVariants(dataDir, cacheDir);
    return {
      clips: [...facetestClips(dataDir), three, ...rooms, still, ...empty],
      target: three,
      classrooms: rooms,
      paced: [...empty, three, rooms[0] as ReferenceClip, at15fps, still],
    };
  }
  if (!fs.existsSync(DEMO_CLIP)) {
    throw new Error(`no reference data (../shared/data) and no demo clip at ${DEMO_CLIP}: run deploy/make-demo-clip.sh`);
  }
  const demo = named(DEMO_CLIP, 1);
  return {
    clips: [demo, ...empty],
    target: demo,
    classrooms: [],
    paced: [...empty, demo],
    note: `shared data absent: benchmarking the demo clip ${DEMO_CLIP} (one face) instead of the three-face clip`,
  };
}
