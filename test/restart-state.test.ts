// What a restart must keep and what it must replace (#28), with the real daemon (`emotiond run`, a process of its
// own) stopped and started again against a real broker: a pause set over MQTT holds across the restart (no frame
// is processed, the retained state says paused), and the retained room of a run with other privacy settings is
// replaced as soon as the next run connects.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { pino } from 'pino';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import type { RoomSummary } from '../src/types.js';
import { spawnDaemon, type DaemonProcess } from './helpers/daemon-process.js';
import { missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { subscribe, waitUntil, type Subscriber } from './publish-helpers.js';

const clip = path.resolve('deploy/demo/demo-faces.avi');
const noRun = firstMissing(missingModel(), !fs.existsSync(clip) && `${clip} not found (deploy/setup.sh makes it)`);
const ROOT = 'emotiond/restart';

async function broker(t: ExecutionContext): Promise<EmbeddedBroker> {
  const b = new EmbeddedBroker({ host: '127.0.0.1', port: 0, wsPort: 0, logger: pino({ level: 'silent' }) });
  await b.start();
  t.teardown(() => b.stop());
  return b;
}

function run(t: ExecutionContext, url: string, stateDir: string, extra: string[] = []): DaemonProcess {
  const d = spawnDaemon([
    '--source',
    clip,
    '--source-loop',
    '--classifier-model',
    testModel() ?? '',
    '--device-id',
    'restart',
    '--mqtt-url',
    url,
    '--mqtt-protocol-version',
    '4',
    '--mqtt-discovery',
    'false',
    '--mqtt-stats-interval-s',
    '1',
    '--system-state-dir',
    stateDir,
    ...extra,
  ]);
  t.teardown(() => void d.child.kill('SIGKILL'));
  return d;
}

/** Messages on `topic` since index `from` of the subscriber's list. */
function jsonSince(sub: Subscriber, topic: string, from: number): unknown[] {
  return sub.messages
    .slice(from)
    .filter((m) => m.topic === topic && m.payload.length > 0)
    .map((m) => JSON.parse(m.text) as unknown);
}

function framesProcessed(sub: Subscriber, from: number): number[] {
  return jsonSince(sub, `${ROOT}/stats`, from).map((s) => (s as { frames_processed: number }).frames_processed);
}

testUnless(noRun, { serial: true })(
  'a pause set over MQTT survives a restart: the next run starts paused, says so, and processes no frame until resumed',
  async (t) => {
    const b = await broker(t);
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-restart-'));
    const sub = await subscribe(b.url, [`${ROOT}/#`]);
    t.teardown(() => sub.end());
    const online = (from: number) => jsonSince(sub, `${ROOT}/availability`, from).some((a) => (a as { state: string }).state === 'online');

    const first = run(t, b.url, stateDir);
    await waitUntil(() => online(0) && jsonSince(sub, `${ROOT}/paused`, 0).length > 0, 60_000, `the first run online\n${first.stderr().slice(-2000)}`);
    await waitUntil(() => framesProcessed(sub, 0).some((n) => n > 0), 30_000, 'frames processed by the first run');
    await sub.client.publishAsync(`${ROOT}/set`, '{"paused":true}', { qos: 1 });
    await waitUntil(() => jsonSince(sub, `${ROOT}/paused`, 0).some((p) => (p as { paused: boolean }).paused), 10_000, 'paused');
    t.is(await first.stop(), 0, first.stderr().slice(-2000));

    const mark = sub.messages.length;
    const second = run(t, b.url, stateDir);
    await waitUntil(
      () =>
        online(mark) &&
        jsonSince(sub, `${ROOT}/paused`, mark).length > 0 &&
        jsonSince(sub, `${ROOT}/camera`, mark).some((c) => (c as { state: string }).state === 'online'),
      60_000,
      `the second run online with its camera\n${second.stderr().slice(-2000)}`,
    );
    await waitUntil(() => framesProcessed(sub, mark).length >= 4, 15_000, 'four stats messages of the second run');
    t.deepEqual(jsonSince(sub, `${ROOT}/paused`, mark), [{ paused: true }], 'the retained pause is not overwritten with false');
    t.true(
      framesProcessed(sub, mark).every((n) => n === 0),
      `no frame processed while paused: ${framesProcessed(sub, mark).join(', ')}`,
    );
    t.true(
      second.logs().some((l) => String(l['msg']).startsWith('paused, as the last run was')),
      'the log says why',
    );
    t.like(JSON.parse(fs.readFileSync(path.join(stateDir, 'paused.json'), 'utf8')) as object, { paused: true }, 'kept in the state directory');

    // Resumed, it works, and the resume is kept too.
    await sub.client.publishAsync(`${ROOT}/set`, '{"paused":false}', { qos: 1 });
    await waitUntil(() => framesProcessed(sub, mark).some((n) => n > 0), 30_000, 'frames processed once resumed');
    t.is(await second.stop(), 0);
    t.like(JSON.parse(fs.readFileSync(path.join(stateDir, 'paused.json'), 'utf8')) as object, { paused: false });
  },
);

testUnless(noRun, { serial: true })('a retained room of an earlier run with other privacy settings is replaced when the next run connects', async (t) => {
  const b = await broker(t);
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-restart-'));
  const sub = await subscribe(b.url, [`${ROOT}/room`]);
  t.teardown(() => sub.end());
  const first = run(t, b.url, stateDir, ['--privacy-min-faces', '1', '--events-room-interval-s', '1']);
  await waitUntil(
    () => (sub.json(`${ROOT}/room`) as RoomSummary[]).some((r) => r.faces === 1 && r.dominant !== null && !r.withheld),
    60_000,
    `a room summary with one person's mood\n${first.stderr().slice(-2000)}`,
  );
  t.is(await first.stop(), 0);
  const late = await subscribe(b.url, [`${ROOT}/room`]);
  await late.waitFor((m) => m.length > 0, 5000, 'the retained room');
  t.like(late.json(`${ROOT}/room`)[0] as object, { withheld: false, min_faces: 1 }, 'what the first run left retained');
  await late.end();

  // Second run: no per-face data, min_faces 3, a summary only once a day.
  const availability = await subscribe(b.url, [`${ROOT}/availability`]);
  t.teardown(() => availability.end());
  const second = run(t, b.url, stateDir, ['--no-privacy-per-face', '--privacy-min-faces', '3', '--events-room-interval-s', '86400']);
  t.teardown(() => void second.stop());
  const online = (): boolean => (availability.json(`${ROOT}/availability`) as Array<{ state: string }>).at(-1)?.state === 'online';
  await waitUntil(online, 60_000, `the second run online on the broker\n${second.stderr().slice(-2000)}`);
  const after = await subscribe(b.url, [`${ROOT}/room`]);
  t.teardown(() => after.end());
  await after.waitFor((m) => (after.json(`${ROOT}/room`) as RoomSummary[]).some((r) => r.min_faces === 3), 5000, 'a room summary under min_faces 3');
  t.like((after.json(`${ROOT}/room`) as RoomSummary[]).at(-1), { min_faces: 3, dominant: null, withheld: false, faces: 0 });
  // What a dashboard or Home Assistant that connects now gets: this run's room, not the earlier run's mood.
  const now = await subscribe(b.url, [`${ROOT}/room`]);
  t.teardown(() => now.end());
  await now.waitFor((m) => m.length > 0, 5000, 'the retained room');
  const retained = now.json(`${ROOT}/room`) as RoomSummary[];
  t.is(retained.length, 1);
  t.like(retained[0], { min_faces: 3, dominant: null });
  t.true(now.messages[0]?.retain);
});
