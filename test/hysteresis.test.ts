import test from 'ava';
import { applyHysteresis } from '../src/events/hysteresis.js';
import { EmotionGate } from '../src/events/emotion-gate.js';
import { RoomWindow } from '../src/events/room-window.js';
import { zeroScores, type Emotion, type EmotionEvent, type Face } from '../src/types.js';

const settings = { margin: 0.15, hold_s: 0.5, first_steps: 1 };

function face(id = 1): Face {
  return {
    id,
    geometry: { box: { x: 0, y: 0, width: 50, height: 50 }, status: 'confirmed', hits: 3, votes: [20], misses: 0, firstSeenMs: 0, lastSeenMs: 0 },
    probe: {},
    model: {},
    label: { timeIn: zeroScores() },
  };
}
function scores(top: Emotion, p: number, second: Emotion = 'Neutral') {
  const s = zeroScores();
  s[top] = p;
  s[second] = top === second ? p : 1 - p;
  return s;
}

test('with first_steps 1 the first classification commits at once', (t) => {
  const f = face();
  f.model.scores = scores('Happy', 0.9);
  t.deepEqual(applyHysteresis(f, 0, settings), { before: null, after: 'Happy' });
  t.is(f.label.committed, 'Happy');
});

test('the first label waits for first_steps model steps and is the leader on that step', (t) => {
  const f = face();
  const gated = { ...settings, first_steps: 4 };
  const seen = ['Sad', 'Neutral', 'Happy', 'Happy'].map((e, i) => {
    f.model.scores = scores(e as Emotion, 0.8);
    return applyHysteresis(f, i * 66, gated);
  });
  t.deepEqual(seen, [null, null, null, { before: null, after: 'Happy' }]);
  t.is(f.label.committed, 'Happy');
  t.is(f.label.timeIn.Sad + f.label.timeIn.Neutral, 0, 'no face-time is counted before the first label');
});

test('a new label must lead by the margin for hold_s before it is committed', (t) => {
  const f = face();
  f.model.scores = scores('Neutral', 0.8, 'Happy');
  applyHysteresis(f, 0, settings);
  const changes: number[] = [];
  for (let ms = 100; ms <= 1500; ms += 100) {
    f.model.scores = scores('Happy', 0.7, 'Neutral');
    if (applyHysteresis(f, ms, settings)) changes.push(ms);
  }
  t.deepEqual(changes, [600]);
  t.is(f.label.committed, 'Happy');
});

test('a lead below the margin never switches', (t) => {
  const f = face();
  f.model.scores = scores('Neutral', 0.8, 'Sad');
  applyHysteresis(f, 0, settings);
  for (let ms = 100; ms <= 5000; ms += 100) {
    f.model.scores = scores('Sad', 0.55, 'Neutral');
    t.is(applyHysteresis(f, ms, settings), null);
  }
  t.is(f.label.committed, 'Neutral');
});

test('flicker shorter than hold_s never switches', (t) => {
  const f = face();
  f.model.scores = scores('Neutral', 0.9, 'Angry');
  applyHysteresis(f, 0, settings);
  for (let ms = 100; ms <= 5000; ms += 100) {
    f.model.scores = (ms / 100) % 4 < 2 ? scores('Angry', 0.9) : scores('Neutral', 0.9, 'Angry');
    t.is(applyHysteresis(f, ms, settings), null);
  }
});

test('the gate makes appeared, changed (before/after) and gone with time shares', (t) => {
  const events: EmotionEvent[] = [];
  const gate = new EmotionGate(settings, { device: 'dev1', bootId: 'b' });
  const f = face(7);
  for (let ms = 0; ms <= 3000; ms += 100) {
    f.model.scores = ms < 1000 ? scores('Neutral', 0.9, 'Happy') : scores('Happy', 0.9);
    f.geometry.lastSeenMs = ms;
    const e = gate.classified(f, ms);
    if (e) events.push(e);
  }
  events.push(...gate.ended(f, 3100));
  t.deepEqual(
    events.map((e) => e.type),
    ['face_appeared', 'emotion_changed', 'face_gone'],
  );
  t.deepEqual(
    events.map((e) => e.id),
    ['dev1-b-1', 'dev1-b-2', 'dev1-b-3'],
  );
  const changed = events[1];
  t.true(changed?.type === 'emotion_changed' && changed.before === 'Neutral' && changed.after === 'Happy');
  const gone = events[2];
  if (gone?.type !== 'face_gone') return t.fail();
  t.is(gone.dominant, 'Happy');
  t.is(gone.duration_s, 3);
  t.true(Math.abs(gone.shares.Neutral - 1.5 / 3) < 0.02, `neutral share ${gone.shares.Neutral}`);
  t.true(Math.abs(gone.shares.Happy - 1.5 / 3) < 0.02);
});

test('with first_steps, face_appeared carries no emotion and the first label follows as emotion_changed from null', (t) => {
  const events: EmotionEvent[] = [];
  const gate = new EmotionGate({ ...settings, first_steps: 3 }, { device: 'dev1', bootId: 'b' });
  const f = face(3);
  for (let ms = 0; ms <= 400; ms += 100) {
    f.model.scores = scores('Happy', 0.9);
    f.geometry.lastSeenMs = ms;
    const e = gate.classified(f, ms);
    if (e) events.push(e);
  }
  t.deepEqual(
    events.map((e) => e.type),
    ['face_appeared', 'emotion_changed'],
  );
  const [appeared, first] = events;
  t.true(appeared?.type === 'face_appeared' && appeared.emotion === null && appeared.scores !== null);
  t.true(first?.type === 'emotion_changed' && first.before === null && first.after === 'Happy' && first.time === new Date(200).toISOString());
});

test('a face that ends before it was classified still appears (emotion null) and leaves', (t) => {
  const events: EmotionEvent[] = [];
  const gate = new EmotionGate(settings, { device: 'dev1', bootId: 'b' });
  const f = face(4);
  events.push(...gate.ended(f, 500));
  t.deepEqual(
    events.map((e) => e.type),
    ['face_appeared', 'face_gone'],
  );
  t.true(events[0]?.type === 'face_appeared' && events[0].emotion === null && events[0].scores === null);
});

test('room window shares face-time and counts faces', (t) => {
  const room = new RoomWindow('dev1', 0);
  const a = face(1);
  const b = face(2);
  a.label.committed = 'Happy';
  b.label.committed = 'Sad';
  room.tick([a, b], 0);
  room.tick([a, b], 1000);
  b.label.committed = 'Happy';
  const s = room.summary([a, b], 2000);
  t.is(s.faces, 2);
  t.is(s.dominant, 'Happy');
  t.is(s.shares.Happy, 0.75);
  t.is(s.shares.Sad, 0.25);
  t.is(s.window_s, 2);
  const empty = room.summary([], 3000);
  t.is(empty.dominant, null);
  t.is(empty.faces, 0);
});
