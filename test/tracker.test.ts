import test from 'ava';
import { FaceTracker, type TrackerRound } from '../src/track/face-tracker.js';
import type { Box, Detection, Face, TrackedFace } from '../src/types.js';

const settings = { iou_threshold: 0.25, confirm_hits: 3, confirm_votes: 8, max_misses: 5, max_age_s: 2 };
const det = (x: number, y: number, size = 60): Detection => ({ box: { x, y, width: size, height: size }, score: 10 });

/** A round in which the detector searched for every track (each gets a hit or a miss) and found `found`. */
function everyTrack(tr: FaceTracker, found: Detection[]): TrackerRound {
  return { probed: new Map(tr.tracks.map((t) => [t.id, null])), found };
}

test('a face seen in consecutive frames keeps one id and is confirmed after confirm_hits', (t) => {
  const tr = new FaceTracker(settings);
  const confirmedAt: number[] = [];
  for (let i = 0; i < 10; i++) {
    const u = tr.update(everyTrack(tr, [det(100 + i * 3, 80)]), i * 33);
    if (u.confirmed.length) confirmedAt.push(i);
  }
  t.deepEqual(confirmedAt, [2]);
  t.is(tr.tracks.length, 1);
  t.is(tr.tracks[0]?.id, 1);
  t.is(tr.tracks[0]?.geometry.status, 'confirmed');
});

test('two faces get two stable ids, even when they move', (t) => {
  const tr = new FaceTracker(settings);
  for (let i = 0; i < 20; i++) tr.update(everyTrack(tr, [det(50 + i * 4, 50), det(300 - i * 4, 60)]), i * 33);
  t.deepEqual(tr.tracks.map((x) => x.id).sort(), [1, 2]);
  const a = tr.tracks.find((x) => x.id === 1) as Face;
  t.true(a.geometry.box.x > 100, 'track 1 followed the face that moved right');
});

test('a one-frame false detection is never confirmed and vanishes silently', (t) => {
  const tr = new FaceTracker(settings);
  const ended: number[] = [];
  tr.update(everyTrack(tr, [det(10, 10)]), 0);
  for (let i = 1; i < 10; i++) ended.push(...tr.update(everyTrack(tr, []), i * 33).ended.map((x) => x.id));
  t.is(tr.tracks.length, 0);
  t.deepEqual(ended, []);
});

test('a confirmed track ends after max_misses frames without detection, and only then', (t) => {
  const tr = new FaceTracker(settings);
  for (let i = 0; i < 5; i++) tr.update(everyTrack(tr, [det(100, 100)]), i * 33);
  const endedAt: number[] = [];
  for (let i = 5; i < 15; i++) if (tr.update(everyTrack(tr, []), i * 33).ended.length) endedAt.push(i - 4);
  t.deepEqual(endedAt, [settings.max_misses + 1]);
});

test('a confirmed track ends after max_age_s even with few frames', (t) => {
  const tr = new FaceTracker(settings);
  for (let i = 0; i < 5; i++) tr.update(everyTrack(tr, [det(100, 100)]), i * 33);
  t.deepEqual(tr.update(everyTrack(tr, []), 1000).ended, []);
  t.is(tr.update(everyTrack(tr, []), 2200).ended[0]?.id, 1);
});

test('a face that returns after its track ended gets a new id', (t) => {
  const tr = new FaceTracker({ ...settings, max_misses: 1 });
  for (let i = 0; i < 5; i++) tr.update(everyTrack(tr, [det(100, 100)]), i * 33);
  tr.update(everyTrack(tr, []), 200);
  tr.update(everyTrack(tr, []), 233);
  for (let i = 0; i < 5; i++) tr.update(everyTrack(tr, [det(100, 100)]), 300 + i * 33);
  t.deepEqual(
    tr.tracks.map((x) => x.id),
    [2],
  );
});

test('a short gap does not switch ids (track survives misses below max_misses)', (t) => {
  const tr = new FaceTracker(settings);
  for (let i = 0; i < 5; i++) tr.update(everyTrack(tr, [det(100, 100)]), i * 33);
  tr.update(everyTrack(tr, []), 200);
  tr.update(everyTrack(tr, []), 233);
  tr.update(everyTrack(tr, [det(104, 100)]), 266);
  t.deepEqual(
    tr.tracks.map((x) => x.id),
    [1],
  );
});

test('a fast-moving face is followed by centre distance when overlap is low', (t) => {
  const tr = new FaceTracker(settings);
  for (let i = 0; i < 8; i++) tr.update(everyTrack(tr, [det(100 + i * 35, 100)]), i * 33);
  t.deepEqual(
    tr.tracks.map((x) => x.id),
    [1],
  );
});

test('endAll returns only confirmed tracks and empties the tracker', (t) => {
  const tr = new FaceTracker(settings);
  for (let i = 0; i < 5; i++) tr.update(everyTrack(tr, [det(100, 100)]), i * 33);
  tr.update(everyTrack(tr, [det(100, 100), det(400, 100)]), 200);
  t.deepEqual(
    tr.endAll().map((x) => x.id),
    [1],
  );
  t.is(tr.tracks.length, 0);
});

test('boxes stay square', (t) => {
  const tr = new FaceTracker(settings);
  tr.update(everyTrack(tr, [{ box: { x: 0, y: 0, width: 60, height: 60 }, score: 1 }]), 0);
  tr.update(everyTrack(tr, [{ box: { x: 0, y: 0, width: 80, height: 60 }, score: 1 }]), 33);
  const b = tr.tracks[0]?.geometry.box as Box;
  t.is(b.width, b.height);
});

test('a look-alike with few cascade votes stays tentative however often it is seen', (t) => {
  const tr = new FaceTracker(settings);
  for (let i = 0; i < 20; i++) tr.update(everyTrack(tr, [{ box: { x: 10, y: 10, width: 60, height: 60 }, score: 6 }, det(200, 10)]), i * 33);
  t.deepEqual(
    tr.confirmedTracks.map((x) => x.id),
    [2],
  );
  t.is(tr.tracks.find((x) => x.id === 1)?.geometry.status, 'tentative');
});

test('with a detector round, only the tracks that were searched can miss; the sweep continues any track it finds', (t) => {
  const tr = new FaceTracker(settings);
  for (let i = 0; i < 4; i++) tr.update(everyTrack(tr, [det(100, 100), det(300, 100)]), i * 33);
  const [a, b] = [...tr.tracks] as [TrackedFace, TrackedFace];
  // Frame 4: a probed and not found, b not searched at all.
  tr.update({ probed: new Map([[a.id, null]]), found: [] }, 4 * 33);
  t.is(a.geometry.misses, 1);
  t.is(b.geometry.misses, 0, 'a track that was not searched did not miss');
  // Frame 5: the sweep finds b (not probed): it continues b, and no new track appears.
  const hitsBefore = b.geometry.hits;
  tr.update({ probed: new Map(), found: [det(302, 101)] }, 5 * 33);
  t.is(b.geometry.hits, hitsBefore + 1);
  t.is(tr.tracks.length, 2);
  // Frames 6-20: a is probed every frame and never found; b is never searched. a ends, b stays.
  const ended: number[] = [];
  for (let i = 6; i < 20; i++) ended.push(...tr.update({ probed: new Map([[a.id, null]]), found: [] }, i * 33).ended.map((x) => x.id));
  t.deepEqual(ended, [a.id]);
  t.deepEqual(
    tr.tracks.map((x) => x.id),
    [b.id],
  );
});

test('between re-detections a track box moves with the face, and a miss stops the extrapolation', (t) => {
  const tr = new FaceTracker(settings);
  // A face moving right at 3 px per frame (33 ms), detected on every frame for a second.
  for (let i = 0; i <= 30; i++) tr.update(everyTrack(tr, [det(100 + i * 3, 100)]), i * 33);
  const track = tr.tracks[0] as Face;
  const at30 = track.geometry.box.x;
  // Five frames without a search: the box is predicted along the motion (about 15 px).
  for (let i = 31; i <= 35; i++) tr.update({ probed: new Map(), found: [] }, i * 33);
  const moved = track.geometry.box.x - at30;
  t.true(moved > 10 && moved < 20, `predicted ${moved.toFixed(1)} px in 5 frames`);
  // A probe that misses halves the velocity each time: the box slows down instead of running away.
  for (let i = 36; i <= 40; i++) tr.update({ probed: new Map([[track.id, null]]), found: [] }, i * 33);
  const after = track.geometry.box.x - at30 - moved;
  t.true(after < moved, `${after.toFixed(1)} px in the 5 missed frames`);
});

test('a track the detector holds (its picture did not change since it was found) is seen without a probe; one it does not hold ends after max_age_s', (t) => {
  const tr = new FaceTracker(settings);
  for (let i = 0; i < 5; i++) tr.update(everyTrack(tr, [det(100, 100), det(300, 100)]), i * 33);
  const [held, other] = tr.tracks as [Face, Face];
  // A velocity left over from its last detections (a little jitter): held, the box stays where it was found.
  (held.geometry.motion as { vx: number }).vx = 0.01;
  t.is(held.geometry.status, 'confirmed');
  const box = { ...held.geometry.box };
  const hits = held.geometry.hits;
  const ended: number[] = [];
  // 10 s without a probe: one held on every frame, the other not.
  for (let i = 5; i < 305; i++) ended.push(...tr.update({ probed: new Map(), found: [], held: new Set([held.id]) }, i * 33).ended.map((x) => x.id));
  t.deepEqual(ended, [other.id], 'the track that was not held ended');
  t.deepEqual(
    tr.tracks.map((x) => x.id),
    [held.id],
  );
  t.deepEqual(held.geometry.box, box, 'its box is where it was found');
  t.is(held.geometry.motion?.vx, 0);
  t.is(held.geometry.hits, hits, 'being held is not a detection');
  t.is(held.geometry.lastSeenMs, 304 * 33);
  // A probe that misses it is not undone by a hold on the same frame, and a missed track is not held.
  tr.update({ probed: new Map([[held.id, null]]), found: [], held: new Set([held.id]) }, 305 * 33);
  t.is(held.geometry.misses, 1);
  t.is(held.geometry.lastSeenMs, 304 * 33);
  tr.update({ probed: new Map(), found: [], held: new Set([held.id]) }, 306 * 33);
  t.is(held.geometry.lastSeenMs, 304 * 33, 'a track its last probe missed is not held');
});
