// The MQTT contract against a real broker (aedes in-process): topics, retained state, availability and
// its Last Will, stats, start with no broker, stop, credentials.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import mqtt from 'mqtt';
import { MqttPublisher } from '../src/mqtt/mqtt-publisher.js';
import { topicsFor } from '../src/contract/topics.js';
import { EmotiondError } from '../src/errors.js';
import { passwordPath } from '../src/system/credentials.js';
import { HostHealth } from '../src/system/host-health.js';
import {
  assertSchema,
  captureLogger,
  fakeControl,
  makeCamera,
  makeEvent,
  makeFace,
  makeRoom,
  retainedTopics,
  sleep,
  startBroker,
  subscribe,
  testConfig,
  tmpDir,
  waitUntil,
} from './publish-helpers.js';

const FAST = { minMs: 100, maxMs: 200 };

test('publishes availability, events and retained state on the documented topics; all validate', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const topics = topicsFor('emotiond', 'testcam');
  const sub = await subscribe(broker.url, ['emotiond/testcam/#']);
  t.teardown(() => sub.end());
  const log = captureLogger();
  const pub = new MqttPublisher({ config: testConfig(broker.url), logger: log.logger, version: '9.9.9', control: fakeControl(), reconnect: FAST });
  t.teardown(() => pub.stop());
  await pub.start();
  await pub.whenConnected();
  t.true(pub.connected);
  for (let i = 0; i < 6; i++) pub.event(makeEvent(i));
  const room = makeRoom();
  pub.room(room);
  pub.camera(makeCamera());
  pub.face(makeFace(3, 1));
  pub.faceCleared('testcam', 3);
  pub.publishStats();
  await sub.waitFor(
    (m) => m.filter((x) => x.topic === topics.events).length === 6 && m.some((x) => x.topic === topics.face(3) && x.payload.length === 0),
    5000,
  );
  await sub.waitFor((m) => m.some((x) => x.topic === topics.stats) && m.some((x) => x.topic === topics.paused));

  t.deepEqual(sub.json(topics.availability), [{ state: 'online' }]);
  t.deepEqual(
    sub.json(topics.events).map((e) => (e as { id: string }).id),
    [0, 1, 2, 3, 4, 5].map((i) => `testcam-boot-${i}`),
  );
  t.true(sub.on(topics.events).every((m) => m.qos === 1 && !m.retain));
  t.like(
    sub.json(topics.room)[0],
    { faces: 0, dominant: null, withheld: false, min_faces: 1 },
    'at connect, an empty summary replaces whatever an earlier run left retained',
  );
  t.deepEqual(sub.json(topics.room)[1], JSON.parse(JSON.stringify(room)) as unknown, 'room payload is the summary as is');
  t.is((sub.json(topics.camera)[0] as { state: string }).state, 'online');
  t.is((sub.json(topics.face(3))[0] as { track: number }).track, 3);
  t.deepEqual(sub.json(topics.paused), [{ paused: false }]);
  for (const m of sub.messages) assertSchema(t, m, topics.root);

  // Retained: a client that comes later gets availability, room, camera, stats, paused but no cleared face.
  const late = await subscribe(broker.url, ['emotiond/testcam/#']);
  t.teardown(() => late.end());
  await late.settle();
  t.deepEqual(late.messages.map((m) => m.topic).sort(), [topics.availability, topics.camera, topics.paused, topics.room, topics.stats].sort());
  t.true(late.messages.every((m) => m.retain));

  await pub.stop();
  await sub.waitFor((m) => sub.json(topics.availability).length === 2);
  t.deepEqual(sub.json(topics.availability), [{ state: 'online' }, { state: 'offline' }]);
  t.false(pub.connected);
  t.is(log.count('error'), 0);
  await Promise.all([sub.end(), late.end()]);
  await broker.stop();
});

test('start() with the broker down resolves, keeps retrying, and connects once the broker is up', async (t) => {
  const probe = await startBroker();
  t.teardown(() => probe.stop());
  const port = probe.port;
  await probe.stop();
  const log = captureLogger();
  const pub = new MqttPublisher({ config: testConfig(`mqtt://127.0.0.1:${port}`), logger: log.logger, version: '1', reconnect: FAST });
  t.teardown(() => pub.stop());
  await t.notThrowsAsync(pub.start());
  let readyAt = 0;
  void pub.whenConnected().then(() => (readyAt = Date.now()));
  await waitUntil(() => pub.connectFailures >= 3, 5000, 'three refused attempts');
  t.false(pub.connected);
  t.is(readyAt, 0);
  t.true(pub.lastError instanceof EmotiondError);
  t.regex(pub.lastError?.message ?? '', /ECONNREFUSED/);
  // One warn line for the repeated refusal, not one per attempt.
  t.is(log.lines.filter((l) => l['msg'] === 'MQTT connection error; retrying' && l['level'] === 40).length, 1);
  pub.event(makeEvent(1));
  const broker = await startBroker(port);
  t.teardown(() => broker.stop());
  const sub = await subscribe(broker.url, ['emotiond/testcam/events']);
  t.teardown(() => sub.end());
  await pub.whenConnected();
  t.true(readyAt > 0);
  t.is(pub.lastError, undefined);
  await sub.waitFor((m) => m.length === 1);
  t.is((sub.json('emotiond/testcam/events')[0] as { id: string }).id, 'testcam-boot-1');
  await pub.stop();
  await sub.end();
  await broker.stop();
});

test('Last Will: a dropped connection shows offline; online again after the reconnect', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const topics = topicsFor('emotiond', 'testcam');
  const sub = await subscribe(broker.url, [topics.availability]);
  t.teardown(() => sub.end());
  const pub = new MqttPublisher({ config: testConfig(broker.url), logger: captureLogger().logger, version: '1', reconnect: FAST });
  t.teardown(() => pub.stop());
  let connects = 0;
  pub.onConnect(() => (connects += 1));
  await pub.start();
  await sub.waitFor(() => sub.json(topics.availability).length === 1);
  // Drop the publisher's socket from the broker side: no DISCONNECT, so the broker sends the will.
  const clients = (broker.aedes as unknown as { clients: Record<string, { conn: { destroy(): void } }> }).clients;
  const client = clients['emotiond_testcam'];
  t.truthy(client, 'publisher is connected with the default client id emotiond_<device>');
  client?.conn.destroy();
  await sub.waitFor(() => sub.json(topics.availability).length === 3, 5000, 'offline then online');
  t.deepEqual(sub.json(topics.availability), [{ state: 'online' }, { state: 'offline' }, { state: 'online' }]);
  t.is(connects, 2);
  for (const m of sub.messages) assertSchema(t, m, topics.root);
  t.is(pub.health().reconnects, 1);
  await pub.stop();
  await sub.end();
  await broker.stop();
});

test('faces are published at most once per face_interval_s, the latest state is never lost', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const topics = topicsFor('emotiond', 'testcam');
  const sub = await subscribe(broker.url, [topics.facesFilter]);
  t.teardown(() => sub.end());
  const pub = new MqttPublisher({ config: testConfig(broker.url, { face_interval_s: 0.3 }), logger: captureLogger().logger, version: '1', reconnect: FAST });
  t.teardown(() => pub.stop());
  await pub.start();
  await pub.whenConnected();
  const t0 = Date.now();
  // 20 updates over ~0.5 s for track 1, one for track 2.
  for (let n = 1; n <= 20; n++) {
    pub.face(makeFace(1, n));
    if (n === 1) pub.face(makeFace(2, 1));
    await sleep(25);
  }
  await sub.waitFor((m) => m.some((x) => x.topic === topics.face(1) && (JSON.parse(x.text) as { box: { x: number } }).box.x === 20), 3000, 'last face state');
  const elapsed = Date.now() - t0;
  const xs = sub.json(topics.face(1)).map((f) => (f as { box: { x: number } }).box.x);
  t.true(xs.length <= Math.ceil(elapsed / 300) + 1, `${xs.length} messages in ${elapsed} ms`);
  t.true(xs.length >= 2);
  t.is(xs[0], 1);
  t.is(xs.at(-1), 20, 'the trailing state is sent when the interval is up');
  t.is(sub.json(topics.face(2)).length, 1);
  for (const m of sub.messages) assertSchema(t, m, topics.root);
  pub.faceCleared('testcam', 1);
  await sub.waitFor((m) => m.some((x) => x.topic === topics.face(1) && x.payload.length === 0));
  const late = await subscribe(broker.url, [topics.facesFilter]);
  t.teardown(() => late.end());
  await late.settle();
  t.deepEqual(
    late.messages.map((m) => m.topic),
    [topics.face(2)],
    'the cleared face has no retained state left',
  );
  await pub.stop();
  await Promise.all([sub.end(), late.end()]);
  await broker.stop();
});

test('stats: the daemon health, host figures and the MQTT part, on the timer', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const topics = topicsFor('emotiond', 'testcam');
  const sub = await subscribe(broker.url, [topics.stats]);
  t.teardown(() => sub.end());
  const config = testConfig(broker.url, { stats_interval_s: 1 });
  const pub = new MqttPublisher({ config, logger: captureLogger().logger, version: '2.3.4', control: fakeControl({ fps: 12.5 }), reconnect: FAST });
  t.teardown(() => pub.stop());
  await pub.start();
  await sub.waitFor((m) => m.length >= 2, 4000, 'connect stats plus one timer tick');
  const stats = sub.json(topics.stats).at(-1) as Record<string, unknown>;
  t.is(stats['device'], 'testcam');
  t.is(stats['version'], '2.3.4');
  t.is(stats['fps'], 12.5);
  t.is(stats['frames_in'], 100);
  t.is(stats['paused'], false);
  t.is(typeof stats['rss_mb'], 'number');
  t.true((stats['rss_mb'] as number) > 10);
  const memory = stats['memory'] as { rss_mb: number; anon_mb: number; file_mb: number };
  t.true(memory.anon_mb > 5 && memory.file_mb > 5, `anonymous and file-backed memory apart: ${JSON.stringify(memory)}`);
  t.true(Math.abs(memory.anon_mb + memory.file_mb - memory.rss_mb) <= 0.2, 'the parts add up to the resident set');
  t.is(typeof stats['cpu_percent'], 'number');
  t.true('temperature_c' in stats);
  const hasThermal = fs.existsSync('/sys/class/thermal/thermal_zone0/temp');
  t.is(stats['temperature_c'] === null, !hasThermal);
  t.like(stats['mqtt'] as object, { connected: true, queue_length: 0, queue_dropped: 0, reconnects: 0 });
  for (const m of sub.messages) assertSchema(t, m, topics.root);
  await pub.stop();
  await sub.end();
  await broker.stop();
});

test('credentials: password from a file and from $CREDENTIALS_DIRECTORY; wrong password retried; never logged', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const seen: string[] = [];
  broker.aedes.authenticate = (_client, username, password, done) => {
    seen.push(`${username ?? ''}:${password?.toString() ?? ''}`);
    const ok = username === 'cam' && password?.toString() === 's3cret-pw';
    done(ok ? null : Object.assign(new Error('bad'), { returnCode: 4 as const }), ok);
  };
  const dir = tmpDir();
  fs.writeFileSync(path.join(dir, 'pw'), 's3cret-pw\n');
  fs.writeFileSync(path.join(dir, 'mqtt-password'), 's3cret-pw');
  fs.writeFileSync(path.join(dir, 'wrong'), 'nope');

  const log = captureLogger('trace');
  const a = new MqttPublisher({
    config: testConfig(broker.url, { username: 'cam', password_file: path.join(dir, 'pw') }),
    logger: log.logger,
    version: '1',
    reconnect: FAST,
  });
  t.teardown(() => a.stop());
  await a.start();
  await a.whenConnected();
  await a.stop();

  const env = { CREDENTIALS_DIRECTORY: dir };
  t.is(passwordPath('mqtt-password', env), path.join(dir, 'mqtt-password'));
  t.is(passwordPath('/etc/x/pw', env), '/etc/x/pw');
  const b = new MqttPublisher({
    config: testConfig(broker.url, { username: 'cam', password_file: 'mqtt-password', client_id: 'b' }),
    logger: log.logger,
    version: '1',
    env,
    reconnect: FAST,
  });
  t.teardown(() => b.stop());
  await b.start();
  await b.whenConnected();
  await b.stop();

  const c = new MqttPublisher({
    config: testConfig(broker.url, { username: 'cam', password_file: 'wrong', client_id: 'c' }),
    logger: log.logger,
    version: '1',
    env,
    reconnect: FAST,
  });

  t.teardown(() => c.stop());
  await c.start();
  await waitUntil(() => seen.filter((s) => s === 'cam:nope').length >= 2, 3000, 'retries with the wrong password');
  t.false(c.connected);
  t.regex(c.lastError?.message ?? '', /Bad username or password|Not authorized/i);
  await c.stop();

  const missing = new MqttPublisher({ config: testConfig(broker.url, { password_file: path.join(dir, 'absent') }), logger: log.logger, version: '1' });

  t.teardown(() => missing.stop());
  const err = await t.throwsAsync(missing.start());
  t.true(err instanceof EmotiondError && err.code === 'EMD_SECRET_FILE');

  t.deepEqual([...new Set(seen)].sort(), ['cam:nope', 'cam:s3cret-pw']);
  const allLogs = JSON.stringify(log.lines);
  t.false(allLogs.includes('s3cret-pw'), 'the password never reaches the log');
  t.true(log.lines.length > 5);
  await broker.stop();
});

test('embedded broker: MQTT over WebSocket, and stop() closes every client socket', async (t) => {
  const login = { username: 'kiosk', password: 'ws-pw' };
  const broker = await startBroker(0, 'auto', login);
  t.teardown(() => broker.stop());
  t.true(broker.wsPort > 0);
  const ws = mqtt.connect(`ws://127.0.0.1:${broker.wsPort}`, { reconnectPeriod: 0, ...login });
  ws.on('error', () => undefined);
  const wsConnected = new Promise<void>((r) => ws.once('connect', () => r()));
  const tcp = await subscribe(broker.url, ['x/#'], { reconnectPeriod: 0, ...login });
  t.teardown(() => tcp.end());
  await wsConnected;
  await ws.publishAsync('x/y', 'over-ws', { qos: 1 });
  await tcp.waitFor((m) => m.length === 1);
  t.is(tcp.messages[0]?.text, 'over-ws');
  let wsClosed = false;
  let tcpClosed = false;
  ws.once('close', () => (wsClosed = true));
  tcp.client.once('close', () => (tcpClosed = true));
  const t0 = Date.now();
  await broker.stop();
  await waitUntil(() => wsClosed && tcpClosed, 3000, 'clients closed');
  t.true(Date.now() - t0 < 3000);
  ws.end(true);
  await tcp.end();
  // The ports are free again.
  const again = await startBroker(broker.port);
  t.teardown(() => again.stop());
  t.is(again.port, broker.port);
  await again.stop();
});

test('mqtt.embedded: the publisher connects to the embedded broker with MQTT 3.1.1 whatever the url and protocol say', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  let protocol = 0;
  broker.aedes.on('client', (client) => (protocol = client.version));
  const config = testConfig('mqtt://unreachable.invalid:1', { embedded: true, embedded_host: '0.0.0.0', embedded_port: broker.port, protocol_version: 5 });
  const pub = new MqttPublisher({ config, logger: captureLogger().logger, version: '1', reconnect: FAST });
  t.teardown(() => pub.stop());
  await pub.start();
  await pub.whenConnected();
  t.is(protocol, 4);
});

test('host health: temperature from a thermal zone file (millidegrees), null without one', (t) => {
  const dir = tmpDir();
  const zone = path.join(dir, 'temp');
  fs.writeFileSync(zone, '48312\n');
  t.is(new HostHealth(zone).temperatureC(), 48.3);
  t.is(new HostHealth(path.join(dir, 'absent')).temperatureC(), null);
  const snap = new HostHealth(zone).snapshot();
  t.is(snap['temperature_c'], 48.3);
  t.true((snap['rss_mb'] as number) > 0);
});

test('a broker without MQTT 5 refuses protocol_version 5: the publisher falls back to 3.1.1 and connects', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const log = captureLogger();
  const pub = new MqttPublisher({ config: testConfig(broker.url, { protocol_version: 5 }), logger: log.logger, version: '1', reconnect: FAST });
  t.teardown(() => pub.stop());
  await pub.start();
  await pub.whenConnected();
  t.true(pub.connected);
  t.is(pub.protocolVersion, 4, 'fell back to MQTT 3.1.1');
});

test('faces left retained by an earlier run are cleared after connecting; our own are kept', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const topics = topicsFor('emotiond', 'testcam');
  const other = await subscribe(broker.url, ['nothing']);
  t.teardown(() => other.end());
  await other.client.publishAsync(topics.face(97), JSON.stringify(makeFace(97, 1)), { qos: 1, retain: true });
  await other.client.publishAsync(topics.face(98), JSON.stringify(makeFace(98, 1)), { qos: 1, retain: true });
  const pub = new MqttPublisher({ config: testConfig(broker.url), logger: captureLogger().logger, version: '1', reconnect: FAST });
  t.teardown(() => pub.stop());
  // Track 98 is alive in this run too (published while still offline): it must survive the sweep.
  pub.face(makeFace(98, 5));
  await pub.start();
  await pub.whenConnected();
  // The sweep runs when the stale retained faces reach the publisher: poll the broker's retained store for it.
  let left: string[] = [];
  for (const end = Date.now() + 5000; Date.now() < end; await sleep(50)) {
    left = await retainedTopics(broker.url, topics.facesFilter);
    if (!left.includes(topics.face(97))) break;
  }
  t.deepEqual(left, [topics.face(98)]);
  const late = await subscribe(broker.url, [topics.facesFilter]);
  t.teardown(() => late.end());
  await late.settle();
  t.deepEqual(
    late.messages.map((m) => m.topic),
    [topics.face(98)],
  );
  t.is((late.json(topics.face(98))[0] as { box: { x: number } }).box.x, 5, 'the state of this run, not the stale one');
});
