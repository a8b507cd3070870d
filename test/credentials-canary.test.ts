// Camera credentials never leave the process in anything shown: the real daemon (the CLI as a child
// process) runs with a source whose user and password are canaries, --print, a real broker; we ask it for
// its config and health over MQTT and run check-config, then look for the canaries in stdout, stderr,
// every MQTT message on '#' and the command responses. The positive checks make sure each of those places
// really showed the (redacted) source, so the test cannot pass by showing nothing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import { freePort } from './helpers/ports.js';
import { serveMjpeg } from './helpers/media-tools.js';
import { testModel } from './helpers/shared-data.js';
import { waitUntil } from './publish-helpers.js';

const MODEL = testModel();
const DEMO = path.resolve('deploy/demo/demo-faces.avi');
const USER = 'canaryUser4471';
const PASS = 'canaryPw-9f3c2e';
if (!MODEL) console.log('credentials-canary: skipped: no model (models/emotion-cnn-lstm.int8.onnx or EMOTIOND_TEST_MODEL)');
const withModel = MODEL ? test.serial : test.serial.skip;
if (MODEL && !fs.existsSync(DEMO)) console.log(`credentials-canary: the MJPEG test skipped: ${DEMO} missing (deploy/make-demo-clip.sh)`);
const withClip = MODEL && fs.existsSync(DEMO) ? test.serial : test.serial.skip;

interface Seen {
  stdout: string;
  stderr: string;
  mqtt: Array<{ topic: string; text: string }>;
}

interface Watch {
  seen: Seen;
  logs: () => Array<Record<string, unknown>>;
  camera: () => Array<{ state: string; source: string; error: string | null }>;
  response: (name: string) => Record<string, unknown> | undefined;
  request: (name: string) => Promise<void>;
  stop: () => Promise<number | null>;
}

/** Starts a broker (subscribed on '#') and `emotiond run --print` on `source`. */
async function runDaemon(t: ExecutionContext, source: string): Promise<Watch> {
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0, wsPort: 0, logger: pino({ level: 'silent' }) });
  await broker.start();
  t.teardown(() => broker.stop());
  const seen: Seen = { stdout: '', stderr: '', mqtt: [] };
  const sub = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: 'canary-sub' });
  t.teardown(() => sub.endAsync(true));
  sub.on('message', (topic, payload) => seen.mqtt.push({ topic, text: payload.toString() }));
  await sub.subscribeAsync('#', { qos: 1 });
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', ...daemonFlags(source, broker.url)], {
    env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (seen.stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (seen.stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  t.teardown(() => void child.kill('SIGKILL'));
  const root = 'emotiond/canary';
  const json = (topic: string): unknown[] => seen.mqtt.filter((m) => m.topic === topic && m.text !== '').map((m) => JSON.parse(m.text) as unknown);
  return {
    seen,
    logs: () =>
      seen.stderr
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    camera: () => json(`${root}/camera`) as ReturnType<Watch['camera']>,
    response: (name) => json(`${root}/response/${name}`)[0] as Record<string, unknown> | undefined,
    request: async (name) => {
      await sub.publishAsync(`${root}/request/${name}`, JSON.stringify({ transaction: name }), { qos: 1 });
    },
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

function daemonFlags(source: string, mqttUrl: string): string[] {
  return [
    '--source',
    source,
    '--print',
    '--device-id',
    'canary',
    '--classifier-model',
    MODEL ?? '',
    '--mqtt-url',
    mqttUrl,
    '--mqtt-protocol-version',
    '4',
    '--mqtt-stats-interval-s',
    '1',
    '--source-reopen-min-s',
    '0.2',
    '--source-reopen-max-s',
    '0.5',
    '--system-ready-timeout-s',
    '1',
    '--log-pretty',
    'no',
  ];
}

/** check-config with the same settings: its output shows the whole (redacted) configuration. */
function checkConfig(t: ExecutionContext, source: string): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'check-config', ...daemonFlags(source, 'mqtt://127.0.0.1:1')], {
    encoding: 'utf8',
  });
  t.is(r.status, 0, r.stderr);
  const shown = JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))) as { source: { uri: string } };
  t.true(shown.source.uri.includes('[redacted]'), `check-config shows the source: ${shown.source.uri}`);
  return r.stdout + r.stderr;
}

/** Asks for config and health_check, checks that the config shows the redacted source. */
async function askCommands(t: ExecutionContext, w: Watch): Promise<void> {
  await w.request('config');
  await w.request('health_check');
  await waitUntil(() => w.response('config') !== undefined && w.response('health_check') !== undefined, 10_000, 'responses to config and health_check');
  const config = w.response('config') as { status: string; data: { source: { uri: string } } };
  t.is(config.status, 'ok');
  t.true(config.data.source.uri.includes('[redacted]'), `request/config shows the source: ${config.data.source.uri}`);
  t.is(w.response('health_check')?.['status'], 'ok');
}

function assertNoCanary(t: ExecutionContext, where: Record<string, string>): void {
  for (const name of ['stdout', 'stderr', 'check-config']) t.true((where[name] ?? '').length > 0, `${name} is not empty`);
  for (const [name, text] of Object.entries(where)) {
    for (const canary of [USER, PASS]) {
      const at = text.indexOf(canary);
      t.is(at, -1, `${name} shows ${canary}: …${text.slice(Math.max(0, at - 200), at + 100)}…`);
    }
  }
}

function everything(w: Watch, checkConfigOutput: string): Record<string, string> {
  const out: Record<string, string> = { stdout: w.seen.stdout, stderr: w.seen.stderr, 'check-config': checkConfigOutput };
  for (const m of w.seen.mqtt) out[`mqtt ${m.topic}`] = (out[`mqtt ${m.topic}`] ?? '') + m.text;
  return out;
}

/** The `running` line and a `source failed` warning were logged, with the source shown redacted. */
function assertLogged(t: ExecutionContext, w: Watch, shown: string): void {
  const running = w.logs().find((l) => l['msg'] === 'running');
  t.is(running?.['source'], shown, 'the running line shows the redacted source');
  const failed = w.logs().find((l) => l['msg'] === 'source failed; reopening after delay');
  t.is(failed?.['source'], shown, 'the source failed warning shows the redacted source');
  t.true(typeof failed?.['error'] === 'string' && (failed['error'] as string).length > 0);
}

/** Runs the daemon on a source that cannot be opened until MQTT shows it offline (`withError`: with the error)
 * and it logged `running`; asks for config and health_check; stops it (exit 0). */
async function runFailingSource(t: ExecutionContext, source: string, withError: boolean): Promise<Watch> {
  const w = await runDaemon(t, source);
  await waitUntil(
    () => w.camera().some((c) => c.state === 'offline' && (!withError || c.error !== null)),
    60_000,
    `camera offline on MQTT\n${w.seen.stderr.slice(-2000)}`,
  );
  await waitUntil(() => w.logs().some((l) => l['msg'] === 'running'), 30_000, 'the running line');
  await askCommands(t, w);
  t.is(await w.stop(), 0, w.seen.stderr.slice(-2000));
  return w;
}

withModel('an rtsp:// source that cannot be opened: the password shows nowhere', async (t) => {
  const port = await freePort(); // nothing listens: OpenCV/FFmpeg fail and their errors echo the URI
  const source = `rtsp://${USER}:${PASS}@127.0.0.1:${port}/stream2`;
  const shown = `rtsp://[redacted]@127.0.0.1:${port}/stream2`;
  const w = await runFailingSource(t, source, true);
  assertLogged(t, w, shown);
  const camera = w.camera()[0];
  t.is(camera?.source, shown);
  t.true((camera?.error ?? '').length > 0, JSON.stringify(camera));
  t.true(w.seen.stdout.includes('"type":"camera"'), '--print shows the camera state');
  assertNoCanary(t, everything(w, checkConfig(t, source)));
});

withModel('a GStreamer pipeline with user-id= and user-pw=: neither shows anywhere', async (t) => {
  // Straight into appsink: with elements between, a pipeline that never prerolls blocks OpenCV's open.
  const source = `rtspsrc location=rtsp://127.0.0.1:${await freePort()}/x user-id=${USER} user-pw=${PASS} latency=0 ! appsink`;
  const shown = source.replace(USER, '[redacted]').replace(PASS, '[redacted]');
  const w = await runFailingSource(t, source, false);
  assertLogged(t, w, shown);
  t.is(w.camera()[0]?.source, shown);
  assertNoCanary(t, everything(w, checkConfig(t, source)));
});

withClip('an MJPEG stream with credentials that fails, then opens: neither state shows them', async (t) => {
  const port = await freePort();
  const source = `http://${USER}:${PASS}@127.0.0.1:${port}/cam.mjpg`;
  const shown = `http://[redacted]@127.0.0.1:${port}/cam.mjpg`;
  const w = await runDaemon(t, source);
  await waitUntil(() => w.camera().some((c) => c.state === 'offline'), 60_000, `a failed open (camera offline on MQTT)\n${w.seen.stderr.slice(-2000)}`);
  // Now serve the clip (ffmpeg is the HTTP server): the next reopen succeeds.
  const server = serveMjpeg(DEMO, port);
  t.teardown(() => void server.kill('SIGKILL'));
  await waitUntil(() => w.camera().some((c) => c.state === 'online'), 60_000, `camera online\n${w.seen.stderr.slice(-2000)}`);
  await askCommands(t, w);
  t.is(await w.stop(), 0, w.seen.stderr.slice(-2000));
  assertLogged(t, w, shown);
  t.is(w.logs().find((l) => l['msg'] === 'source opened')?.['source'], shown, 'the source opened line shows the redacted source');
  const online = w.camera().find((c) => c.state === 'online');
  t.is(online?.source, shown);
  assertNoCanary(t, everything(w, checkConfig(t, source)));
});

withModel('an HTTP source with secrets in its query (access_token, auth_token, pw, psw, key): none shows anywhere', async (t) => {
  const port = await freePort();
  const query = (v: (n: number) => string) => `user=admin&access_token=${v(1)}&auth_token=${v(2)}&res=640&pw=${v(3)}&psw=${v(4)}&key=${v(5)}`;
  const source = `http://127.0.0.1:${port}/video.cgi?${query((n) => `${PASS}-${n}`)}`;
  const shown = `http://127.0.0.1:${port}/video.cgi?${query(() => '[redacted]')}`;
  const w = await runFailingSource(t, source, true);
  assertLogged(t, w, shown);
  t.is(w.camera()[0]?.source, shown, 'the retained camera topic');
  assertNoCanary(t, everything(w, checkConfig(t, source)));
});

withModel('a GStreamer souphttpsrc with extra-headers="Authorization: Basic …": the credential shows nowhere', async (t) => {
  const source = `souphttpsrc location=http://127.0.0.1:${await freePort()}/x extra-headers="Authorization: Basic ${PASS}" ! appsink`;
  const shown = source.replace(PASS, '[redacted]');
  const w = await runFailingSource(t, source, false);
  t.is(w.logs().find((l) => l['msg'] === 'running')?.['source'], shown, 'the running line shows the redacted source');
  t.is(w.camera()[0]?.source, shown, 'the retained camera topic');
  assertNoCanary(t, everything(w, checkConfig(t, source)));
});
