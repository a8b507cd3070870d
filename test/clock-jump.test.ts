// The wall clock of a board without a real-time clock jumps when NTP syncs. The daemon runs under libfaketime
// (only its wall clock moves; CLOCK_MONOTONIC stays real) on a live MJPEG stream (ffmpeg over HTTP on loopback)
// and a real mosquitto; its wall clock jumps one day forward, then 25 hours back. Through both: the same tracks
// (no face_gone, no new face_appeared), classification continues at once (faces/<id> states stamped with the new
// time), no duration or room window negative or inflated, each jump logged once at warn with its size and counted
// in stats and /metrics, /healthz live throughout. The three-face clip when the shared data is there, else one
// face (a still photo).
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { Mosquitto, freePort, mosquittoMissing } from './helpers/mosquitto.js';
import { FakeWallClock, missingFaketime } from './helpers/faketime.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { missingFile, missingModel, sharedDataDir, testModel } from './helpers/shared-data.js';
import { threeFaces } from './helpers/clips/reference.js';
import { sleep, waitUntil } from './helpers/wait.js';
import { subscribe } from './publish-helpers.js';
import { MjpegStream } from './soak/stream.js';
import { missingFfmpeg } from './helpers/media-tools.js';
import type { EmotionEvent, FaceState, RoomSummary } from '../src/types.js';

const ASTRONAUT = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';
const DAY_MS = 86_400_000;
const DEVICE = 'clockjump';

const why = firstMissing(
  missingFaketime(),
  mosquittoMissing(),
  missingFfmpeg(),
  missingModel(),
  sharedDataDir() ? undefined : missingFile(ASTRONAUT, 'python3-skimage'),
);

function kill(child: ChildProcess): void {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

testUnless(why, { serial: true })(
  'wall clock +1 day then -25 h on a live stream: same tracks, classification goes on, no negative or inflated duration, each jump logged and counted',
  async (t) => {
    t.timeout(170_000);
    const data = sharedDataDir();
    const clip = data ? threeFaces(data) : { path: ASTRONAUT, faces: 1, name: 'astronaut' };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-clock-'));
    const wall = new FakeWallClock(path.join(dir, 'faketime'));
    const stream = new MjpegStream(clip.path, await freePort());
    stream.up();
    t.teardown(() => stream.down());
    await stream.listening();
    const brokerPort = await freePort();
    const broker = new Mosquitto([{ port: brokerPort }]);
    await broker.start();
    t.teardown(() => broker.stop());
    const url = `mqtt://127.0.0.1:${brokerPort}`;
    const root = `emotiond/${DEVICE}`;
    const sub = await subscribe(url, [`${root}/events`, `${root}/faces/+`, `${root}/room`, `${root}/stats`], { protocolVersion: 4 });
    t.teardown(() => sub.end());
    // Arrival times on the test's own (real) clock.
    const arrived = new Map<unknown, number>();
    sub.client.on('message', (_topic, payload) => arrived.set(payload, Date.now()));
    const httpPort = await freePort();

    const daemon = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'run',
        '--classifier-model',
        testModel() ?? '',
        '--source',
        stream.url,
        '--mqtt-url',
        url,
        '--mqtt-protocol-version',
        '4',
        '--device-id',
        DEVICE,
        '--mqtt-stats-interval-s',
        '1',
        '--events-room-interval-s',
        '3',
        '--http-enabled',
        '--http-port',
        String(httpPort),
        '--log-pretty',
        'no',
        '--log-level',
        'warn',
        '--system-state-dir',
        dir,
      ],
      { env: { ...process.env, ...wall.env(), ORT_DISABLE_TELEMETRY: '1' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    t.teardown(() => kill(daemon));
    let stderr = '';
    daemon.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const context = (): string => `stderr: ${stderr.slice(-2000)}`;

    const received = (topic: string): Array<{ body: Record<string, unknown>; at: number }> =>
      sub.messages
        .filter((m) => m.topic === topic && m.payload.length > 0)
        .map((m) => ({ body: JSON.parse(m.text) as Record<string, unknown>, at: arrived.get(m.payload) ?? 0 }));
    const events = (): Array<{ body: EmotionEvent; at: number }> => received(`${root}/events`) as unknown as Array<{ body: EmotionEvent; at: number }>;
    const faceStates = (): Array<{ body: FaceState; at: number }> =>
      sub.messages
        .filter((m) => m.topic.startsWith(`${root}/faces/`) && m.payload.length > 0)
        .map((m) => ({ body: JSON.parse(m.text) as FaceState, at: arrived.get(m.payload) ?? 0 }));
    const appeared = (): Array<{ body: EmotionEvent; at: number }> => events().filter((e) => e.body.type === 'face_appeared');

    await waitUntil(() => appeared().length >= clip.faces, 60_000, `${clip.faces} faces announced`, context);
    await sleep(4000);
    const tracks = [...new Set(appeared().map((e) => e.body.track))].sort();
    t.is(tracks.length, clip.faces, `one track per face: ${JSON.stringify(appeared().map((e) => e.body))}`);

    // /healthz every half second, throughout.
    const health: Array<{ code: number; ms: number }> = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const t0 = performance.now();
        const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`).catch(() => null);
        health.push({ code: res?.status ?? 0, ms: performance.now() - t0 });
        await res?.text();
        await sleep(500);
      }
    })();

    /** Moves the wall clock and measures, per track, how soon a face state stamped with the new time arrives. */
    const jump = async (offset: string, offsetMs: number): Promise<number[]> => {
      const at = Date.now();
      wall.set(offset);
      const fresh = (track: number): { at: number } | undefined =>
        faceStates().find((f) => f.body.track === track && f.at >= at && Math.abs(Date.parse(f.body.time) - (f.at + offsetMs)) < 5000);
      await waitUntil(() => tracks.every((id) => fresh(id)), 30_000, `face states stamped with the new time after ${offset}`, context);
      await sleep(6000);
      return tracks.map((id) => ((fresh(id)?.at ?? Infinity) - at) / 1000);
    };
    const forward = await jump('+1d', DAY_MS);
    const back = await jump('-1h', -3_600_000);

    const metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    polling = false;
    await poller;
    const stopAt = Date.now();
    daemon.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => daemon.once('exit', (c) => resolve(c)));
    t.is(code, 0, context());
    await waitUntil(() => events().filter((e) => e.body.type === 'face_gone').length >= clip.faces, 10_000, 'face_gone for every face at the stop', context);

    t.log(
      `clip ${clip.name} (${clip.faces} faces); classification after +1 d: ${forward.map((s) => s.toFixed(2)).join(', ')} s; after -25 h: ${back.map((s) => s.toFixed(2)).join(', ')} s`,
    );
    for (const s of [...forward, ...back]) t.true(s < 10, `a face was classified ${s} s after a jump (target 2 s)`);
    const all = events().map((e) => e.body);
    t.deepEqual(
      [...new Set(all.map((e) => e.track))].sort(),
      tracks,
      `the same tracks before and after each jump: ${JSON.stringify(all.map((e) => `${e.type}#${e.track}`))}`,
    );
    t.is(all.filter((e) => e.type === 'face_appeared').length, clip.faces, 'no track ended or began at a jump');
    const gone = events().filter((e) => e.body.type === 'face_gone');
    for (const g of gone) {
      const first = appeared().find((a) => a.body.track === g.body.track) as { at: number };
      const real = (stopAt - first.at) / 1000;
      const d = (g.body as Extract<EmotionEvent, { type: 'face_gone' }>).duration_s;
      t.log(`track ${g.body.track}: duration_s ${d}, real time present ≥ ${real.toFixed(1)} s`);
      t.true(d >= 0 && d <= real + 2 + 3, `duration_s ${d} for a face present ${real.toFixed(1)} s`);
      t.true(Math.abs(Date.parse(g.body.time) - (stopAt - 3_600_000)) < 10_000, `face_gone stamped with the corrected time: ${g.body.time}`);
    }
    const rooms = received(`${root}/room`).map((r) => ({ ...(r.body as unknown as RoomSummary), at: r.at }));
    t.true(rooms.length >= 4, `${rooms.length} room summaries`);
    const windows = rooms.map((r) => r.window_s);
    t.log(`room windows: ${windows.join(', ')} s`);
    for (const [i, r] of rooms.entries()) {
      // The first window also holds the start (model loaded, source opened); the others are 3 s.
      const gap = i === 0 ? 15 : (r.at - (rooms[i - 1] as { at: number }).at) / 1000;
      t.true(
        r.window_s >= 0 && r.window_s <= Math.min(gap + 2, i === 0 ? 15 : 3 + 2),
        `window_s ${r.window_s} (${gap.toFixed(1)} s since the previous summary)`,
      );
    }
    const stats = received(`${root}/stats`).at(-1)?.body as { clock_jumps?: number; clock_jump_last_s?: number } | undefined;
    t.is(stats?.clock_jumps, 2, 'both jumps counted in stats');
    t.true(Math.abs((stats?.clock_jump_last_s ?? 0) + 90_000) < 10, `last jump ${stats?.clock_jump_last_s} s`);
    t.regex(metrics, /^emotiond_clock_jumps_total 2$/m);
    const warnings = stderr.split('\n').filter((l) => l.includes('"jump_s"'));
    t.is(warnings.length, 2, context());
    t.log(warnings.map((w) => (JSON.parse(w) as { msg: string }).msg).join('\n'));
    const sizes = warnings.map((w) => JSON.parse(w) as { jump_s: number; level: number });
    t.true(sizes.every((w) => w.level === 40));
    t.true(Math.abs((sizes[0]?.jump_s ?? 0) - 86_400) < 10 && Math.abs((sizes[1]?.jump_s ?? 0) + 90_000) < 10, JSON.stringify(sizes));
    const slowest = Math.max(...health.map((h) => h.ms));
    t.log(`/healthz: ${health.length} answers, all ${[...new Set(health.map((h) => h.code))].join('/')}, slowest ${slowest.toFixed(0)} ms`);
    t.true(health.length > 10 && health.every((h) => h.code === 200), JSON.stringify(health.filter((h) => h.code !== 200)));
  },
);
