// Home Assistant discovery: configs validate, point at topics and fields that really carry data, are
// published again when HA comes online, and removeDiscovery() clears them.
import test from 'ava';
import { MqttPublisher } from '../src/mqtt/mqtt-publisher.js';
import { removeDiscovery } from '../src/cli/remove-discovery.js';
import { topicsFor } from '../src/contract/topics.js';
import {
  assertSchema,
  captureLogger,
  fakeControl,
  makeCamera,
  makeRoom,
  startBroker,
  subscribe,
  testConfig,
  waitUntil,
  type Received,
} from './publish-helpers.js';

const topics = topicsFor('emotiond', 'testcam');
const EXPECTED_IDS = [
  'emotiond_testcam_faces',
  'emotiond_testcam_mood',
  'emotiond_testcam_share_angry',
  'emotiond_testcam_share_fear',
  'emotiond_testcam_share_happy',
  'emotiond_testcam_share_neutral',
  'emotiond_testcam_share_sad',
  'emotiond_testcam_share_surprise',
  'emotiond_testcam_fps',
  'emotiond_testcam_camera',
  'emotiond_testcam_paused',
];

type HaConfig = Record<string, unknown> & { unique_id: string; state_topic: string; value_template?: string; availability: Array<{ topic: string }> };

function configs(msgs: Received[]): HaConfig[] {
  return msgs
    .filter((m) => m.topic.startsWith('homeassistant/') && m.topic.endsWith('/config') && m.payload.length > 0)
    .map((m) => JSON.parse(m.text) as HaConfig);
}

/** Follows `value_json.a.b` in a real payload; undefined when a key is missing. */
function lookup(obj: unknown, dotted: string): unknown {
  return dotted.split('.').reduce<unknown>((o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), obj);
}

test('discovery: one device, 10 sensors and a pause switch; configs validate and read fields that exist', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sub = await subscribe(broker.url, ['homeassistant/#', `${topics.root}/#`]);
  t.teardown(() => sub.end());
  const control = fakeControl();
  const config = testConfig(broker.url, { discovery: true });
  const pub = new MqttPublisher({
    config,
    logger: captureLogger().logger,
    version: '3.1.0',
    control,
    supportUrl: 'https://example.org/emotiond',
    reconnect: { minMs: 100, maxMs: 200 },
  });
  t.teardown(() => pub.stop());
  await pub.start();
  pub.room(makeRoom());
  pub.camera(makeCamera());
  await sub.waitFor(
    (m) => configs(m).length === 11 && m.some((x) => x.topic === topics.room) && m.some((x) => x.topic === topics.stats),
    5000,
    'configs and state',
  );
  const all = configs(sub.messages);
  t.deepEqual(all.map((c) => c.unique_id).sort(), [...EXPECTED_IDS].sort(), 'stable unique ids');
  for (const m of sub.messages) assertSchema(t, m, topics.root);
  // Retained: a subscriber that comes later (HA after a restart) gets all of them.
  const late = await subscribe(broker.url, ['homeassistant/#']);
  t.teardown(() => late.end());
  await late.waitFor((m) => configs(m).length === 11, 3000, 'retained configs');
  t.true(late.messages.every((m) => m.retain));
  t.true(sub.messages.some((m) => m.topic === 'homeassistant/switch/emotiond_testcam/paused/config'));
  t.true(sub.messages.some((m) => m.topic === 'homeassistant/sensor/emotiond_testcam/share_happy/config'));

  for (const c of all) {
    t.is(c.availability[0]?.topic, topics.availability);
    t.deepEqual(c['device'], {
      identifiers: ['emotiond_testcam'],
      name: 'emotiond testcam',
      manufacturer: 'emotiond',
      model: 'Edge emotion daemon',
      sw_version: '3.1.0',
    });
    t.deepEqual(c['origin'], { name: 'emotiond', sw_version: '3.1.0', support_url: 'https://example.org/emotiond' });
    // Every `value_json.x.y` in the template exists in the latest real payload of its state topic.
    const state = sub.json(c.state_topic).at(-1);
    t.truthy(state, `a payload on ${c.state_topic}`);
    for (const [, dotted] of (c.value_template ?? '').matchAll(/value_json\.([A-Za-z_][A-Za-z0-9_.]*)/g)) {
      t.not(lookup(state, dotted!), undefined, `${c.unique_id}: ${dotted} in ${c.state_topic}`);
    }
  }
  const sw = all.find((c) => c.unique_id === 'emotiond_testcam_paused')!;
  t.like(sw, { command_topic: topics.set, state_topic: topics.paused, payload_on: '{"paused":true}', payload_off: '{"paused":false}' });

  // The switch's command payload does what it says.
  const ha = await subscribe(broker.url, ['nothing']);
  t.teardown(() => ha.end());
  await ha.client.publishAsync(sw['command_topic'] as string, sw['payload_on'] as string, { qos: 1 });
  await waitUntil(() => control.paused, 3000, 'paused via the switch');
  await sub.waitFor(() => sub.json(topics.paused).some((p) => (p as { paused: boolean }).paused));

  // HA restarts: its birth message makes us publish every config again; other payloads do not.
  await ha.client.publishAsync('homeassistant/status', 'offline', { qos: 1 });
  await ha.client.publishAsync('homeassistant/status', Buffer.from([0xff, 0x00]), { qos: 1 });
  await ha.roundTrip(topics.root);
  await sub.settle();
  t.is(configs(sub.messages).length, 11);
  await ha.client.publishAsync('homeassistant/status', 'online', { qos: 1 });
  await sub.waitFor((m) => configs(m).length === 22, 3000, 'configs again');
  t.true(pub.connected);
});

test('removeDiscovery() clears every config with its own client, leaving the daemon online', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const config = testConfig(broker.url, { discovery: true });
  const pub = new MqttPublisher({ config, logger: captureLogger().logger, version: '1', reconnect: { minMs: 100, maxMs: 200 } });
  t.teardown(() => pub.stop());
  await pub.start();
  const sub = await subscribe(broker.url, ['homeassistant/#', topics.availability]);
  t.teardown(() => sub.end());
  await sub.waitFor((m) => configs(m).length === 11, 5000, 'retained configs');
  const log = captureLogger();
  // The broker (aedes) speaks only 3.1.1: the CLI falls back from MQTT 5 as the daemon does.
  const removed = await removeDiscovery({ config: { ...config, mqtt: { ...config.mqtt, protocol_version: 5 } }, logger: log.logger });
  t.is(removed, 11);
  await sub.waitFor((m) => m.filter((x) => x.topic.startsWith('homeassistant/') && x.payload.length === 0).length === 11, 3000, 'empty configs');
  const late = await subscribe(broker.url, ['homeassistant/#']);
  t.teardown(() => late.end());
  await late.settle();
  t.is(late.messages.length, 0, 'no retained discovery config left');
  t.true(pub.connected, 'the daemon was not kicked off (own client id)');
  t.deepEqual(sub.json(topics.availability), [{ state: 'online' }], 'no Last Will fired by the CLI client');

  // With no broker it fails with a coded error rather than hanging.
  await broker.stop();
  const err = await t.throwsAsync(removeDiscovery({ config, logger: log.logger, timeoutMs: 500 }));
  t.regex(err?.message ?? '', /^MQTT failure: remove-discovery via mqtt:\/\/127\.0\.0\.1/);
});
