// privacy.per_face and privacy.min_faces: the room window's accounting, the filter in front of every sink,
// the real daemon on the demo clip, and the MQTT queue file of an earlier run.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { RoomWindow } from '../src/events/room-window.js';
import { PrivacyFilter } from '../src/events/privacy-filter.js';
import { MemorySink } from '../src/sinks/memory-sink.js';
import { Outbox } from '../src/outbox/outbox.js';
import { PayloadValidator } from '../src/contract/validate.js';
import { projectRoot } from '../src/system/paths.js';
import { zeroScores, type Emotion, type TrackedFace } from '../src/types.js';
import { makeDaemon } from './helpers/daemon-harness.js';
import { missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { captureLogger, makeCamera, makeEvent, makeFace, makeRoom, tmpDir } from './publish-helpers.js';

function face(id: number, committed?: Emotion): TrackedFace {
  return {
    id,
    geometry: { box: { x: 0, y: 0, width: 50, height: 50 }, status: 'confirmed', hits: 3, votes: [20], misses: 0, firstSeenMs: 0, lastSeenMs: 0 },
    probe: {},
    model: {},
    label: { timeIn: zeroScores(), ...(committed ? { committed } : {}) },
  };
}

test('min_faces 3: face-time counts only while 3 faces are present; 1 or 2 present withholds the summary', (t) => {
  const room = new RoomWindow('dev', 0, 3);
  const [a, b, c] = [face(1, 'Happy'), face(2, 'Happy'), face(3, 'Sad')];
  room.tick([a, b, c], 0);
  room.tick([a, b, c], 1000); // 1 s with three faces: counted
  room.tick([c], 9000); // 8 s with one face (Sad): not counted
  const withOne = room.summary([c], 10000);
  t.like(withOne, { faces: null, withheld: true, dominant: null, min_faces: 3 }, 'the count is withheld with the mood');
  t.deepEqual(withOne.shares, zeroScores(), 'no shares while one face is present');

  // Two new faces (new tracks) join the one that stayed.
  const [a2, b2] = [face(4, 'Happy'), face(5, 'Happy')];
  room.tick([a2, b2, c], 10000);
  room.tick([a2, b2, c], 11000); // three faces: counted
  room.tick([c], 19000); // one face for 8 s: not counted, and the room is empty at the end
  const emptyAfter = room.summary([], 20000);
  t.like(emptyAfter, { faces: 0, withheld: false, dominant: 'Happy' }, 'shares of the time three were there');
  t.is(emptyAfter.shares.Happy, 0.667, "the lone Sad face's 8 s are not in the shares");

  room.tick([a, b], 20000);
  room.tick([a, b], 25000);
  const neverThree = room.summary([], 30000);
  t.like(neverThree, { faces: 0, withheld: true, dominant: null }, 'a window that never had three faces at once is withheld');
  const nobody = room.summary([], 40000);
  t.like(nobody, { faces: 0, withheld: false, dominant: null }, 'an empty window is not "too few"');
});

test('min_faces 1 (the default) never withholds', (t) => {
  const room = new RoomWindow('dev', 0);
  const a = face(1, 'Sad');
  room.tick([a], 0);
  const s = room.summary([a], 5000);
  t.like(s, { faces: 1, withheld: false, dominant: 'Sad', min_faces: 1 });
  t.is(s.shares.Sad, 1);
});

test('per_face false: the filter passes room and camera, and no event, face state or face clear', (t) => {
  const sink = new MemorySink();
  const filter = new PrivacyFilter({ per_face: false }, sink);
  filter.event(makeEvent(0));
  filter.event(makeEvent(2));
  filter.face(makeFace(4, 1));
  filter.faceCleared('testcam', 4);
  filter.room(makeRoom());
  filter.camera(makeCamera());
  t.deepEqual([sink.events.length, sink.faces.length, sink.cleared.length], [0, 0, 0]);
  t.is(filter.held, 4);
  t.is(sink.rooms.length, 1);
  t.like(sink.rooms[0], { faces: 2, dominant: 'Neutral', withheld: false });
  t.is(sink.cameras.length, 1);

  const open = new MemorySink();
  const through = new PrivacyFilter({ per_face: true }, open);
  through.event(makeEvent(0));
  through.face(makeFace(4, 1));
  through.faceCleared('testcam', 4);
  t.deepEqual([open.events.length, open.faces.length, open.cleared.length], [1, 1, 1]);
});

test('the room window, the one place min_faces applies, withholds a summary of fewer than min_faces faces', (t) => {
  const validator = new PayloadValidator();
  const room = new RoomWindow('dev', 0, 3);
  const [a, b, c] = [face(1, 'Neutral'), face(2, 'Neutral'), face(3, 'Sad')];
  room.tick([a, b, c], 0);
  room.tick([a, b, c], 1000);
  const out = room.summary([a, b], 2000);
  t.like(out, { faces: null, withheld: true, dominant: null, min_faces: 3 }, 'the count is withheld with the mood');
  t.deepEqual(out.shares, zeroScores());
  t.true(validator.validate('room', out).ok);
  room.tick([a, b, c], 2000);
  t.like(room.summary([a, b, c], 3000), { withheld: false, dominant: 'Neutral', min_faces: 3 });
  const lying = { ...makeRoom(), withheld: true };
  t.false(validator.validate('room', lying).ok, 'the schema refuses a withheld summary that carries shares or a mood');
});

test("an earlier run's queued events are discarded, and the file emptied, when per_face is now false", async (t) => {
  const dir = tmpDir('emotiond-privacy-');
  const file = path.join(dir, 'queue.jsonl');
  const { logger, lines } = captureLogger();
  const before = new Outbox({ max: 100, file, logger, persistDelayMs: 10 });
  before.load();
  for (let i = 0; i < 3; i++) before.push(JSON.stringify(makeEvent(i)));
  await before.close();
  const peek = new Outbox({ max: 100, file, logger });
  t.is(peek.load(), 3, 'three events were queued');
  await peek.close();

  const after = new Outbox({ max: 100, file, logger, persistDelayMs: 10 });
  t.is(
    after.load(() => false),
    0,
  );
  t.is(after.length, 0);
  await after.close();
  const last = new Outbox({ max: 100, file, logger });
  t.is(last.load(), 0, 'nothing left in the file');
  await last.close();
  t.true(lines.some((l) => l['discarded'] === 3));
});

const clip = path.join(projectRoot(), 'deploy/demo/demo-faces.avi');
const noClip = firstMissing(missingModel(), !fs.existsSync(clip) && `${clip} not found`);

testUnless(noClip)(
  'the daemon on the demo clip with per_face false, min_faces 2: no per-face output, room summaries withheld while one face is there',
  async (t) => {
    const { daemon, sink } = makeDaemon({
      'source.uri': clip,
      'source.pace': 'none',
      'classifier.model': testModel() as string,
      'events.room_interval_s': '1',
      'privacy.per_face': false,
      'privacy.min_faces': '2',
      'privacy.notice': 'Emotion recognition in use: ask at the desk.',
    });
    await daemon.start();
    await daemon.sourceEnded;
    await daemon.stop();
    t.true(daemon.stats.facesClassified > 0, "the clip's face was found and classified");
    t.deepEqual([sink.events.length, sink.faces.length, sink.cleared.length], [0, 0, 0], 'no per-face output');
    t.true(sink.rooms.length >= 2, `room summaries still come: ${sink.rooms.length}`);
    t.false(
      sink.rooms.some((r) => r.faces === 1),
      'no summary counts the one face',
    );
    const withFace = sink.rooms.filter((r) => r.faces === null);
    t.true(withFace.length >= 1, 'some summaries were made while the face was there (its count withheld)');
    for (const r of sink.rooms) {
      t.is(r.dominant, null, `no mood in ${JSON.stringify(r)}`);
      t.deepEqual(r.shares, zeroScores());
      t.is(r.min_faces, 2);
    }
    for (const r of withFace) t.true(r.withheld);
    const validator = new PayloadValidator();
    for (const r of sink.rooms) t.true(validator.validate('room', r).ok);
    t.true(sink.cameras.length >= 2);
    for (const c of sink.cameras) {
      t.is(c.notice, 'Emotion recognition in use: ask at the desk.');
      t.true(validator.validate('camera', c).ok);
    }
  },
);
