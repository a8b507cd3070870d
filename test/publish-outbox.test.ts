// The event outbox: bounded, ordered, counted, and kept on disk across restarts when configured.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { Outbox } from '../src/outbox/outbox.js';
import { parseQueue } from '../src/outbox/queue-file.js';
import { MqttPublisher } from '../src/mqtt/mqtt-publisher.js';
import { assertSchema, captureLogger, eventIds, gate, makeEvent, startBroker, subscribe, testConfig, tmpDir, waitUntil } from './publish-helpers.js';

const FAST = { minMs: 100, maxMs: 200 };
const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);

test('outbox: past max the oldest waiting events are dropped and counted; order is kept', (t) => {
  const box = new Outbox({ max: 5, logger: captureLogger().logger });
  for (let i = 0; i < 8; i++) box.push(`"e${i}"`);
  t.is(box.length, 5);
  t.is(box.dropped, 3);
  t.deepEqual(box.snapshot(), ['"e3"', '"e4"', '"e5"', '"e6"', '"e7"']);
  const sent = box.take(2);
  t.deepEqual(
    sent.map((s) => s.payload),
    ['"e3"', '"e4"'],
  );
  t.is(box.inflightCount, 2);
  // In-flight events cannot be recalled, so the next drops come from the waiting ones.
  box.push('"e8"');
  box.push('"e9"');
  t.is(box.dropped, 5);
  t.deepEqual(box.snapshot(), ['"e3"', '"e4"', '"e7"', '"e8"', '"e9"']);
  box.ack(sent[1]!);
  box.ack(sent[1]!);
  t.is(box.delivered, 1, 'a second ack of the same event is not counted');
  t.deepEqual(box.snapshot(), ['"e3"', '"e7"', '"e8"', '"e9"']);
  t.is(box.length, 4);
});

test('outbox: a long outage (100k pushes, max 10k) stays bounded and keeps the newest', (t) => {
  const box = new Outbox({ max: 10_000, logger: captureLogger().logger });
  for (let i = 0; i < 100_000; i++) box.push(String(i));
  t.is(box.length, 10_000);
  t.is(box.dropped, 90_000);
  const all = box.take(20_000).map((x) => Number(x.payload));
  t.is(all.length, 10_000);
  t.is(all[0], 90_000);
  t.is(all.at(-1), 99_999);
  t.true(all.every((v, i) => i === 0 || v === (all[i - 1] ?? 0) + 1));
});

test('outbox: the queue file is written atomically, loaded (bad lines skipped, bounded) and removed when empty', async (t) => {
  const dir = tmpDir();
  const file = path.join(dir, 'sub', 'queue.jsonl');
  const log = captureLogger();
  const a = new Outbox({ max: 100, file, logger: log.logger, persistDelayMs: 20 });
  for (let i = 0; i < 10; i++) a.push(JSON.stringify({ n: i }));
  await waitUntil(() => fs.existsSync(file), 5000, 'queue file');
  await a.persist();
  t.deepEqual(
    fs
      .readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { n: number }).n),
    range(0, 10),
  );
  t.deepEqual(fs.readdirSync(path.dirname(file)), ['queue.jsonl'], 'no temp file left behind');
  t.is(fs.statSync(file).mode & 0o777, 0o600);

  fs.appendFileSync(file, 'not json\n{"n":10}\n');
  const b = new Outbox({ max: 5, file, logger: log.logger, persistDelayMs: 20 });
  t.is(b.load(), 11);
  t.is(log.lines.filter((l) => l['bad'] === 1).length, 1);
  t.is(b.length, 5);
  t.deepEqual(
    b.snapshot().map((l) => (JSON.parse(l) as { n: number }).n),
    [6, 7, 8, 9, 10],
  );
  for (const item of b.take(5)) b.ack(item);
  await b.persist();
  t.false(fs.existsSync(file), 'delivered events are deleted: an empty queue leaves no file');

  const c = new Outbox({ max: 5, file, logger: log.logger });
  t.is(c.load(), 0, 'a missing file is an empty queue');
  for (const box of [a, b, c]) await box.close();
});

test('publisher: queue_max bounds the outage queue; the newest are delivered in order; drops are in stats', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const door = gate(broker);
  const sub = await subscribe(broker.url, ['emotiond/testcam/events', 'emotiond/testcam/stats']);
  t.teardown(() => sub.end());
  const pub = new MqttPublisher({ config: testConfig(broker.url, { queue_max: 50 }), logger: captureLogger().logger, version: '1', reconnect: FAST });
  t.teardown(() => pub.stop());
  await pub.start();
  await waitUntil(() => door.refused() >= 1, 3000, 'a refused connect');
  for (let i = 0; i < 120; i++) pub.event(makeEvent(i));
  t.false(pub.connected);
  t.like(pub.health(), { queue_length: 50, queue_dropped: 70 });
  door.open();
  await pub.whenConnected();
  await sub.waitFor(() => eventIds(sub).length >= 50, 5000, '50 events');
  await sub.roundTrip('emotiond/testcam'); // everything the publisher sent before has arrived
  t.deepEqual(eventIds(sub), range(70, 120));
  for (const m of sub.messages) assertSchema(t, m, 'emotiond/testcam');
  t.like(pub.health(), { queue_length: 0, queue_dropped: 70, delivered: 50 });
  const stats = sub.json('emotiond/testcam/stats').at(-1) as { mqtt: { queue_dropped: number } };
  t.is(stats.mqtt.queue_dropped, 70);
});

test('publisher: with queue_file, undelivered events survive a restart and are then delivered once, in order', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const door = gate(broker);
  const config = testConfig(broker.url, { queue_file: 'outbox.jsonl' });
  const file = path.join(config.system.state_dir, 'outbox.jsonl');
  const sub = await subscribe(broker.url, ['emotiond/testcam/events']);
  t.teardown(() => sub.end());

  const first = new MqttPublisher({ config, logger: captureLogger().logger, version: '1', reconnect: FAST });
  t.teardown(() => first.stop());
  await first.start();
  for (let i = 0; i < 30; i++) first.event(makeEvent(i));
  // Written within a second even without a clean stop (a crash loses at most that second).
  await waitUntil(() => fs.existsSync(file), 2500, 'queue file');
  for (let i = 30; i < 40; i++) first.event(makeEvent(i));
  await first.stop(200);
  t.is(fs.readFileSync(file, 'utf8').trim().split('\n').length, 40);

  door.open();
  const second = new MqttPublisher({ config, logger: captureLogger().logger, version: '1', reconnect: FAST });
  t.teardown(() => second.stop());
  await second.start();
  t.is(second.health().queue_length, 40, 'loaded at start');
  second.event(makeEvent(40));
  await sub.waitFor(() => eventIds(sub).length >= 41, 5000, '41 events');
  await sub.roundTrip('emotiond/testcam'); // everything the publisher sent before has arrived
  t.deepEqual(eventIds(sub), range(0, 41));
  for (const m of sub.messages) assertSchema(t, m, 'emotiond/testcam');
  await second.stop();
  t.false(fs.existsSync(file), 'the file is gone once everything was delivered');
});

test('outbox: a released event waits again in its place', (t) => {
  const box = new Outbox({ max: 10, logger: captureLogger().logger });
  for (let i = 0; i < 5; i++) box.push(String(i));
  const sent = box.take(3);
  box.release(sent[1]!);
  box.release(sent[0]!);
  t.deepEqual(box.snapshot(), ['2', '0', '1', '3', '4'], 'snapshot: in flight first, then waiting');
  t.deepEqual(
    box.take(10).map((x) => x.payload),
    ['0', '1', '3', '4'],
  );
  box.release(sent[0]!);
  t.is(box.length, 5, 'nothing lost or doubled');
});

test('outbox: events pushed before load() come after the older ones from the file', async (t) => {
  const dir = tmpDir();
  const file = path.join(dir, 'q.jsonl');
  fs.writeFileSync(file, '"old1"\n"old2"\n');
  const box = new Outbox({ max: 3, file, logger: captureLogger().logger });
  box.push('"new1"', false);
  box.push('"new2"', false);
  t.is(box.load(), 2);
  t.deepEqual(box.snapshot(), ['"old2"', '"new1"', '"new2"'], 'in age order, the oldest dropped past max');
  t.is(box.dropped, 1);
  await box.close();
});

// ---- the queue file as an append log (acks and drops recorded as small markers, compacted now and then) ----

const nOf = (lines: string[]): number[] => lines.map((l) => (JSON.parse(l) as { n: number }).n);
const ev = (n: number): string => JSON.stringify({ n });
const eventIdsOf = (lines: string[]): number[] => lines.map((l) => Number((JSON.parse(l) as { id: string }).id.split('-').at(-1)));

test('outbox file: after a crash (no close) a new run loads exactly the unacknowledged events, in order', async (t) => {
  const file = path.join(tmpDir(), 'q.jsonl');
  const log = captureLogger();
  const a = new Outbox({ max: 100, file, logger: log.logger, persistDelayMs: 60_000 });
  a.load();
  for (let i = 0; i < 10; i++) a.push(ev(i));
  await a.persist();
  const sent = a.take(5);
  for (const i of [0, 1, 3]) a.ack(sent[i]!); // acknowledged out of order: 2 and 4 are still in flight
  await a.persist();
  for (let i = 10; i < 15; i++) a.push(ev(i));
  await a.persist();
  // No close(): the process died here.
  const b = new Outbox({ max: 100, file, logger: log.logger, persistDelayMs: 60_000 });
  t.is(b.load(), 12);
  t.deepEqual(nOf(b.snapshot()), [2, 4, ...range(5, 15)]);
  t.is(log.count('warn'), 0, JSON.stringify(log.lines.filter((l) => l['level'] === 40)));
  // The file handles a dead process's kernel would have closed (left to the garbage collector, Node warns).
  await b.close();
  await a.close();
});

test('outbox file: waiting events dropped behind in-flight ones stay dropped after a restart', async (t) => {
  const file = path.join(tmpDir(), 'q.jsonl');
  const a = new Outbox({ max: 5, file, logger: captureLogger().logger, persistDelayMs: 60_000 });
  for (let i = 0; i < 5; i++) a.push(ev(i));
  await a.persist();
  a.take(2);
  for (let i = 5; i < 8; i++) a.push(ev(i)); // full: 2, 3 and 4 are dropped (0 and 1 are in flight)
  t.is(a.dropped, 3);
  await a.persist();
  const b = new Outbox({ max: 5, file, logger: captureLogger().logger });
  t.is(b.load(), 5);
  t.deepEqual(nOf(b.snapshot()), [0, 1, 5, 6, 7]);
  await b.close();
  await a.close();
});

test('outbox file: a torn last line (power cut mid-write) is skipped with a warning naming the file; later writes start on a clean line', async (t) => {
  const file = path.join(tmpDir(), 'q.jsonl');
  const a = new Outbox({ max: 100, file, logger: captureLogger().logger, persistDelayMs: 60_000 });
  for (let i = 0; i < 5; i++) a.push(ev(i));
  await a.persist();
  fs.appendFileSync(file, '{"n":5,"device":"tes');
  const log = captureLogger();
  const b = new Outbox({ max: 100, file, logger: log.logger, persistDelayMs: 60_000 });
  t.is(b.load(), 5);
  const warning = log.lines.find((l) => l['level'] === 40);
  t.is(warning?.['file'], file);
  t.regex(String(warning?.['msg']), /last line/);
  b.push(ev(6));
  await b.persist();
  const c = new Outbox({ max: 100, file, logger: captureLogger().logger });
  t.is(c.load(), 6);
  t.deepEqual(nOf(c.snapshot()), [0, 1, 2, 3, 4, 6]);
  for (const box of [c, b, a]) await box.close();
});

test('outbox file: compaction keeps the file near the size of what is queued through a long overflowing outage', async (t) => {
  const file = path.join(tmpDir(), 'q.jsonl');
  const a = new Outbox({ max: 500, file, logger: captureLogger().logger, persistDelayMs: 60_000 });
  a.load();
  for (let i = 0; i < 3; i++) a.push(JSON.stringify(makeEvent(i)));
  a.take(3); // in flight when the link went down: they stay at the front while newer ones are dropped
  let largest = 0;
  for (let i = 3; i < 5000; i++) {
    a.push(JSON.stringify(makeEvent(i)));
    if (i % 20 === 19) {
      await a.persist();
      largest = Math.max(largest, fs.statSync(file).size);
    }
  }
  await a.persist();
  const live = a.snapshot().reduce((sum, p) => sum + Buffer.byteLength(p) + 1, 0);
  t.log(`largest file ${largest} B for ${live} B queued`);
  t.true(largest < 2 * live + 16 * 1024, `file grew to ${largest} B for ${live} B queued`);
  const b = new Outbox({ max: 500, file, logger: captureLogger().logger });
  t.is(b.load(), 500);
  t.deepEqual(b.snapshot(), a.snapshot());
  t.deepEqual(eventIdsOf(b.snapshot()).slice(0, 4), [0, 1, 2, 4503]);
  await b.close();
  await a.close();
});

test('outbox file: events acknowledged before the flush are never written', async (t) => {
  const file = path.join(tmpDir(), 'q.jsonl');
  const a = new Outbox({ max: 100, file, logger: captureLogger().logger, persistDelayMs: 60_000 });
  a.load();
  for (let i = 0; i < 10; i++) a.push(ev(i));
  for (const item of a.take(10)) a.ack(item);
  await a.persist();
  t.false(fs.existsSync(file));
  await a.close();
  t.false(fs.existsSync(file));
});

test('outbox file: a clean close compacts the log to the queued events only', async (t) => {
  const file = path.join(tmpDir(), 'q.jsonl');
  const a = new Outbox({ max: 100, file, logger: captureLogger().logger, persistDelayMs: 60_000 });
  a.load();
  for (let i = 0; i < 10; i++) a.push(ev(i));
  await a.persist();
  for (const item of a.take(6)) a.ack(item);
  await a.close();
  t.deepEqual(nOf(fs.readFileSync(file, 'utf8').trim().split('\n')), range(6, 10), 'one line per queued event, nothing else');
});

test('publisher: events the broker acknowledged leave the queue file within one compaction interval, while others still wait', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const door = gate(broker);
  // The broker acknowledges events 0-39 at once and holds the rest (a slow link): those stay queued.
  const held: NodeJS.Timeout[] = [];
  t.teardown(() => held.forEach(clearTimeout));
  broker.aedes.authorizePublish = (_client, packet, done) => {
    const id = /"id":"[^"]*-(\d+)"/.exec(packet.payload.toString())?.[1];
    if (packet.topic.endsWith('/events') && Number(id) >= 40) held.push(setTimeout(() => done(null), 60_000));
    else done(null);
  };
  const config = testConfig(broker.url, { queue_file: 'queue.jsonl' });
  const file = path.join(config.system.state_dir, 'queue.jsonl');
  const pub = new MqttPublisher({ config, logger: captureLogger().logger, version: '1', reconnect: FAST, queueCompactAfterMs: 1500 });
  t.teardown(() => pub.stop(100));
  await pub.start();
  await waitUntil(() => door.refused() >= 1, 3000, 'a refused connect');
  for (let i = 0; i < 100; i++) pub.event(makeEvent(i));
  await waitUntil(() => fs.existsSync(file) && eventIdsOf(parseQueue(fs.readFileSync(file, 'utf8')).live).length === 100, 5000, 'the 100 events in the file');
  door.open();
  await waitUntil(() => pub.health().delivered === 40, 10_000, '40 delivered');
  const deliveredIn = (): number[] => {
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    return text
      .split('\n')
      .filter((l) => l.startsWith('{"id"'))
      .map((l) => Number((JSON.parse(l) as { id: string }).id.split('-').at(-1)))
      .filter((n) => n < 40);
  };
  // Within the interval (and a flush), the file is rewritten with the undelivered events only.
  await waitUntil(() => deliveredIn().length === 0, 6000, `no delivered event left in the file (still: ${deliveredIn().length})`);
  t.deepEqual(eventIdsOf(parseQueue(fs.readFileSync(file, 'utf8')).live), range(40, 100), 'the undelivered ones are all still there, in order');
  t.is(pub.health().queue_length, 60);
});
