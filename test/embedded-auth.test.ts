// The embedded broker on a non-loopback address authenticates every client (TCP and WebSocket) with
// mqtt.username and the password of mqtt.password_file; the daemon's own publisher logs in with them. The
// WebSocket listener needs that login on loopback too, and takes web pages only from mqtt.embedded_ws_origins.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import mqtt, { type IClientOptions } from 'mqtt';
import { pino } from 'pino';
import { buildOutputs } from '../src/app/outputs.js';
import type { Config } from '../src/config/schema.js';
import { loadConfig } from '../src/config/load.js';
import { PipelineStats } from '../src/system/stats.js';
import { zeroScores, type DaemonControl, type Part } from '../src/types.js';
import { EmotiondError } from '../src/errors.js';
import { freePort } from './helpers/ports.js';
import { fakeControl, tmpDir, waitUntil } from './publish-helpers.js';

const logger = pino({ level: 'silent' });

function passwordFile(content: string): string {
  const file = path.join(tmpDir('emotiond-auth-'), 'mqtt_password');
  fs.writeFileSync(file, content);
  return file;
}

/** Connects once (no retries) and says whether the broker accepted, or the reason it refused. */
async function tryConnect(url: string, opts: IClientOptions): Promise<string> {
  const client = mqtt.connect(url, {
    protocolVersion: 4,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    clientId: `probe_${Math.random().toString(16).slice(2)}`,
    ...opts,
  });
  try {
    return await new Promise<string>((resolve) => {
      client.once('connect', () => resolve('accepted'));
      client.once('error', (err) => resolve(`refused: ${err.message}`));
      client.once('close', () => resolve('refused: closed'));
    });
  } finally {
    await client.endAsync(true);
  }
}

/** The daemon's outputs for `config` (the MQTT ones here), as the composition root builds them; `ready` once the
 * publisher has connected. */
function mqttOutputs(config: Config, control: DaemonControl): { parts: readonly Part[]; ready: () => boolean } {
  const outputs = buildOutputs({
    config,
    logger,
    version: '1',
    control,
    view: { stats: new PipelineStats(), version: '1', isPaused: () => false },
    emotionSeconds: zeroScores,
  });
  let ready = false;
  outputs.publisher?.onConnect(() => (ready = true));
  return { parts: outputs.parts, ready: () => ready };
}

async function startParts(flags: Record<string, string | boolean>): Promise<{ parts: readonly Part[]; ready: () => boolean }> {
  const { config } = loadConfig({ env: {}, flags: { 'device.id': 'authcam', 'mqtt.discovery': false, ...flags } });
  const { parts, ready } = mqttOutputs(config, fakeControl());
  const started: Part[] = [];
  try {
    for (const p of parts) {
      await p.start();
      started.push(p);
    }
  } catch (err) {
    for (const p of started.reverse()) await p.stop();
    throw err;
  }
  return { parts, ready };
}

async function stopParts(parts: readonly Part[]): Promise<void> {
  for (const p of [...parts].reverse()) await p.stop();
}

test.serial('a non-loopback embedded broker refuses anonymous clients and wrong passwords, accepts the right one', async (t) => {
  const port = await freePort();
  const wsPort = await freePort();
  const { parts, ready } = await startParts({
    'mqtt.embedded': true,
    'mqtt.embedded_host': '0.0.0.0',
    'mqtt.embedded_port': String(port),
    'mqtt.embedded_ws_port': String(wsPort),
    'mqtt.username': 'kiosk',
    'mqtt.password_file': passwordFile('s3cret-pw\n'),
  });
  t.teardown(() => stopParts(parts));
  const tcp = `mqtt://127.0.0.1:${port}`;
  const ws = `ws://127.0.0.1:${wsPort}`;
  for (const url of [tcp, ws]) {
    t.regex(await tryConnect(url, {}), /refused/, `${url}: anonymous`);
    t.regex(await tryConnect(url, { username: 'kiosk', password: 'wrong' }), /refused/, `${url}: wrong password`);
    t.regex(await tryConnect(url, { username: 'other', password: 's3cret-pw' }), /refused/, `${url}: wrong user`);
    t.regex(await tryConnect(url, { username: 'kiosk', password: 's3cret-pw\n' }), /refused/, `${url}: the password is the file without its final newline`);
    t.is(await tryConnect(url, { username: 'kiosk', password: 's3cret-pw' }), 'accepted', `${url}: right credentials`);
  }
  await waitUntil(ready, 5000, "the daemon's own publisher to log in");
});

test.serial('a loopback embedded broker stays open, and enforces credentials when they are configured', async (t) => {
  const open = await startParts({ 'mqtt.embedded': true, 'mqtt.embedded_port': String(await freePort()) });
  const port = (await freePort()).toString();
  try {
    await waitUntil(open.ready, 5000, 'the publisher on the open broker');
  } finally {
    await stopParts(open.parts);
  }
  const closed = await startParts({ 'mqtt.embedded': true, 'mqtt.embedded_port': port, 'mqtt.username': 'kiosk', 'mqtt.password_file': passwordFile('pw') });
  t.teardown(() => stopParts(closed.parts));
  t.regex(await tryConnect(`mqtt://127.0.0.1:${port}`, {}), /refused/);
  t.is(await tryConnect(`mqtt://127.0.0.1:${port}`, { username: 'kiosk', password: 'pw' }), 'accepted');
  await waitUntil(closed.ready, 5000, 'the publisher on the closed broker');
});

test.serial('a non-loopback embedded broker with an empty password file does not start', async (t) => {
  const err = await t.throwsAsync(
    startParts({
      'mqtt.embedded': true,
      'mqtt.embedded_host': '0.0.0.0',
      'mqtt.embedded_port': String(await freePort()),
      'mqtt.username': 'kiosk',
      'mqtt.password_file': passwordFile('\n'),
    }),
  );
  t.true(err instanceof EmotiondError && err.code === 'EMD_CONFIG_INVALID', String(err));
  t.regex(err?.message ?? '', /mqtt\.password_file .*mqtt_password.* is empty/);
});

test.serial('check-config refuses a non-loopback embedded broker without credentials: exit 78 naming the key', (t) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'check-config', '--mqtt-embedded', '--mqtt-embedded-host', '0.0.0.0'], {
    encoding: 'utf8',
  });
  t.is(r.status, 78, r.stderr);
  t.regex(r.stderr, /mqtt\.embedded_host = "0\.0\.0\.0" \(from flag --mqtt-embedded-host\).*missing: mqtt\.username, mqtt\.password_file/);
});

/** The daemon's MQTT parts with the embedded broker's WebSocket on loopback, logged in as kiosk / s3cret-pw. */
async function wsParts(t: ExecutionContext, flags: Record<string, string>): Promise<{ ws: string; wsPort: number; control: ReturnType<typeof fakeControl> }> {
  const wsPort = await freePort();
  const control = fakeControl();
  const { config } = loadConfig({
    env: {},
    flags: {
      'device.id': 'authcam',
      'mqtt.discovery': false,
      'mqtt.embedded': true,
      'mqtt.embedded_port': String(await freePort()),
      'mqtt.embedded_ws_port': String(wsPort),
      'mqtt.username': 'kiosk',
      'mqtt.password_file': passwordFile('s3cret-pw\n'),
      ...flags,
    },
  });
  const { parts, ready } = mqttOutputs(config, control);
  for (const p of parts) await p.start();
  t.teardown(() => stopParts(parts));
  await waitUntil(ready, 5000, 'the publisher');
  return { ws: `ws://127.0.0.1:${wsPort}`, wsPort, control };
}

const login = { username: 'kiosk', password: 's3cret-pw' };

test.serial('mqtt.embedded_ws_origins: the pages listed may open the WebSocket (and still log in); other origins may not', async (t) => {
  const { ws } = await wsParts(t, { 'mqtt.embedded_ws_origins': 'http://kiosk.lan:8080, https://dash.example' });
  t.regex(await tryConnect(ws, { ...login, wsOptions: { origin: 'https://evil.example' } }), /refused/);
  t.regex(await tryConnect(ws, { ...login, wsOptions: { origin: 'http://kiosk.lan:8081' } }), /refused/, 'another port is another origin');
  t.is(await tryConnect(ws, { ...login, wsOptions: { origin: 'http://KIOSK.lan:8080' } }), 'accepted', 'an allowed origin (any case)');
  t.is(await tryConnect(ws, { ...login, wsOptions: { origin: 'https://dash.example/' } }), 'accepted');
  t.regex(await tryConnect(ws, { wsOptions: { origin: 'http://kiosk.lan:8080' } }), /refused/, 'an allowed origin still logs in');
});

test.serial('the WebSocket listener refuses a web page of another origin, even with the right login: it can neither read nor command', async (t) => {
  const { ws, wsPort, control } = await wsParts(t, {});
  const hostile = { ...login, wsOptions: { origin: 'https://evil.example' } };
  t.regex(await tryConnect(ws, hostile), /refused/, 'a page of evil.example, with the right login');
  t.regex(await tryConnect(ws, { ...login, wsOptions: { origin: 'http://127.0.0.1:8080' } }), /refused/, 'a page on this machine: none is allowed by default');
  t.is(await tryConnect(ws, login), 'accepted', 'a client that sends no Origin is not a browser: the login decides');

  // What the review did from evil.example: subscribe to everything and send set {"paused":true}.
  const client = mqtt.connect(ws, { ...hostile, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 3000 });
  const received: string[] = [];
  client.on('message', (topic) => received.push(topic));
  client.on('error', () => undefined);
  client.on('connect', () => {
    void client.subscribeAsync('#').catch(() => undefined);
    void client.publishAsync('emotiond/authcam/set', '{"paused":true}', { qos: 1 }).catch(() => undefined);
  });
  // The connection ends (refused before any MQTT): nothing can reach it or come from it after that.
  await new Promise<void>((resolve) => client.once('close', () => resolve()));
  await client.endAsync(true);
  t.false(control.paused, 'the daemon was not paused');
  t.deepEqual(received, [], 'nothing was received');

  // The browser's own check: a WebSocket handshake with a foreign Origin is answered 403 before any MQTT.
  const status = await new Promise<number>((resolve, reject) => {
    const req = http.get({
      host: '127.0.0.1',
      port: wsPort,
      headers: {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
        Origin: 'https://evil.example',
      },
    });
    req.on('response', (res) => resolve(res.statusCode ?? 0));
    req.on('upgrade', () => resolve(101));
    req.on('error', reject);
  });
  t.is(status, 403);
});

test.serial('a WebSocket listener needs a login even on loopback: check-config exits 78 without one, the broker refuses an empty password', async (t) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'check-config', '--mqtt-embedded', '--mqtt-embedded-ws-port', '9001'], {
    encoding: 'utf8',
  });
  t.is(r.status, 78, r.stderr);
  t.regex(
    r.stderr,
    /mqtt\.embedded_ws_port = 9001 \(from flag --mqtt-embedded-ws-port\).*needs a username and password.*also on loopback.*missing: mqtt\.username, mqtt\.password_file/s,
  );
  const err = await t.throwsAsync(
    startParts({
      'mqtt.embedded': true,
      'mqtt.embedded_port': String(await freePort()),
      'mqtt.embedded_ws_port': String(await freePort()),
      'mqtt.username': 'kiosk',
      'mqtt.password_file': passwordFile(''),
    }),
  );
  t.true(err instanceof EmotiondError && err.code === 'EMD_CONFIG_INVALID', String(err));
  t.regex(err?.message ?? '', /WebSocket listener .* needs a password/);
  const bad = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'check-config', '--mqtt-embedded-ws-origins', 'evil.example'], {
    encoding: 'utf8',
  });
  t.is(bad.status, 78, 'an origin without a scheme is refused');
});
