// Nothing lost across a broker outage: the broker goes away while the "daemon" keeps producing events at a
// steady rate, comes back on the same port, and a QoS 1 subscriber gets every event exactly once, in order.
// The outage lasts EMOTIOND_OUTAGE_S seconds (default 5); `EMOTIOND_OUTAGE_S=60 npx ava test/publish-outage.test.ts`
// runs the full 60 s target.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { MqttPublisher } from '../src/mqtt/mqtt-publisher.js';
import { topicsFor } from '../src/contract/topics.js';
import {
  assertSchema,
  captureLogger,
  eventIds,
  gate,
  makeEvent,
  makeFace,
  makeRoom,
  sleep,
  startBroker,
  subscribe,
  testConfig,
  waitUntil,
} from './publish-helpers.js';

const OUTAGE_S = Number(process.env['EMOTIOND_OUTAGE_S'] ?? 5);
const RATE_HZ = 50;

test(`broker outage of ${OUTAGE_S} s while events flow: 0 lost, 0 duplicated, in order; state comes back`, async (t) => {
  t.timeout((OUTAGE_S + 30) * 1000);
  const topics = topicsFor('emotiond', 'testcam');
  let broker = await startBroker();
  const port = broker.port;
  t.teardown(() => broker.stop());
  const subId = 'outage_subscriber';
  const sub = await subscribe(broker.url, [topics.events], { clientId: subId, reconnectPeriod: 100 });
  t.teardown(() => sub.end());
  const log = captureLogger();
  // With a queue file: the append log takes the outage's events and its acknowledgements as they come back.
  const config = testConfig(broker.url, { queue_file: 'outbox.jsonl' });
  const queueFile = path.join(config.system.state_dir, 'outbox.jsonl');
  const pub = new MqttPublisher({ config, logger: log.logger, version: '1', reconnect: { minMs: 100, maxMs: 400 } });
  t.teardown(() => pub.stop());
  await pub.start();
  await pub.whenConnected();
  pub.room(makeRoom());

  let produced = 0;
  let hold = false;
  const producer = setInterval(() => {
    if (!hold) pub.event(makeEvent(produced++));
  }, 1000 / RATE_HZ);
  t.teardown(() => clearInterval(producer));
  await sleep(1000);

  // Stop the broker once everything produced so far has reached the subscriber (production held for a
  // moment), so that a message lost inside the dying broker, which keeps no state, cannot be mistaken for
  // one the publisher lost.
  hold = true;
  await waitUntil(() => pub.health().queue_length === 0 && eventIds(sub).length === produced, 5000, 'a quiet moment');
  const beforeOutage = produced;
  await broker.stop();
  hold = false;
  const outageStart = Date.now();
  await waitUntil(() => !pub.connected, 2000, 'publisher notices');
  await sleep(OUTAGE_S * 1000);
  const queuedDuringOutage = pub.health().queue_length;
  await waitUntil(() => fs.existsSync(queueFile), 3000, 'the queue file');
  t.true(queuedDuringOutage >= OUTAGE_S * RATE_HZ * 0.5, `queued ${queuedDuringOutage} during the outage`);
  t.is(pub.health().queue_dropped, 0);

  // Back on the same port. The publisher is held off until the subscriber has subscribed again, so the
  // subscriber is there to receive the flushed queue (the broker keeps no sessions across its restart).
  broker = await startBroker(port);
  const door = gate(broker);
  broker.aedes.on('subscribe', (_subs, client) => {
    if (client.id === subId) door.open();
  });
  await pub.whenConnected();
  await waitUntil(() => pub.connected, 10_000, 'publisher reconnects');
  const outageMs = Date.now() - outageStart;
  await sleep(1000);
  clearInterval(producer);
  const total = produced;
  await sub.waitFor(() => eventIds(sub).length >= total, 10_000, `${total} events`);
  await sub.roundTrip(topics.root); // everything the publisher sent before has arrived

  const ids = eventIds(sub);
  t.is(ids.length, total, 'every event exactly once');
  t.deepEqual(
    ids,
    Array.from({ length: total }, (_, i) => i),
    'in order',
  );
  t.true(total - beforeOutage >= queuedDuringOutage);
  t.like(pub.health(), { queue_length: 0, queue_dropped: 0, reconnects: 1 });
  for (const m of sub.messages) assertSchema(t, m, topics.root);

  // Retained state was re-published to the restarted broker, which kept none.
  const late = await subscribe(broker.url, [topics.availability, topics.room]);
  t.teardown(() => late.end());
  await late.waitFor((m) => m.length === 2, 3000, 'retained availability and room');
  t.deepEqual(late.json(topics.availability), [{ state: 'online' }]);
  t.is((late.json(topics.room)[0] as { faces: number }).faces, 2);
  await pub.stop();
  t.false(fs.existsSync(queueFile), 'everything delivered: no queue file left');
  t.is(log.count('warn', 'queue file cannot be written'), 0);
  t.log(`outage ${outageMs} ms, ${total} events, ${queuedDuringOutage} queued during the outage`);
});

for (const qos of [1, 0] as const) {
  test(`connection dropped in the middle of a burst (QoS ${qos}): the publisher does not stall, order kept${qos === 1 ? ', no event lost' : ''}`, async (t) => {
    const topics = topicsFor('emotiond', 'testcam');
    const broker = await startBroker();
    t.teardown(() => broker.stop());
    const sub = await subscribe(broker.url, [topics.events]);
    t.teardown(() => sub.end());
    const pub = new MqttPublisher({
      config: testConfig(broker.url, { qos }),
      logger: captureLogger().logger,
      version: '1',
      reconnect: { minMs: 100, maxMs: 200 },
    });
    t.teardown(() => pub.stop());
    await pub.start();
    await pub.whenConnected();
    const N = 3000;
    for (let i = 0; i < N; i++) pub.event(makeEvent(i));
    // QoS 0 counts an event as delivered once handed to the client, so its drop comes before any I/O.
    if (qos === 1) await waitUntil(() => pub.health().delivered >= 200, 5000, 'part of the burst delivered');
    const clients = (broker.aedes as unknown as { clients: Record<string, { conn: { destroy(): void } }> }).clients;
    clients['emotiond_testcam']?.conn.destroy();
    const droppedAt = pub.health().delivered;
    if (qos === 1) t.true(droppedAt < N, `dropped after ${droppedAt} of ${N}`);
    await waitUntil(() => pub.health().reconnects === 1 && pub.health().queue_length === 0, 10_000, 'queue drained after the reconnect');
    pub.event(makeEvent(N));
    await sub.waitFor(() => eventIds(sub).includes(N), 5000, 'an event after the drop');
    await sub.roundTrip(topics.root); // everything the publisher sent before has arrived
    const ids = eventIds(sub);
    const firsts = ids.filter((id, i) => ids.indexOf(id) === i);
    if (qos === 1) {
      t.deepEqual(
        firsts,
        Array.from({ length: N + 1 }, (_, i) => i),
        'every event, first seen in order',
      );
      // Only what was in flight at the drop may come twice (QoS 1 is at least once).
      t.true(ids.length - firsts.length <= 64, `${ids.length - firsts.length} duplicates`);
      t.log(`${ids.length - firsts.length} duplicates after a drop at ${droppedAt}`);
    } else {
      t.is(ids.length, firsts.length, 'QoS 0 never sends twice');
      const bad = firsts.findIndex((id, i) => i > 0 && id < firsts[i - 1]!);
      t.is(bad, -1, `in order; around ${bad}: ${firsts.slice(Math.max(0, bad - 5), bad + 5).join(',')} (dropped at ${droppedAt})`);
    }
  });
}

test('a congested connection (the broker stops reading): QoS 0 events wait in the bounded queue and face states are held, not written into the socket; once it drains the events go out in order, and each face its latest state', async (t) => {
  const topics = topicsFor('emotiond', 'testcam');
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sub = await subscribe(broker.url, [topics.events, topics.face(1), topics.face(2), topics.face(3)]);
  t.teardown(() => sub.end());
  const pub = new MqttPublisher({
    config: testConfig(broker.url, { qos: 0, queue_max: 2000, face_interval_s: 0 }),
    logger: captureLogger().logger,
    version: '1',
  });
  t.teardown(() => pub.stop());
  await pub.start();
  await pub.whenConnected();
  const clients = (broker.aedes as unknown as { clients: Record<string, { conn: { pause(): void; resume(): void } }> }).clients;
  const conn = clients['emotiond_testcam']?.conn;
  if (!conn) return t.fail('no broker-side connection for the publisher');
  const socket = (pub as unknown as { link: { client: { stream: NodeJS.EventEmitter } } }).link.client.stream;
  conn.pause();
  // Events until the kernel's buffers are full and the connection pushes back: then they wait in the queue.
  let n = 0;
  while (pub.health().queue_length === 0 && n < 300_000) {
    for (let k = 0; k < 500; k++) pub.event(makeEvent(n++));
    await sleep(1);
  }
  t.true(pub.health().queue_length > 0, `after ${n} events the connection still takes them`);
  for (let k = 0; k < 5000; k++) pub.event(makeEvent(n++));
  const stalled = pub.health();
  t.log(`congested after ${n - 5000} events; then ${stalled.queue_length} waiting, ${stalled.queue_dropped} dropped`);
  t.true(stalled.queue_length <= 2000, `${stalled.queue_length} waiting: mqtt.queue_max bounds them`);
  t.true(stalled.queue_dropped >= 3000, `${stalled.queue_dropped} dropped, the oldest first, and counted`);
  // Face states (retained, QoS 1) meanwhile: each face's latest is held for when the connection drains.
  for (let k = 0; k < 300; k++) for (const track of [1, 2, 3]) pub.face(makeFace(track, k));
  t.true(socket.listenerCount('drain') <= 3, `${socket.listenerCount('drain')} drain listeners after 900 face states`);
  t.true(socket.listenerCount('drain') <= 3, `${socket.listenerCount('drain')} drain listeners on the socket: one wait, not one per event`);
  conn.resume();
  await waitUntil(() => pub.health().queue_length === 0, 30_000, 'the queue drained');
  pub.event(makeEvent(n));
  await sub.waitFor(() => eventIds(sub).includes(n), 10_000, 'the last event');
  const ids = eventIds(sub);
  t.is(
    ids.findIndex((id, i) => i > 0 && id <= ids[i - 1]!),
    -1,
    'in order, none twice',
  );
  // The 2000 that waited in the queue when the connection drained all arrived, after everything the socket held.
  t.deepEqual(
    ids.slice(-2001),
    Array.from({ length: 2001 }, (_, i) => n - 2000 + i),
  );
  await sub.waitFor(() => [1, 2, 3].every((track) => sub.on(topics.face(track)).length > 0), 5000, 'the face states');
  await sub.roundTrip(topics.root);
  for (const track of [1, 2, 3]) {
    const states = sub.json(topics.face(track)) as Array<{ box: { x: number } }>;
    t.deepEqual(
      states.map((s) => s.box.x),
      [299],
      `faces/${track}: its latest state only`,
    );
  }
});
