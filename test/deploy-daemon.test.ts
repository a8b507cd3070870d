// The daemon as systemd runs it: a separate process with NOTIFY_SOCKET and WATCHDOG_USEC, a real broker, a
// real clip or MJPEG stream. SIGTERM while processing ends cleanly and fast; a stalled source stops the
// watchdog pings (so systemd restarts the service) and a recovered one resumes them.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import { shippedModel } from './helpers/shared-data.js';
import { notifySocket, type Note } from './helpers/notify-socket.js';
import { freePort } from './helpers/ports.js';
import { listeningOn, serveMjpeg } from './helpers/media-tools.js';
import { waitUntil } from './helpers/wait.js';

const SRC = path.resolve('.');
const DEMO = path.join(SRC, 'deploy/demo/demo-faces.avi');
const MODEL = shippedModel() ?? (process.env.EMOTIOND_TEST_MODEL ? path.resolve(process.env.EMOTIOND_TEST_MODEL) : null);
const missing = [
  MODEL && fs.existsSync(MODEL) ? null : 'the model (models/emotion-cnn-lstm.int8.onnx or EMOTIOND_TEST_MODEL)',
  fs.existsSync(DEMO) ? null : `${DEMO} (deploy/make-demo-clip.sh)`,
].filter(Boolean);
if (missing.length > 0) console.log(`deploy-daemon tests skipped: missing ${missing.join(', ')}`);
const daemonTest = missing.length > 0 ? test.serial.skip : test.serial;

interface Running {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

/** `emotiond run` from the sources, the way the unit starts it (env from systemd, flags for the rest). */
function runDaemon(t: ExecutionContext, notify: string, watchdogUsec: number, flags: string[]): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '--classifier-model', MODEL ?? '', '--log-pretty', 'no', ...flags], {
    cwd: SRC,
    env: { ...process.env, NOTIFY_SOCKET: notify, WATCHDOG_USEC: String(watchdogUsec), ORT_DISABLE_TELEMETRY: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { child, stderr: () => stderr, exited };
}

daemonTest('SIGTERM while processing: STOPPING, face_gone and offline published, exit 0 within 2 s', async (t) => {
  const notify = await notifySocket(t);
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0, wsPort: 0, logger: pino({ level: 'silent' }) });
  await broker.start();
  t.teardown(() => broker.stop());
  const received: Array<{ topic: string; text: string; at: number }> = [];
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { protocolVersion: 4, clientId: 'deploy-daemon-sub' });
  t.teardown(() => sub.endAsync());
  sub.on('message', (topic, payload) => received.push({ topic, text: payload.toString(), at: Date.now() }));
  await sub.subscribeAsync('emotiond/deploytest/#', { qos: 1 });

  const d = runDaemon(t, notify.path, 1_000_000, [
    '--source',
    DEMO,
    '--source-loop',
    '--source-pace',
    'realtime',
    '--device-id',
    'deploytest',
    '--mqtt-url',
    `mqtt://127.0.0.1:${broker.port}`,
    '--mqtt-protocol-version',
    '4',
    '--no-mqtt-discovery',
    '--system-ready-timeout-s',
    '60',
  ]);
  const context = (): string =>
    `notify: ${JSON.stringify(notify.notes.slice(-5))}\nmqtt: ${JSON.stringify(received.slice(-5))}\nstderr: ${d.stderr().slice(-2000)}`;
  await waitUntil(() => notify.notes.some((n) => n.text.startsWith('READY=1')), 60_000, 'READY=1', context);
  const events = (): Array<{ type: string; track: number; at: number }> =>
    received.filter((m) => m.topic === 'emotiond/deploytest/events').map((m) => ({ ...(JSON.parse(m.text) as { type: string; track: number }), at: m.at }));
  await waitUntil(() => events().some((e) => e.type === 'face_appeared'), 20_000, 'a face_appeared event', context);
  await waitUntil(() => notify.notes.filter((n) => n.text === 'WATCHDOG=1').length >= 2, 5000, 'watchdog pings', context);

  const sentAt = Date.now();
  d.child.kill('SIGTERM');
  const exit = await d.exited;
  const tookMs = exit.at - sentAt;
  t.log(`exit ${exit.code} ${tookMs} ms after SIGTERM`);
  t.is(exit.code, 0, context());
  t.true(tookMs < 2000, `exit took ${tookMs} ms`);

  const stopping = notify.notes.find((n) => n.text.startsWith('STOPPING=1'));
  t.truthy(stopping, context());
  t.false(
    notify.notes.some((n) => n.text === 'WATCHDOG=1' && n.at > (stopping?.at ?? Infinity)),
    'no ping after STOPPING',
  );

  await waitUntil(
    () => received.some((m) => m.topic === 'emotiond/deploytest/availability' && m.text.includes('offline')),
    3000,
    'availability offline',
    context,
  );
  const offlineAt = received.find((m) => m.topic === 'emotiond/deploytest/availability' && m.text.includes('offline'))?.at ?? 0;
  const appeared = new Set(
    events()
      .filter((e) => e.type === 'face_appeared')
      .map((e) => e.track),
  );
  const gone = new Set(
    events()
      .filter((e) => e.type === 'face_gone' && e.at <= offlineAt)
      .map((e) => e.track),
  );
  t.deepEqual([...gone].sort(), [...appeared].sort(), 'every face ends with face_gone before offline');
});

const haveFfmpeg = (() => {
  try {
    return fs.readdirSync('/usr/bin').includes('ffmpeg');
  } catch {
    return false;
  }
})();
const streamTest = missing.length > 0 || !haveFfmpeg ? test.serial.skip : test.serial;
if (missing.length === 0 && !haveFfmpeg) console.log('deploy-daemon stall test skipped: ffmpeg not installed');

/** run.ts feeds the watchdog while frames are processed or while the source is being reopened (PipelineStats.alive). */
streamTest('a stalled camera stream is detected and reopened; the watchdog keeps pinging through the outage and frames resume', async (t) => {
  const notify = await notifySocket(t);
  const port = await freePort();
  const servers: ChildProcess[] = [];
  t.teardown(() => {
    for (const s of servers) s.kill('SIGKILL');
  });
  servers.push(serveMjpeg(DEMO, port));
  await listeningOn(port);

  const d = runDaemon(t, notify.path, 1_000_000, [
    '--source',
    `http://127.0.0.1:${port}/cam.mjpg`,
    '--source-stall-timeout-s',
    '3',
    '--source-reopen-min-s',
    '0.2',
    '--source-reopen-max-s',
    '1',
    '--no-mqtt-enabled',
  ]);
  const context = (): string => `notify: ${JSON.stringify(notify.notes.slice(-8))}\nstderr: ${d.stderr().slice(-2000)}`;
  const pings = (): Note[] => notify.notes.filter((n) => n.text === 'WATCHDOG=1');
  const logged = (re: RegExp): number => (d.stderr().match(re) ?? []).length;
  await waitUntil(() => notify.notes.some((n) => n.text.startsWith('READY=1')), 60_000, 'READY=1', context);
  await waitUntil(() => pings().length >= 3, 10_000, 'watchdog pings while frames flow', context);

  // The camera hangs: the process is stopped, its connection stays open and silent. The daemon's stall
  // timeout notices, and it keeps reopening (the stopped server accepts nobody) without being restarted.
  const stalledAt = Date.now();
  servers[0]?.kill('SIGSTOP');
  await waitUntil(() => /no frame for 3 s/.test(d.stderr()), 10_000, 'the stall to be detected', context);
  await waitUntil(() => logged(/source failed; reopening after delay/g) >= 3, 15_000, 'reopen attempts', context);
  const during = pings().filter((n) => n.at > stalledAt);
  const gaps = during.map((n, i) => n.at - (i === 0 ? stalledAt : (during[i - 1] as Note).at));
  t.log(`${during.length} pings during the outage, longest gap ${Math.max(...gaps)} ms`);
  t.true(during.length >= 5, 'pings go on while the source is retried');
  t.true(Math.max(...gaps) < 4000, `a ${Math.max(...gaps)} ms gap in pings (WatchdogSec here: 1 s)`);
  t.notRegex(d.stderr(), /watchdog pings withheld/);
  t.is(d.child.exitCode, null);
  const fps = (n: Note): number => Number(/^STATUS=([\d.]+) fps/.exec(n.text)?.[1] ?? -1);
  await waitUntil(() => notify.notes.some((n) => n.at > stalledAt && fps(n) === 0), 15_000, 'STATUS to report 0 fps', context);

  // The camera comes back (a new server on the same address): frames flow again.
  servers[0]?.kill('SIGKILL');
  servers.push(serveMjpeg(DEMO, port));
  const opensBefore = logged(/source opened/g);
  await waitUntil(() => logged(/source opened/g) > opensBefore, 30_000, 'the source to reopen', context);
  // STATUS said 0 fps during the outage, so a non-zero rate reported after the reopen comes from new frames.
  const reopenedAt = Date.now();
  await waitUntil(() => notify.notes.some((n) => n.at > reopenedAt && fps(n) > 0), 30_000, 'frames to flow again', context);

  const sentAt = Date.now();
  d.child.kill('SIGTERM');
  const exit = await d.exited;
  t.is(exit.code, 0, context());
  t.true(exit.at - sentAt < 2000, `exit took ${exit.at - sentAt} ms`);
});
