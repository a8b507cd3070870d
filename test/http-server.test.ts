// The daemon's HTTP server (#19): config rules, login, and the real daemon on the demo clip serving the
// dashboard's files, its live feed (SSE), /healthz and /metrics, each body checked against its schema.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { loadConfig } from '../src/config/load.js';
import { DEMO_CLIP } from './helpers/clips/reference.js';
import { PayloadValidator } from '../src/contract/validate.js';
import { EMOTIONS } from '../src/types.js';
import { HttpServer } from '../src/http/server.js';
import { LiveState } from '../src/dashboard/live-state.js';
import { readStaticFiles } from '../src/http/static-files.js';
import { dashboardJson, healthz } from '../src/dashboard/views.js';
import { createLogger } from '../src/system/logger.js';
import { PipelineStats } from '../src/system/stats.js';
import { makeHttpDaemon, readStates } from './helpers/http-daemon.js';
import { freePort } from './helpers/ports.js';
import { sleep } from './helpers/wait.js';
import { parsePrometheusText } from './helpers/prom-text.js';
import { missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';

const validator = new PayloadValidator();
const noClip = firstMissing(missingModel(), !fs.existsSync(DEMO_CLIP) && `${DEMO_CLIP} not found (deploy/setup.sh makes it)`);

function tmpFile(name: string, content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-http-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, content);
  return file;
}

test('an HTTP server beyond loopback needs http.username and http.password_file; loopback and off do not', (t) => {
  const load = (flags: Record<string, string | boolean>) => loadConfig({ env: {}, flags: { 'http.enabled': true, ...flags } });
  const err = t.throws(() => load({ 'http.host': '0.0.0.0' }));
  t.regex(err?.message ?? '', /http\.host = "0\.0\.0\.0" \(from flag --http-host\).*missing: http\.username, http\.password_file/s);
  t.regex(t.throws(() => load({ 'http.host': '192.168.1.20', 'http.username': 'kiosk' }))?.message ?? '', /missing: http\.password_file/);
  t.notThrows(() => load({ 'http.host': '0.0.0.0', 'http.username': 'kiosk', 'http.password_file': '/etc/emotiond/http-password' }));
  for (const host of ['127.0.0.1', '127.3.2.1', '::1', 'localhost']) t.notThrows(() => load({ 'http.host': host }), host);
  t.notThrows(() => loadConfig({ env: {}, flags: { 'http.enabled': false, 'http.host': '0.0.0.0' } }));
  t.is(loadConfig({ env: {}, flags: {} }).config.http.enabled, false, 'off by default');
  t.is(loadConfig({ env: { EMOTIOND_HTTP_PORT: '9100' } }).config.http.port, 9100);
});

test('with a username every request logs in (HTTP Basic), also beyond loopback; a bad or empty password file stops the start', async (t) => {
  const pw = tmpFile('http-password', 's3cret pass\n');
  const { http, url } = await makeHttpDaemon({ 'http.host': '0.0.0.0', 'http.username': 'kiosk', 'http.password_file': pw });
  await http.start();
  try {
    const basic = (u: string, p: string) => ({ Authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
    for (const p of ['/', '/healthz', '/readyz', '/metrics', '/events', '/dashboard.js']) {
      const res = await fetch(url + p);
      t.is(res.status, 401, p);
      t.regex(res.headers.get('www-authenticate') ?? '', /^Basic realm="emotiond"/);
    }
    t.is((await fetch(`${url}/healthz`, { headers: basic('kiosk', 'wrong') })).status, 401);
    t.is((await fetch(`${url}/healthz`, { headers: basic('other', 's3cret pass') })).status, 401);
    const ok = await fetch(`${url}/healthz`, { headers: basic('kiosk', 's3cret pass') });
    t.is(ok.status, 200);
    t.true(validator.validate('healthz', await ok.json()).ok);
  } finally {
    await http.stop();
  }
  const empty = tmpFile('http-password', '');
  const e1 = await makeHttpDaemon({ 'http.host': '0.0.0.0', 'http.username': 'kiosk', 'http.password_file': empty });
  await t.throwsAsync(() => e1.http.start(), { message: /http\.password_file .* is empty: the HTTP server listens on 0\.0\.0\.0/ });
  const e2 = await makeHttpDaemon({ 'http.username': 'kiosk', 'http.password_file': '/nonexistent/http-password' });
  await t.throwsAsync(() => e2.http.start(), { message: /http\.password_file \/nonexistent\/http-password: ENOENT/ });
});

test('a port in use is named in the error', async (t) => {
  const a = await makeHttpDaemon({});
  await a.http.start();
  try {
    const b = await makeHttpDaemon({ 'http.port': String(a.http.port) });
    await t.throwsAsync(() => b.http.start(), { message: new RegExp(`cannot listen on 127\\.0\\.0\\.1:${a.http.port}: the port is in use`) });
  } finally {
    await a.http.stop();
  }
});

test('/healthz and /readyz say failing (503) once the main thread has not refreshed them for a while, and recover', async (t) => {
  const port = await freePort();
  const src = { daemon: { stats: new PipelineStats(), version: 'test', isPaused: () => false }, live: new LiveState(), mqtt: null, device: 'test', notice: '' };
  const server = new HttpServer({
    host: '127.0.0.1',
    port,
    logger: createLogger({ level: 'silent', pretty: 'no' }),
    files: readStaticFiles(),
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
    health: () => {
      const body = healthz(src);
      return { live: body.live, ready: body.ready, body };
    },
    message: () => dashboardJson(src),
    mainSilentMs: 2000,
  });
  await server.start();
  const get = async (path = '/healthz') => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    const body = (await res.json()) as { status: string; live: boolean };
    t.true(validator.validate('healthz', body).ok);
    return { code: res.status, status: body.status, live: body.live };
  };
  try {
    t.deepEqual(await get(), { code: 200, status: 'starting', live: true });
    t.deepEqual(await get('/readyz'), { code: 503, status: 'starting', live: true }, 'live, not ready: /readyz 503');
    // The main thread "stuck": no refresh. Once mainSilentMs (2 s) has passed, the server's thread says so.
    let stuck = await get();
    for (const end = Date.now() + 10_000; stuck.code === 200 && Date.now() < end; ) stuck = (await sleep(100), await get());
    t.deepEqual(stuck, { code: 503, status: 'failing', live: false });
    t.deepEqual(await get('/readyz'), { code: 503, status: 'failing', live: false });
    server.refresh();
    // The refresh reaches the server's thread as a message, which a request may overtake: ask until it shows.
    let after = await get();
    for (let i = 0; i < 50 && after.code !== 200; i++) after = (await sleep(100), await get());
    t.deepEqual(after, { code: 200, status: 'starting', live: true });
  } finally {
    await server.stop();
  }
});

testUnless(noClip)(
  'the daemon on the demo clip serves the page, a live feed with a mood and face boxes, /healthz, /readyz and /metrics, all valid',
  async (t) => {
    const { daemon, http, url } = await makeHttpDaemon({ 'source.uri': DEMO_CLIP, 'source.pace': 'realtime', 'classifier.model': testModel() as string });
    await daemon.start();
    try {
      const page = await fetch(`${url}/`);
      t.is(page.status, 200);
      t.regex(page.headers.get('content-type') ?? '', /^text\/html/);
      t.regex(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
      const html = await page.text();
      t.regex(html, /<div id="mood" class="mood" aria-live="polite"><\/div>/, 'the mood element is empty: the script fills it');
      for (const e of EMOTIONS) t.false(html.includes(e), `the served HTML holds no emotion (${e})`);
      t.false(/https?:\/\//.test(html.replace('http://www.w3.org', '')), 'no remote assets');
      t.regex((await fetch(`${url}/dashboard.js`)).headers.get('content-type') ?? '', /^text\/javascript/);
      t.regex((await fetch(`${url}/dashboard.css`)).headers.get('content-type') ?? '', /^text\/css/);
      t.is((await fetch(`${url}/nope`)).status, 404);
      t.is((await fetch(`${url}/`, { method: 'POST' })).status, 405);

      const states = await readStates(`${url}/events`, (s) => s.some((m) => hasMood(m)), 30_000);
      t.true(states.length > 0);
      for (const s of states) {
        const v = validator.validate('dashboard', s);
        t.true(v.ok, v.error);
      }
      const withMood = states.find(hasMood) as {
        mood: string;
        faces: Array<{ track: number; box: unknown }>;
        notice: string | null;
        status: { camera: string };
      };
      t.truthy(withMood, `a state with a mood and a face among ${states.length}`);
      t.true(EMOTIONS.includes(withMood.mood as never));
      t.true(withMood.faces.length >= 1);
      t.is(withMood.notice, 'Emotion recognition is in use in this area.');
      t.is(withMood.status.camera, 'online');

      // /healthz answers from the state the main thread posts every second: it may still say "starting" for up
      // to a second after the live feed showed the first mood.
      type Health = { live: boolean; ready: boolean; status: string; mqtt: string };
      let health = await fetch(`${url}/healthz`);
      let body = (await health.json()) as Health;
      for (let i = 0; i < 30 && !body.ready; i++) {
        await new Promise((r) => setTimeout(r, 100));
        health = await fetch(`${url}/healthz`);
        body = (await health.json()) as Health;
      }
      t.is(health.status, 200);
      const hv = validator.validate('healthz', body);
      t.true(hv.ok, hv.error);
      t.like(body, { live: true, ready: true, status: 'ok', mqtt: 'off' });
      const ready = await fetch(`${url}/readyz`);
      t.is(ready.status, 200, '/readyz 200 once ready');
      t.like(await ready.json(), { ready: true, status: 'ok' });

      const metrics = await fetch(`${url}/metrics`);
      t.regex(metrics.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
      let families = parsePrometheusText(await metrics.text());
      const value = (name: string, labels: Record<string, string> = {}) =>
        families.get(name)?.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
      t.is(families.get('emotiond_frames_processed_total')?.type, 'counter');
      t.true((value('emotiond_frames_processed_total') ?? 0) > 0);
      t.is(value('emotiond_frames_dropped_total') !== undefined, true);
      t.is(value('emotiond_frames_bad_total', { cause: 'source' }), 0, 'both causes of bad frames, from the start');
      t.is(value('emotiond_frames_bad_total', { cause: 'pipeline' }), 0);
      t.is(families.get('emotiond_faces')?.type, 'gauge');
      t.is(families.get('emotiond_stage_duration_seconds')?.type, 'histogram');
      for (const stage of ['detect', 'track', 'classify', 'events', 'publish', 'frame']) {
        t.true(
          (families.get('emotiond_stage_duration_seconds')?.samples.find((s) => s.name.endsWith('_count') && s.labels['stage'] === stage)?.value ?? 0) > 0,
          stage,
        );
      }
      t.deepEqual(
        families.get('emotiond_emotion_seconds_total')?.samples.map((s) => s.labels['emotion']),
        [...EMOTIONS],
      );
      // Face-seconds are added with the room summary that brings the mood (events/room-window.ts); read /metrics again
      // until they are there, should a summary land between the page's state and the scrape.
      const counted = () => EMOTIONS.some((e) => (value('emotiond_emotion_seconds_total', { emotion: e }) ?? 0) > 0);
      for (let i = 0; i < 100 && !counted(); i++) {
        await sleep(100);
        families = parsePrometheusText(await (await fetch(`${url}/metrics`)).text());
      }
      t.true(counted(), 'face-seconds counted');
      // The process figures once: prom-client's default set, and of memory the daemon adds only the split of it.
      t.true((value('process_resident_memory_bytes') ?? 0) > 10 * 2 ** 20);
      t.true((value('emotiond_memory_bytes', { kind: 'anon' }) ?? 0) > 0);
      t.is(value('emotiond_memory_bytes', { kind: 'rss' }), undefined, 'the resident total is process_resident_memory_bytes');
      t.true(families.has('process_cpu_seconds_total'));
      t.false(families.has('emotiond_cpu_percent'), 'CPU once: process_cpu_seconds_total');
      t.false(families.has('emotiond_mqtt_queue_length'), 'MQTT is off: no MQTT metrics');
    } finally {
      await daemon.stop();
    }
    await t.throwsAsync(() => fetch(`${url}/healthz`), undefined, 'stopped with the daemon');
  },
);

testUnless(noClip)('with privacy.per_face false the dashboard gets no faces, tracks or boxes, and its mood comes from the room summaries', async (t) => {
  const { daemon, url } = await makeHttpDaemon({
    'source.uri': DEMO_CLIP,
    'source.pace': 'realtime',
    'classifier.model': testModel() as string,
    'privacy.per_face': false,
    'privacy.notice': 'Research study: emotion recognition is in use in this room.',
    'events.room_interval_s': '2',
  });
  await daemon.start();
  try {
    const raw: string[] = [];
    const states = await readStates(`${url}/events`, (s) => s.some((m) => (m as { mood_source: string }).mood_source === 'room' && hasMoodValue(m)), 30_000);
    for (const s of states) {
      raw.push(JSON.stringify(s));
      t.true(validator.validate('dashboard', s).ok);
      t.deepEqual((s as { faces: unknown[] }).faces, []);
    }
    t.false(
      raw.some((r) => /"track"|"box"/.test(r)),
      'no track id or box in any message',
    );
    const last = states.at(-1) as { mood: string | null; mood_source: string; faces_present: number; notice: string | null };
    t.is(last.notice, 'Research study: emotion recognition is in use in this room.', 'privacy.notice as configured');
    t.is(last.mood_source, 'room', `the last of ${states.length} states`);
    t.true(EMOTIONS.includes(last.mood as never));
    t.true(last.faces_present >= 1);
  } finally {
    await daemon.stop();
  }
});

function hasMood(m: unknown): boolean {
  const s = m as { mood: unknown; faces: unknown[] };
  return s.mood !== null && s.faces.length > 0;
}

function hasMoodValue(m: unknown): boolean {
  return (m as { mood: unknown }).mood !== null;
}
