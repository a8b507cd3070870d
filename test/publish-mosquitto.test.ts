// Against Debian mosquitto: MQTT 5 (with request/response correlation data) and TLS with a test CA
// (server verification, client certificates). Skipped when mosquitto or openssl is missing.
import test from 'ava';
import { MqttPublisher } from '../src/mqtt/mqtt-publisher.js';
import { topicsFor } from '../src/contract/topics.js';
import { Mosquitto, freePort, makeTestPki, mosquittoMissing, type TestPki } from './helpers/mosquitto.js';
import { assertSchema, captureLogger, fakeControl, makeEvent, subscribe, testConfig, waitUntil } from './publish-helpers.js';

const missing = mosquittoMissing();
const maybe = missing ? test.skip : test.serial;
if (missing) test.skip(`mosquitto tests skipped: ${missing}`, () => undefined);

const topics = topicsFor('emotiond', 'testcam');
const FAST = { minMs: 100, maxMs: 300 };

let broker: Mosquitto | undefined;
let pki: TestPki | undefined;
let plainPort = 0;
let tlsPort = 0;
let mtlsPort = 0;

test.before(async () => {
  if (missing) return;
  pki = makeTestPki();
  [plainPort, tlsPort, mtlsPort] = [await freePort(), await freePort(), await freePort()];
  broker = new Mosquitto([
    { port: plainPort },
    { port: tlsPort, tls: { pki, requireClientCert: false } },
    { port: mtlsPort, tls: { pki, requireClientCert: true } },
  ]);
  await broker.start();
});

test.after.always(async () => {
  await broker?.stop();
});

maybe('MQTT 5: events, retained state and availability; responses echo correlation data', async (t) => {
  const url = `mqtt://127.0.0.1:${plainPort}`;
  const sub = await subscribe(url, [`${topics.root}/#`], { protocolVersion: 5 });
  t.teardown(() => sub.end());
  const pub = new MqttPublisher({
    config: testConfig(url, { protocol_version: 5 }),
    logger: captureLogger().logger,
    version: '1',
    control: fakeControl(),
    reconnect: FAST,
  });
  t.teardown(() => pub.stop());
  await pub.start();
  await pub.whenConnected();
  for (let i = 0; i < 20; i++) pub.event(makeEvent(i));
  await sub.waitFor(() => sub.json(topics.events).length === 20, 5000, '20 events');
  t.deepEqual(
    sub.json(topics.events).map((e) => (e as { id: string }).id),
    Array.from({ length: 20 }, (_, i) => `testcam-boot-${i}`),
  );
  t.deepEqual(sub.json(topics.availability), [{ state: 'online' }]);

  const responses: Array<{ text: string; correlation?: string }> = [];
  sub.client.on('message', (topic, payload, packet) => {
    if (topic === topics.response('health_check')) responses.push({ text: payload.toString(), correlation: packet.properties?.correlationData?.toString() });
  });
  await sub.client.publishAsync(topics.request('health_check'), '{"transaction":"v5"}', {
    qos: 1,
    properties: { responseTopic: topics.response('health_check'), correlationData: Buffer.from('corr-123') },
  });
  await waitUntil(() => responses.length === 1, 3000, 'response');
  t.is(responses[0]?.correlation, 'corr-123');
  t.like(JSON.parse(responses[0]!.text) as object, { status: 'ok', transaction: 'v5' });
  for (const m of sub.messages) assertSchema(t, m, topics.root);

  await pub.stop();
  await sub.waitFor(() => sub.json(topics.availability).length === 2);
  t.deepEqual(sub.json(topics.availability).at(-1), { state: 'offline' });
});

maybe('TLS: verifies the broker with the CA file; messages flow', async (t) => {
  const url = `mqtts://localhost:${tlsPort}`;
  const sub = await subscribe(url, [topics.events], { ca: (await import('node:fs')).readFileSync(pki!.caCert) });
  t.teardown(() => sub.end());
  const pub = new MqttPublisher({
    config: testConfig(url, { protocol_version: 5, ca_file: pki!.caCert }),
    logger: captureLogger().logger,
    version: '1',
    reconnect: FAST,
  });
  t.teardown(() => pub.stop());
  await pub.start();
  await pub.whenConnected();
  pub.event(makeEvent(7));
  await sub.waitFor((m) => m.length === 1);
  t.is((sub.json(topics.events)[0] as { id: string }).id, 'testcam-boot-7');

  // The IP address is in the certificate's SAN too.
  const byIp = new MqttPublisher({
    config: testConfig(`mqtts://127.0.0.1:${tlsPort}`, { ca_file: pki!.caCert, client_id: 'byip' }),
    logger: captureLogger().logger,
    version: '1',
    reconnect: FAST,
  });
  t.teardown(() => byIp.stop());
  await byIp.start();
  await byIp.whenConnected();
  t.true(byIp.connected);
});

maybe('TLS: with verification on and no CA file the connection fails, is reported, and is retried without a crash', async (t) => {
  const log = captureLogger();
  const pub = new MqttPublisher({ config: testConfig(`mqtts://localhost:${tlsPort}`), logger: log.logger, version: '1', reconnect: FAST });
  t.teardown(() => pub.stop());
  await t.notThrowsAsync(pub.start());
  await waitUntil(() => pub.connectFailures >= 3, 5000, 'three failed attempts');
  t.false(pub.connected);
  t.regex(pub.lastError?.message ?? '', /certificate/i);
  t.is(pub.lastError?.code, 'EMD_MQTT');
  // Logged once at warn, the repeats at debug.
  t.is(log.count('warn', 'MQTT connection error; retrying'), 1);

  // Turning verification off (tests only) connects without the CA.
  const insecure = new MqttPublisher({
    config: testConfig(`mqtts://localhost:${tlsPort}`, { reject_unauthorized: false, client_id: 'insecure' }),
    logger: captureLogger().logger,
    version: '1',
    reconnect: FAST,
  });
  t.teardown(() => insecure.stop());
  await insecure.start();
  await insecure.whenConnected();
  t.true(insecure.connected);
});

maybe('TLS client certificate: accepted with cert_file/key_file, refused without', async (t) => {
  const url = `mqtts://localhost:${mtlsPort}`;
  const withCert = new MqttPublisher({
    config: testConfig(url, { ca_file: pki!.caCert, cert_file: pki!.clientCert, key_file: pki!.clientKey, client_id: 'with_cert' }),
    logger: captureLogger().logger,
    version: '1',
    reconnect: FAST,
  });
  t.teardown(() => withCert.stop());
  await withCert.start();
  await withCert.whenConnected();
  t.true(withCert.connected);

  const log = captureLogger();
  const without = new MqttPublisher({
    config: testConfig(url, { ca_file: pki!.caCert, client_id: 'without_cert' }),
    logger: log.logger,
    version: '1',
    reconnect: FAST,
  });
  t.teardown(() => without.stop());
  await without.start();
  await waitUntil(() => without.connectFailures >= 2, 10_000, 'two refused TLS handshakes');
  t.false(without.connected);
  t.regex(without.lastError?.message ?? '', /certificate required/);
  t.is(log.count('warn', 'MQTT connection error; retrying'), 1);
});
