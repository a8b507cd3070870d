// The capture loop's part of the motion gate's idle rate: a frame the pipeline does not want is read and dropped
// undecoded (FrameSource.skip), counted, and still moves media time on; a pause takes no frame at all.
import test from 'ava';
import cv from '../src/system/opencv.js';
import { CaptureLoop } from '../src/capture/capture-loop.js';
import { LatestFrameSlot } from '../src/capture/latest-frame-slot.js';
import type { FrameSource } from '../src/capture/opencv-source.js';
import { PipelineStats } from '../src/system/stats.js';
import { createLogger } from '../src/system/logger.js';
import { configWith, runClip } from './bench/run-clip.js';
import { missingModel, testModel } from './helpers/shared-data.js';
import { testUnless } from './helpers/skip.js';
import { makeDaemon, until } from './helpers/daemon-harness.js';
import { sleep } from './helpers/wait.js';
import { monotonicMs } from '../src/system/clock.js';
import { SMALL_EMPTY_ROOM, emptyRoomClip } from './helpers/clips/empty-room.js';
import { CLIP_CACHE_DIR } from './helpers/clips/reference.js';
import { makeHttpDaemon, readStates } from './helpers/http-daemon.js';

/** A 10 fps file of `frames` gray frames whose pixels are their index; every call is recorded. It can be rewound
 * `rewinds` times. */
function fakeFile(frames: number, calls: string[], withSkip = true, rewinds = 0): FrameSource {
  let i = 0;
  let left = rewinds;
  return {
    kind: 'file',
    props: { width: 64, height: 48, fps: 10 },
    read: async () => {
      if (i >= frames) return null;
      calls.push(`read ${i}`);
      return new cv.Mat(48, 64, cv.CV_8UC1, i++);
    },
    ...(withSkip
      ? {
          skip: async () => {
            if (i >= frames) return false;
            calls.push(`skip ${i++}`);
            return true;
          },
        }
      : {}),
    rewind: () => {
      if (left === 0) return false;
      left -= 1;
      calls.push('rewind');
      i = 0;
      return true;
    },
    close: () => undefined,
  };
}

/** Runs a capture loop over `source` with `wants` (given the frame's index from its timestamp); returns what the
 * pipeline got (each frame's pixel value, time from the first frame's and whether it was fresh) and the stats. */
async function capture(source: FrameSource, wants: (index: number) => boolean, flags: Record<string, string | boolean> = {}) {
  const slot = new LatestFrameSlot();
  const stats = new PipelineStats();
  let firstMs: number | undefined;
  const online: unknown[] = [];
  const loop = new CaptureLoop({
    settings: configWith({ 'source.uri': 'fake.avi', 'source.pace': 'none', ...flags }).source,
    slot,
    stats,
    logger: createLogger({ level: 'silent', pretty: 'no' }),
    events: { online: (p) => online.push(p), offline: () => undefined, ended: () => slot.end(), failed: () => undefined },
    open: () => source,
    wants: (ms) => wants(Math.round((ms - (firstMs ??= ms)) / 100)),
  });
  const got: Array<{ value: number; atMs: number; fresh: boolean }> = [];
  loop.start();
  for (;;) {
    const f = await slot.take();
    if (!f) break;
    got.push({ value: f.mat.atRaw(0, 0) as unknown as number, atMs: Math.round(f.info.timestampMs - (firstMs as number)), fresh: f.info.fresh === true });
    f.mat.release();
  }
  await loop.stop();
  return { got, stats, online };
}

test('frames not wanted are skipped undecoded (skip(), not read()), counted, and keep their place on the media clock', async (t) => {
  const calls: string[] = [];
  const wanted = new Set([2, 3, 7, 9]);
  const { got, stats } = await capture(fakeFile(10, calls), (i) => wanted.has(i));
  t.deepEqual(calls, ['skip 0', 'skip 1', 'read 2', 'read 3', 'skip 4', 'skip 5', 'skip 6', 'read 7', 'skip 8', 'read 9']);
  t.deepEqual(
    got.map((g) => [g.value, g.atMs]),
    [
      [2, 200],
      [3, 300],
      [7, 700],
      [9, 900],
    ],
  );
  // The first frame the pipeline gets from the source is the fresh one (it searches the whole frame), skipped or not.
  t.deepEqual(
    got.map((g) => g.fresh),
    [true, false, false, false],
  );
  t.is(stats.framesIn, 10);
  t.is(stats.framesSkipped, 6);
  t.is(stats.framesDropped, 0);
  t.is(stats.snapshot().frames_skipped, 6);
});

test('a source without skip() has its unwanted frames read and released; every frame wanted skips nothing', async (t) => {
  const calls: string[] = [];
  const { got, stats } = await capture(fakeFile(5, calls, false), (i) => i % 2 === 0);
  t.deepEqual(calls, ['read 0', 'read 1', 'read 2', 'read 3', 'read 4']);
  t.deepEqual(
    got.map((g) => g.value),
    [0, 2, 4],
  );
  t.is(stats.framesSkipped, 2);
  const all = await capture(fakeFile(5, []), () => true);
  t.is(all.got.length, 5);
  t.is(all.stats.framesSkipped, 0);
});

test('paused from the start (no frame wanted): nothing is decoded, and the camera is still online with its first frame', async (t) => {
  const calls: string[] = [];
  const { got, stats, online } = await capture(fakeFile(4, calls), () => false);
  t.deepEqual(calls, ['skip 0', 'skip 1', 'skip 2', 'skip 3']);
  t.is(got.length, 0);
  t.is(stats.framesSkipped, 4);
  t.deepEqual(online, [{ width: 64, height: 48, fps: 10 }]);
});

testUnless(missingModel())(
  'an empty room (sensor noise, a lighting step) is taken at the idle rate, in the source process as in the daemon, paced as unpaced',
  async (t) => {
    const clip = emptyRoomClip(CLIP_CACHE_DIR, SMALL_EMPTY_ROOM);
    const model = testModel() as string;
    const runs = [];
    for (const isolation of ['none', 'process']) runs.push(await runClip({ clip: clip.path, model, threads: 1, settings: { 'source.isolation': isolation } }));
    const [inProcess, isolated] = runs as [Awaited<ReturnType<typeof runClip>>, Awaited<ReturnType<typeof runClip>>];
    t.log(`in process: ${inProcess.frames} processed, ${inProcess.framesSkipped} skipped; source process: ${isolated.frames} / ${isolated.framesSkipped}`);
    for (const r of [inProcess, isolated]) {
      t.is(r.framesBad, 0);
      t.is(r.frames + r.framesSkipped, clip.frames);
      // Idle from 2 s on, at 10 of 30 frames a second, but for the lighting step's frames.
      t.true(r.framesSkipped >= 40 && r.framesSkipped <= (clip.frames - 60) * (2 / 3) + 2, `${r.framesSkipped} of ${clip.frames} frames skipped`);
      t.is(r.sink.events.length, 0);
    }
    // The same frames: which are skipped depends on the frame clock and the motion mask only.
    t.is(isolated.framesSkipped, inProcess.framesSkipped);
    // And as a camera delivers them (each frame asked for while the pipeline works on the one before): the same rate.
    const paced = await runClip({ clip: clip.path, model, threads: 1, settings: {}, pace: 'realtime' });
    t.log(`paced: ${paced.frames} processed, ${paced.framesSkipped} skipped, ${paced.framesDropped} dropped`);
    t.true(Math.abs(paced.framesSkipped - inProcess.framesSkipped) <= 3, `paced: ${paced.framesSkipped} skipped, unpaced ${inProcess.framesSkipped}`);
  },
);

test('a looping file: the first frame taken after each rewind is fresh again, skipped frames before it or not', async (t) => {
  const calls: string[] = [];
  // Frames 0-3, rewind, frames 0-3 again on the media clock (indices 4-7): 0 and 4 skipped.
  const { got } = await capture(fakeFile(4, calls, true, 1), (i) => i !== 0 && i !== 4, { 'source.loop': true });
  t.deepEqual(calls, ['skip 0', 'read 1', 'read 2', 'read 3', 'rewind', 'skip 0', 'read 1', 'read 2', 'read 3']);
  t.deepEqual(
    got.map((g) => [g.value, g.fresh]),
    [
      [1, true],
      [2, false],
      [3, false],
      [1, true],
      [2, false],
      [3, false],
    ],
  );
});

testUnless(missingModel())('a pause clears what waited on the pipeline: no frame comes while paused, so nothing may read as stalled on resume', async (t) => {
  const clip = emptyRoomClip(CLIP_CACHE_DIR, SMALL_EMPTY_ROOM);
  const { daemon } = makeDaemon({ 'classifier.model': testModel() as string, 'source.uri': clip.path, 'source.pace': 'realtime', 'mqtt.enabled': false });
  await daemon.start();
  try {
    await until(() => daemon.stats.framesProcessed > 3, 10_000, 'the first frames');
    // As if faces had waited a minute for a step when the pause came.
    daemon.stats.unclassifiedSinceMs = monotonicMs() - 60_000;
    t.deepEqual(daemon.stats.stalled(), ['classify']);
    daemon.setPaused(true);
    t.is(daemon.stats.unclassifiedSinceMs as number | null, null);
    t.deepEqual(daemon.stats.stalled(), []);
    const skipped = daemon.stats.framesSkipped;
    await until(() => daemon.stats.framesSkipped > skipped + 3, 10_000, 'frames skipped while paused');
    t.deepEqual(daemon.stats.stalled(), []);
  } finally {
    await daemon.stop();
  }
});

testUnless(missingModel())(
  'an idle room is reported as such: stats, /healthz, /metrics and the dashboard feed say idle; a reset of the tracks ends it at once',
  async (t) => {
    const clip = emptyRoomClip(CLIP_CACHE_DIR, SMALL_EMPTY_ROOM);
    const { daemon, url } = await makeHttpDaemon({ 'classifier.model': testModel() as string, 'source.uri': clip.path, 'source.pace': 'realtime' });
    await daemon.start();
    try {
      await until(() => daemon.stats.framesProcessed > 3, 10_000, 'the first frames');
      // The first frame is a new scene (searched whole): not idle until 2 s of nothing.
      t.false(daemon.stats.idle);
      t.false(daemon.stats.snapshot().idle);
      await until(() => daemon.stats.idle, 5000, 'the room idle');
      t.true(daemon.stats.snapshot().idle);
      // The HTTP thread gets the daemon's state once a second.
      let health: { idle?: boolean; status?: string } = {};
      for (const end = Date.now() + 3000; health.idle !== true && Date.now() < end; await sleep(100))
        health = (await (await fetch(`${url}/healthz`)).json()) as typeof health;
      t.true(health.idle, `/healthz: ${JSON.stringify(health)}`);
      t.is(health.status, 'ok', 'an idle room is healthy');
      t.regex(await (await fetch(`${url}/metrics`)).text(), /^emotiond_idle 1$/m);
      const states = (await readStates(`${url}/events`, (s) => s.length >= 1, 3000)) as Array<{ status: { idle: boolean; fps: number } }>;
      t.true(states[0]?.status.idle, JSON.stringify(states[0]?.status));
      daemon.resetTracks();
      t.false(daemon.stats.idle);
      const n = daemon.stats.framesProcessed;
      await until(() => daemon.stats.framesProcessed > n, 3000, 'a frame after the reset');
      t.false(daemon.stats.idle, 'the reset searches the whole frame again: not idle');
    } finally {
      await daemon.stop();
    }
  },
);
