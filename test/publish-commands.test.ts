// Inbound commands over a real broker: set (pause), request/response, and a fuzz of 10 000 bad payloads.
import test, { type ExecutionContext } from 'ava';
import mqtt from 'mqtt';
import { MqttPublisher } from '../src/mqtt/mqtt-publisher.js';
import { topicsFor } from '../src/contract/topics.js';
import { MAX_COMMAND_BYTES, REJECT_LOG_BURST } from '../src/mqtt/commands.js';
import { assertSchema, captureLogger, fakeControl, startBroker, subscribe, testConfig, waitUntil } from './publish-helpers.js';

const FAST = { minMs: 100, maxMs: 200 };
const topics = topicsFor('emotiond', 'testcam');

async function setup(t: ExecutionContext, withControl = true) {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sub = await subscribe(broker.url, [`${topics.root}/response/+`, topics.paused]);
  t.teardown(() => sub.end());
  const log = captureLogger();
  const control = fakeControl();
  const pub = new MqttPublisher({ config: testConfig(broker.url), logger: log.logger, version: '1', reconnect: FAST, ...(withControl ? { control } : {}) });
  t.teardown(() => pub.stop());
  await pub.start();
  await pub.whenConnected();
  const client = mqtt.connect(broker.url, { reconnectPeriod: 0 });
  t.teardown(() => client.endAsync(true));
  await new Promise<void>((r) => client.once('connect', () => r()));
  // The publisher's subscriptions are in place once a probe request is answered.
  await client.publishAsync(topics.request('health_check'), '{"transaction":"probe"}', { qos: 1 });
  await sub.waitFor((m) => m.some((x) => x.text.includes('"probe"')), 3000, 'probe response');
  sub.messages.length = 0;
  return { broker, sub, log, control, pub, client };
}

interface Response {
  status: 'ok' | 'error';
  data: Record<string, unknown> | null;
  error: string | null;
  transaction: string | number | null;
}

test('set {"paused":true|false} drives the daemon and the retained paused state', async (t) => {
  const { sub, control, client, pub } = await setup(t);
  await client.publishAsync(topics.set, '{"paused":true}', { qos: 1 });
  await waitUntil(() => control.paused, 3000, 'paused');
  await sub.waitFor(() => sub.json(topics.paused).length >= 1);
  t.deepEqual(sub.json(topics.paused).at(-1), { paused: true });
  await client.publishAsync(topics.set, '{"paused":false}', { qos: 1 });
  await waitUntil(() => !control.paused, 3000, 'resumed');
  await sub.waitFor(() => sub.json(topics.paused).length >= 2);
  t.deepEqual(sub.json(topics.paused).at(-1), { paused: false });
  t.deepEqual(pub.commandCounts(), { accepted: 3, rejected: 0 }, 'the probe and the two sets');
});

test('requests: health_check, config, reset_tracks, unknown names and bad payloads get a response', async (t) => {
  const { sub, control, client, pub } = await setup(t);
  const ask = async (name: string, payload: string | Buffer): Promise<Response> => {
    const before = sub.on(topics.response(name)).length;
    await client.publishAsync(topics.request(name), payload, { qos: 1 });
    await sub.waitFor(() => sub.on(topics.response(name)).length > before, 3000, `response/${name}`);
    return JSON.parse(sub.on(topics.response(name)).at(-1)!.text) as Response;
  };
  const health = await ask('health_check', '{"transaction":"t-1"}');
  t.is(health.status, 'ok');
  t.is(health.transaction, 't-1');
  t.is(health.error, null);
  t.like(health.data, { healthy: true, frames_in: 100, device: 'testcam' });
  t.like(health.data?.['mqtt'] as object, { connected: true });

  const config = await ask('config', '');
  t.is(config.status, 'ok');
  t.is(config.transaction, null);
  t.deepEqual(config.data, control.config());

  const reset = await ask('reset_tracks', '{"transaction":42}');
  t.deepEqual(reset, { status: 'ok', data: { ended: 2 }, error: null, transaction: 42 });
  t.is(control.resets, 1);

  const unknown = await ask('self_destruct', '{"transaction":"x"}');
  t.is(unknown.status, 'error');
  t.regex(unknown.error ?? '', /unknown request "self_destruct"/);
  t.is(unknown.transaction, 'x');

  const notJson = await ask('health_check', '{nope');
  t.like(notJson, { status: 'error', error: 'payload is not JSON', transaction: null });
  const extra = await ask('health_check', '{"transaction":"y","rm":"-rf"}');
  t.like(extra, { status: 'error', transaction: 'y' });
  t.regex(extra.error ?? '', /additional properties/);
  const big = await ask('config', Buffer.alloc(MAX_COMMAND_BYTES + 1, 0x20));
  t.regex(big.error ?? '', /limit is 65536/);
  const binary = await ask('config', Buffer.from([0xff, 0xfe, 0x00, 0x80]));
  t.is(binary.error, 'payload is not UTF-8');
  t.is(control.resets, 1, 'bad requests do nothing');
  for (const m of sub.messages) assertSchema(t, m, topics.root);
  t.like(pub.commandCounts(), { rejected: 5 });
});

test('requests to a publisher without a daemon are answered with an error', async (t) => {
  const { sub, client } = await setup(t, false);
  await client.publishAsync(topics.request('reset_tracks'), '{}', { qos: 1 });
  await sub.waitFor((m) => m.length === 1);
  t.like(JSON.parse(sub.messages[0]!.text) as object, { status: 'error', error: 'the daemon is not running yet' });
});

/**
 * One hostile payload from a seeded generator (so a failure can be replayed). A few are well-formed on
 * purpose (an empty or `{}` request, a set with a UTF-8 BOM, which is tolerated): `okSet`/`okRequest` say so.
 */
function fuzzPayload(rand: () => number, i: number): { payload: Buffer; kind: string; okSet?: boolean; okRequest?: boolean } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));
  const deep = (n: number, open: string, close: string): string => open.repeat(n) + close.repeat(n);
  switch (i % 16) {
    case 0:
      return { payload: bytes(3 + Math.floor(rand() * 300)), kind: 'random bytes' };
    case 1:
      return {
        payload: Buffer.from(
          pick(['{', '}', '{"paused":', '{"paused":tru}', "{'paused':true}", 'NaN', 'undefined', '{"a":1,}', '\u0000', '[1,2', '"unterminated']),
        ),
        kind: 'invalid JSON',
      };
    case 2: {
      const value = pick([
        null,
        true,
        false,
        0,
        -1,
        1e308,
        'paused',
        [],
        [true],
        {},
        { paused: 'true' },
        { paused: 1 },
        { paused: null },
        { paused: [] },
        { transaction: {} },
        { transaction: 1.5 },
        { transaction: 'x'.repeat(200) },
      ]);
      const isEmptyObject = typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 0;
      return { payload: Buffer.from(JSON.stringify(value)), kind: 'wrong types', okRequest: isEmptyObject };
    }
    case 3:
      return { payload: Buffer.from(JSON.stringify({ paused: true, note: 'x'.repeat(Math.floor(rand() * 60_000)) })), kind: 'huge string' };
    case 4:
      return { payload: Buffer.from(deep(Math.floor(rand() * 20_000) + 1, '[', ']')), kind: 'deep arrays' };
    case 5:
      return { payload: Buffer.from(deep(Math.floor(rand() * 5_000) + 1, '{"a":', '}').replace(/}$/, '1}')), kind: 'deep objects' };
    case 6:
      return {
        payload: Buffer.from(
          pick([
            '{"__proto__":{"polluted":true}}',
            '{"constructor":{"prototype":{"polluted":true}}}',
            '{"paused":true,"__proto__":{"polluted":true}}',
            '{"transaction":"p","__proto__":{"polluted":true}}',
            '{"__proto__":null}',
          ]),
        ),
        kind: 'prototype pollution',
      };
    case 7:
      return { payload: Buffer.alloc(0), kind: 'empty', okRequest: true };
    case 8:
      return { payload: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"paused":true}')]), kind: 'BOM', okSet: true };
    case 9:
      return { payload: Buffer.from([0xc3, 0x28, 0x7b, 0x7d, 0xed, 0xa0, 0x80]), kind: 'bad UTF-8' };
    case 10:
      return { payload: Buffer.alloc(MAX_COMMAND_BYTES + 1 + Math.floor(rand() * 1000), 0x7b), kind: 'over the cap' };
    case 11:
      return { payload: Buffer.from(JSON.stringify({ paused: true, transaction: 'x', extra: { deep: [1, { __proto__: 1 }] } })), kind: 'extra keys' };
    case 12:
      return { payload: Buffer.from('1'.repeat(400) + 'e99999'), kind: 'big numbers' };
    case 13:
      return { payload: Buffer.from(JSON.stringify('\ud800'.repeat(100))), kind: 'lone surrogates' };
    case 14:
      return { payload: Buffer.from(`{"paused":true,"paused":${rand() < 0.5}, "x":1}`), kind: 'duplicate keys' };
    default:
      return { payload: bytes(3 + Math.floor(rand() * 20)), kind: 'short noise' };
  }
}

test('fuzz: 10 000 malformed payloads on set and request/*: no crash, every request answered, rejects logged within a budget', async (t) => {
  t.timeout(60_000);
  const { sub, control, client, pub, log } = await setup(t);
  const started = Date.now();
  let seed = 12345;
  const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const names = ['health_check', 'config', 'reset_tracks', 'nope', 'Ünïcödé', 'x'.repeat(300), '..', 'a b'];
  const known = new Set(['health_check', 'config', 'reset_tracks']);
  const N = 10_000;
  let requests = 0;
  let sets = 0;
  let okSets = 0;
  let okRequests = 0;
  let okResets = 0;
  const kinds = new Map<string, number>();
  const batch: Promise<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    const { payload, kind, okSet, okRequest } = fuzzPayload(rand, i);
    kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    let topic: string;
    if (rand() < 0.5) {
      sets += 1;
      if (okSet) okSets += 1;
      topic = topics.set;
    } else {
      requests += 1;
      const name = names[Math.floor(rand() * names.length)]!;
      if (okRequest && known.has(name)) {
        okRequests += 1;
        if (name === 'reset_tracks') okResets += 1;
      }
      topic = topics.request(name);
    }
    batch.push(client.publishAsync(topic, payload, { qos: 1 }));
    if (batch.length === 200) await Promise.all(batch.splice(0));
  }
  await Promise.all(batch);
  const responses = () => sub.messages.filter((m) => m.topic.startsWith(`${topics.root}/response/`));
  await waitUntil(
    () => responses().length === requests && pub.commandCounts().rejected + pub.commandCounts().accepted === N + 1,
    30_000,
    `${requests} responses`,
  );

  const counts = pub.commandCounts();
  const rejectLines = log.lines.filter((l) => l['level'] === 40 && l['msg'] === 'rejected MQTT command payload');
  const minutes = Math.ceil((Date.now() - started) / 60_000);
  t.log(`sent ${N}: ${sets} on set (${okSets} well-formed), ${requests} on request/* (${okRequests} well-formed); rejected ${counts.rejected}`);
  t.log(`kinds ${JSON.stringify(Object.fromEntries(kinds))}`);
  t.is(responses().length, requests, 'every request answered exactly once');
  t.is(responses().filter((m) => (JSON.parse(m.text) as Response).status === 'ok').length, okRequests);
  t.true(rejectLines.length >= REJECT_LOG_BURST && rejectLines.length <= REJECT_LOG_BURST * minutes, `${rejectLines.length} reject lines in ${minutes} min`);
  const accounted = rejectLines.reduce((n, l) => n + 1 + ((l['suppressed'] as number | undefined) ?? 0), 0);
  t.true(accounted <= counts.rejected, 'logged plus reported-as-suppressed never exceeds the rejects');
  const notes = log.count('warn', 'more rejected MQTT command payloads this minute are counted, not logged');
  t.true(notes >= 1 && notes <= minutes, `${notes} budget-spent notes in ${minutes} min`);
  t.is(counts.accepted, 1 + okSets + okRequests, 'the probe and the well-formed ones');
  t.is(counts.rejected, N - okSets - okRequests);
  t.true(counts.rejected > 9000);
  t.is(control.paused, okSets > 0, 'only well-formed sets (all paused:true) changed the pause state');
  t.is(control.resets, okResets);
  t.is(({} as Record<string, unknown>)['polluted'], undefined, 'Object.prototype untouched');
  t.true(pub.connected);
  for (const m of sub.messages) assertSchema(t, m, topics.root);
  t.is(log.count('error'), 0);
  t.true([...kinds.values()].every((n) => n === N / 16));
});
