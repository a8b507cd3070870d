// The dashboard's server against hostile clients (#28), each with a real client on the real server: another
// site's Host (DNS rebinding) with curl, cross-site reads, 400 live streams at once, a URL that does not parse,
// a stalled request, and repeated bad logins.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { makeHttpDaemon } from './helpers/http-daemon.js';
import { waitUntil } from './helpers/wait.js';
import { captureLogger } from './publish-helpers.js';
import { LoginThrottle } from '../src/system/login-check.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One GET with its own connection; `headers.host` replaces the Host header. */
function get(port: number, urlPath: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
  });
}

/** curl's status code for the URL (at most `maxTime` s: a live stream that is let through never ends). */
function curlStatus(url: string, headers: string[], maxTime = 3): string {
  const args = ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', String(maxTime), ...headers.flatMap((h) => ['-H', h]), url];
  return spawnSync('curl', args, { encoding: 'utf8' }).stdout;
}

const noCurl = spawnSync('curl', ['--version']).status !== 0;

(noCurl ? test.skip : test)('DNS rebinding: a request for another host name gets 421 on every path; the own names get through (curl)', async (t) => {
  const { http: part, url } = await makeHttpDaemon({});
  await part.start();
  t.teardown(() => part.stop());
  const port = part.port;
  for (const p of ['/events', '/metrics', '/healthz', '/', '/dashboard.js']) {
    t.is(curlStatus(`${url}${p}`, [`Host: attacker.example:${port}`]), '421', `${p} for attacker.example`);
  }
  t.is(curlStatus(`${url}/healthz`, ['Host: attacker.example']), '421', 'no port');
  t.is(curlStatus(`${url}/healthz`, [`Host: 127.0.0.1:${port + 1}`]), '421', 'another port');
  t.is(curlStatus(`${url}/healthz`, [`Host: kiosk-1.lan.attacker.example:${port}`]), '421');
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `LOCALHOST:${port}`, `[::1]:${port}`]) {
    t.is(curlStatus(`${url}/healthz`, [`Host: ${host}`]), '200', host);
  }
  t.is(curlStatus(`${url}/events`, [`Host: localhost:${port}`], 1), '200', 'the live feed for its own name');
  const refused = await get(port, '/events', { host: `attacker.example:${port}` });
  t.is(refused.status, 421);
  t.notRegex(refused.body, /track|box/, 'nothing of the room in the answer');
});

(noCurl ? test.skip : test)("http.allowed_hosts adds names; on every address the machine's own addresses are its names too (curl)", async (t) => {
  // A name with a port of its own: a container's port published as another one (-p 8080:8787), a proxy.
  const { http: part, url } = await makeHttpDaemon({ 'http.allowed_hosts': 'kiosk-1.lan, Dash.LAN, LOCALHOST:18080 [::1]:18443' });
  await part.start();
  t.teardown(() => part.stop());
  const port = part.port;
  t.is(curlStatus(`${url}/healthz`, [`Host: kiosk-1.lan:${port}`]), '200');
  t.is(curlStatus(`${url}/healthz`, [`Host: dash.lan:${port}`]), '200');
  t.is(curlStatus(`${url}/healthz`, [`Host: kiosk-1.lan:${port + 1}`]), '421');
  t.is(curlStatus(`${url}/healthz`, [`Host: attacker.example:${port}`]), '421');
  t.is(curlStatus(`${url}/healthz`, ['Host: localhost:18080']), '200', 'the published port named in allowed_hosts');
  t.is(curlStatus(`${url}/healthz`, ['Host: [::1]:18443']), '200', 'an IPv6 name with its port');
  t.is(curlStatus(`${url}/healthz`, ['Host: localhost:18081']), '421', 'another port of the same name');
  t.is(curlStatus(`${url}/healthz`, ['Host: kiosk-1.lan:18080']), '421', 'the port goes with its own name only');
  t.is(curlStatus(`${url}/healthz`, ['Host: attacker.example:18080']), '421');
  const pw = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-guard-')), 'pw');
  fs.writeFileSync(pw, 'pw');
  const wild = await makeHttpDaemon({ 'http.host': '0.0.0.0', 'http.username': 'u', 'http.password_file': pw });
  await wild.http.start();
  t.teardown(() => wild.http.stop());
  const addresses = Object.values(os.networkInterfaces())
    .flatMap((l) => l ?? [])
    .filter((a) => a.family === 'IPv4')
    .map((a) => a.address);
  for (const a of addresses)
    t.is(curlStatus(`http://127.0.0.1:${wild.http.port}/healthz`, [`Host: ${a}:${wild.http.port}`, 'Authorization: Basic dTpwdw==']), '200', a);
  t.is(
    curlStatus(`http://127.0.0.1:${wild.http.port}/healthz`, [`Host: ${os.hostname()}:${wild.http.port}`, 'Authorization: Basic dTpwdw==']),
    '200',
    'the hostname',
  );
  t.is(curlStatus(`http://127.0.0.1:${wild.http.port}/healthz`, [`Host: attacker.example:${wild.http.port}`, 'Authorization: Basic dTpwdw==']), '421');
});

test("cross-site reads are refused (403); a link followed to the page, and the page's own requests, are not", async (t) => {
  const { http: part } = await makeHttpDaemon({});
  await part.start();
  t.teardown(() => part.stop());
  const port = part.port;
  const crossSite = { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image', referer: 'https://evil.example/' };
  for (const p of ['/events', '/metrics', '/healthz', '/dashboard.js', '/']) t.is((await get(port, p, crossSite)).status, 403, p);
  t.is((await get(port, '/events', { ...crossSite, 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' })).status, 403, 'fetch() from another site');
  t.is((await get(port, '/', { ...crossSite, 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' })).status, 403, 'framed by another site');
  const link = await get(port, '/', { ...crossSite, 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' });
  t.is(link.status, 200, 'a link followed from another site: the page is shown, that site reads nothing');
  t.regex(String(link.headers['content-security-policy']), /frame-ancestors 'none'/);
  const own = await get(port, '/healthz', { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' });
  t.is(own.status, 200);
  t.is(own.headers['cross-origin-resource-policy'], 'same-origin');
});

test('400 live streams at once: http.max_streams (16) get the feed, the others 503 (or no connection); the server still answers', async (t) => {
  const { http: part } = await makeHttpDaemon({});
  await part.start();
  t.teardown(() => part.stop());
  const port = part.port;
  const requests: http.ClientRequest[] = [];
  const outcomes = await Promise.all(
    Array.from(
      { length: 400 },
      () =>
        new Promise<string>((resolve) => {
          const req = http.get({ host: '127.0.0.1', port, path: '/events', agent: false }, (res) => {
            resolve(String(res.statusCode));
            res.resume();
          });
          req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
          requests.push(req);
        }),
    ),
  );
  t.teardown(() => requests.forEach((r) => r.destroy()));
  const count = (what: string) => outcomes.filter((o) => o === what).length;
  t.is(count('200'), 16, JSON.stringify(Object.fromEntries([...new Set(outcomes)].map((o) => [o, count(o)]))));
  t.true(count('503') > 0, 'the cap answers 503');
  t.is(count('200') + count('503') + count('ECONNRESET') + count('EPIPE'), 400);
  await waitUntil(() => part.dashboards === 16, 5000, '16 dashboards');
  t.is((await get(port, '/healthz')).status, 200, '/healthz still answers with 16 streams open');
  const busy = await get(port, '/events');
  t.is(busy.status, 503);
  t.is(busy.headers['retry-after'], '10');
  for (const r of requests) r.destroy();
  await waitUntil(() => part.dashboards === 0, 5000, 'the streams to close');
  const again = await new Promise<number>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/events', agent: false }, (res) => {
      resolve(res.statusCode ?? 0);
      req.destroy();
    });
    req.on('error', reject);
  });
  t.is(again, 200, 'a stream is taken again once others closed');
});

/** Sends `raw` on a new connection; resolves with what came back when the server closed it (or after `waitMs`). */
function rawExchange(port: number, raw: string, waitMs: number): Promise<{ text: string; closedAfterMs: number | null }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write(raw));
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString()));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closedAfterMs: null });
    }, waitMs);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - t0 });
    });
    socket.on('error', () => undefined);
  });
}

test('GET //[x (a URL that does not parse) gets 400, and no error is logged', async (t) => {
  const log = captureLogger('info');
  const { http: part } = await makeHttpDaemon({}, {}, log.logger);
  await part.start();
  t.teardown(() => part.stop());
  const port = part.port;
  for (let i = 0; i < 3; i++) {
    const { text } = await rawExchange(port, `GET //[x HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`, 20_000);
    t.regex(text, /^HTTP\/1\.1 400 /, text.slice(0, 100));
  }
  // A scrape: the server's thread asks the main thread to render the metrics after any log line it posted before
  // (one channel, in order), so once the answer comes, every line the requests above could log is logged.
  await get(port, '/metrics');
  const errors = log.lines.filter((l) => (l['level'] as number) >= 50);
  t.is(errors.length, 0, `no error line: ${JSON.stringify(errors)}`);
  t.is((await get(port, '/healthz')).status, 200);
});

test('a request whose headers never end is answered 408 and closed within the header timeout (10 s)', async (t) => {
  const { http: part } = await makeHttpDaemon({});
  await part.start();
  t.teardown(() => part.stop());
  const port = part.port;
  const { text, closedAfterMs } = await rawExchange(port, `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: 1\r\n`, 25_000);
  t.not(closedAfterMs, null, 'the server closed the stalled connection');
  t.true((closedAfterMs ?? 0) >= 9000, `closed after ${closedAfterMs} ms, not before the timeout`);
  t.regex(text, /^HTTP\/1\.1 408 /);
});

test('repeated bad logins are logged (budgeted) and slowed down; both fields are always compared', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-guard-'));
  const pw = path.join(dir, 'http-password');
  fs.writeFileSync(pw, 'right-pw\n');
  const log = captureLogger('info');
  const { http: part } = await makeHttpDaemon({ 'http.username': 'kiosk', 'http.password_file': pw }, {}, log.logger);
  await part.start();
  t.teardown(() => part.stop());
  const port = part.port;
  const basic = (u: string, p: string) => ({ authorization: `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}` });
  const refusals = () => log.lines.filter((l) => l['msg'] === 'refused an HTTP login: wrong username or password');

  t.is((await get(port, '/healthz')).status, 401, 'no login at all: asked for one');
  t.is(refusals().length, 0, 'a browser asks without a login first: that is not a failure');
  const took: number[] = [];
  for (let i = 0; i < 8; i++) {
    const t0 = Date.now();
    t.is((await get(port, '/healthz', basic('kiosk', `guess-${i}`))).status, 401);
    took.push(Date.now() - t0);
  }
  // The first five are answered at once; then each waits 1 s more (lower bounds only: a slow machine is slower).
  t.true(took[5]! >= 1000 && took[6]! >= 2000 && took[7]! >= 3000, `answer times ${took.join(', ')} ms`);
  await waitUntil(() => refusals().length === 8, 3000, 'eight refusal lines');
  t.deepEqual(
    refusals().map((l) => l['failures']),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  t.true(refusals().every((l) => l['level'] === 40 && l['address'] === '127.0.0.1' && JSON.stringify(l['wrong']) === '["password"]'));
  t.false(JSON.stringify(log.lines).includes('guess-'), 'the guessed passwords are not logged');

  t.is((await get(port, '/healthz', basic('kiosk', 'right-pw'))).status, 200, 'the right login gets in, and clears the count');
  t.is((await get(port, '/healthz', basic('other', 'right-pw'))).status, 401, 'a wrong user name with the right password');
  t.is((await get(port, '/healthz', basic('other', 'nope'))).status, 401);
  await waitUntil(() => refusals().length === 10, 3000, 'two more refusal lines');
  const [userOnly, both] = refusals().slice(8);
  t.deepEqual(userOnly?.['wrong'], ['username'], 'the password was compared (and matched) although the user name was wrong');
  t.deepEqual(both?.['wrong'], ['username', 'password']);
  t.deepEqual([userOnly?.['failures'], both?.['failures']], [1, 2], 'counted again from zero after the right login');
});

test('failed logins are counted on the monotonic clock: a step of the wall clock (NTP on a board without a real-time clock) neither forgets a count nor makes one last', (t) => {
  const wall = Date.now;
  let stepMs = 0;
  Date.now = () => wall() + stepMs;
  t.teardown(() => void (Date.now = wall));
  const throttle = new LoginThrottle();
  for (let i = 1; i <= 6; i++) t.is(throttle.failed('192.0.2.7').count, i);
  // A day forward: ten minutes without a failure forget a count, and on the wall clock this would read as a day.
  stepMs = 86_400_000;
  t.deepEqual(throttle.failed('192.0.2.7'), { count: 7, delayMs: 2000 });
  stepMs = -86_400_000;
  t.deepEqual(throttle.failed('192.0.2.7'), { count: 8, delayMs: 3000 });
});
