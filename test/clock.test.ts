// The two clocks (src/system/clock.ts) with a clock whose wall time the test steps: a jump is reported once with
// its size and slow drift never is; frame times of files are media time; the room window's emotion seconds and the
// dashboard's figures (a face's expiry, the timeline's span) do not move with the wall clock. The real thing, a daemon under
// libfaketime on a live stream, is clock-jump.test.ts.
import test from 'ava';
import { ClockWatch, FrameClock, type Clock } from '../src/system/clock.js';
import { LiveState, TIMELINE_SPAN_MS } from '../src/dashboard/live-state.js';
import { zeroScores, type FaceState, type RoomSummary } from '../src/types.js';
import { RoomWindow } from '../src/events/room-window.js';
import { newTrack } from '../src/track/face-tracker.js';

/** A clock the test moves: mono advances with tick(); wall = mono + offset, and step() changes the offset. */
function steppedClock(): Clock & { tick(ms: number): void; step(ms: number): void } {
  let mono = 1000;
  let offset = 1_700_000_000_000;
  return { mono: () => mono, wall: () => mono + offset, tick: (ms) => void (mono += ms), step: (ms) => void (offset += ms) };
}

test('ClockWatch: a step of the wall clock is reported once, with its size and sign; drift and NTP slewing never are', (t) => {
  const clock = steppedClock();
  const jumps: number[] = [];
  const watch = new ClockWatch({ clock, onJump: (ms) => jumps.push(ms) });
  for (let i = 0; i < 600; i++) {
    clock.tick(1000);
    clock.step(40); // 4 % fast: 24 s over ten minutes, never more than 40 ms between two checks
    t.is(watch.check(), null);
  }
  clock.tick(1000);
  clock.step(86_400_000);
  t.is(watch.check(), 86_400_000);
  clock.tick(1000);
  t.is(watch.check(), null, 'once per jump');
  clock.step(-90_000_000);
  clock.tick(1000);
  t.is(watch.check(), -90_000_000);
  t.deepEqual(jumps, [86_400_000, -90_000_000]);
  clock.step(4000);
  t.is(watch.check(), null, 'up to 5 s is not a jump');
});

test('FrameClock: live frames are stamped with the wall clock when a message is made; files with media time on the wall scale of the start', (t) => {
  const clock = steppedClock();
  const live = new FrameClock(false, clock);
  const file = new FrameClock(true, clock);
  const frame = live.now();
  clock.tick(10);
  clock.step(86_400_000);
  t.is(live.wall(frame), clock.wall(), 'the corrected wall time');
  t.is(file.wall(frame + 40_000), 1_700_000_000_000 + 1000 + 40_000, 'media time: unaffected by the step');
});

function face(track: number, ageS: number, time: number): FaceState {
  return {
    device: 'd',
    track,
    time: new Date(time).toISOString(),
    emotion: 'Happy',
    scores: { ...zeroScores(), Happy: 1 },
    box: { x: 0, y: 0, width: 50, height: 50 },
    age_s: ageS,
  };
}

function happyRoom(time: number): RoomSummary {
  return {
    device: 'd',
    time: new Date(time).toISOString(),
    window_s: 5,
    faces: 1,
    shares: { ...zeroScores(), Happy: 1 },
    dominant: 'Happy',
    withheld: false,
    min_faces: 1,
  };
}

test("emotion seconds (the room window's face-time), a face's expiry on the dashboard and its timeline's span follow the monotonic clock, whatever the wall clock does", (t) => {
  const clock = steppedClock();
  const frames = new FrameClock(false, clock);
  const room = new RoomWindow('d', frames.now(), 1, (ms) => frames.wall(ms));
  const f = newTrack(1, { box: { x: 0, y: 0, width: 50, height: 50 }, score: 20 }, frames.now());
  f.geometry.status = 'confirmed';
  f.label.committed = 'Happy';
  room.tick([f], frames.now());
  clock.tick(1000);
  clock.step(86_400_000);
  room.tick([f], frames.now());
  clock.tick(1000);
  clock.step(-90_000_000);
  room.summary([f], frames.now());
  t.is(room.emotionSeconds().Happy, 2, 'two seconds of Happy, not a day');
  const live = new LiveState(clock);
  live.face(face(1, 2, clock.wall()));
  t.is(live.liveFaces().length, 1);
  clock.tick(6000);
  t.is(live.liveFaces().length, 0, 'a face not updated for 5 s leaves the view, though the wall clock went back 25 h');
  // The timeline keeps the last five minutes of monotonic time, also across a step back of the wall clock.
  for (let i = 0; i < 200; i++) {
    live.room(happyRoom(clock.wall()));
    clock.tick(5000);
    if (i === 20) clock.step(-90_000_000);
  }
  const points = live.points();
  t.true(points.length <= TIMELINE_SPAN_MS / 5000 + 2, `${points.length} timeline points`);
});
