// The HTTP server's own thread (a worker): it answers every request from what the daemon's main thread last
// posted, so that a frame in progress (synchronous OpenCV detection, tens of ms on a busy Pi) never delays a
// response. GET / and its two assets, GET /events (Server-Sent Events), GET /metrics, GET /healthz; read-only.
// With a username, every request logs in (HTTP Basic).
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { FromWorker, ToWorker, WorkerSetup } from './worker-protocol.js';

/** Headers on everything: no caching of live data, no framing, scripts only from here. */
const COMMON_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
};
const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
/** An SSE comment this often keeps proxies and the browser from closing an idle stream. */
const KEEPALIVE_MS = 15_000;
/** Metrics rendered this recently are served as they are; older ones are asked for. */
const METRICS_FRESH_MS = 2000;
const METRICS_WAIT_MS = 5000;

const setup = workerData as WorkerSetup;
const port = parentPort;
if (!port) throw new Error('server-worker.ts runs as a worker thread');
const post = (m: FromWorker): void => port.postMessage(m);
const files = new Map(setup.files.map((f) => [f.path, { type: f.type, body: Buffer.from(f.body) }]));
const clients = new Set<http.ServerResponse>();
let state = '';
// Ages are taken on this thread's monotonic clock when a message arrives: the wall clock may step meanwhile.
let health: (Extract<ToWorker, { kind: 'health' }> & { receivedMs: number }) | undefined;
let metrics: (Extract<ToWorker, { kind: 'metrics' }> & { receivedMs: number }) | undefined;
const waitingForMetrics: Array<{ req: http.IncomingMessage; res: http.ServerResponse; timer: NodeJS.Timeout }> = [];

const server = http.createServer((req, res) => {
  try {
    handle(req, res);
  } catch (err) {
    if (!res.headersSent) res.writeHead(500, COMMON_HEADERS);
    res.end();
    post({ kind: 'log', level: 'error', message: `HTTP request ${req.url ?? ''} failed: ${(err as Error).message}` });
  }
});
server.keepAliveTimeout = 5000;
server.once('error', (err: NodeJS.ErrnoException) => post({ kind: 'error', code: err.code ?? '', message: err.message }));
server.listen(setup.port, setup.host, () => {
  server.on('error', (err) => post({ kind: 'log', level: 'error', message: `HTTP server error: ${err.message}` }));
  post({ kind: 'listening', port: (server.address() as AddressInfo).port });
});
const keepalive = setInterval(() => each((res) => res.write(': keepalive\n\n')), KEEPALIVE_MS);

port.on('message', (m: ToWorker) => {
  if (m.kind === 'state') {
    state = m.json;
    const frame = `event: state\ndata: ${m.json}\n\n`;
    // A dashboard that does not keep up misses updates rather than piling them up.
    each((res) => {
      if (!res.writableNeedDrain) res.write(frame);
    });
  } else if (m.kind === 'health') health = { ...m, receivedMs: performance.now() };
  else if (m.kind === 'metrics') {
    metrics = { ...m, receivedMs: performance.now() };
    for (const w of waitingForMetrics.splice(0)) {
      clearTimeout(w.timer);
      send(w.req, w.res, 200, m.contentType, m.body);
    }
  } else if (m.kind === 'stop') stop();
});

function handle(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (!authorised(req)) {
    res.writeHead(401, { ...COMMON_HEADERS, 'WWW-Authenticate': 'Basic realm="emotiond", charset="UTF-8"', 'Content-Type': TEXT });
    res.end('login required\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...COMMON_HEADERS, Allow: 'GET, HEAD', 'Content-Type': TEXT });
    res.end('only GET and HEAD\n');
    return;
  }
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/events') return subscribe(req, res);
  if (path === '/metrics') return scrape(req, res);
  if (path === '/healthz') return healthz(req, res);
  const file = files.get(path);
  if (file) return send(req, res, 200, file.type, file.body);
  send(req, res, 404, TEXT, 'not found: try /, /metrics or /healthz\n');
}

function send(req: http.IncomingMessage, res: http.ServerResponse, code: number, type: string, body: string | Buffer): void {
  res.writeHead(code, { ...COMMON_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** The last metrics the main thread rendered (it renders them every second while scrapes come), else new ones. */
function scrape(req: http.IncomingMessage, res: http.ServerResponse): void {
  post({ kind: 'scraped' });
  if (metrics && performance.now() - metrics.receivedMs <= METRICS_FRESH_MS) return send(req, res, 200, metrics.contentType, metrics.body);
  const timer = setTimeout(() => {
    const i = waitingForMetrics.findIndex((w) => w.res === res);
    if (i >= 0) waitingForMetrics.splice(i, 1);
    send(req, res, 503, TEXT, 'the daemon did not render its metrics in time\n');
  }, METRICS_WAIT_MS);
  waitingForMetrics.push({ req, res, timer });
}

/** The health the main thread posts every second; when it has gone silent, its event loop is stuck: not live. */
function healthz(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (!health) return send(req, res, 503, JSON_TYPE, JSON.stringify({ error: 'no health yet' }));
  if (performance.now() - health.receivedMs <= setup.mainSilentMs) return send(req, res, health.code, JSON_TYPE, health.body);
  const body = { ...(JSON.parse(health.body) as Record<string, unknown>), status: 'failing', live: false, ready: false };
  send(req, res, 503, JSON_TYPE, JSON.stringify(body));
}

function subscribe(req: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
  if (req.method === 'HEAD') return void res.end();
  res.write(`retry: 2000\n${state ? `event: state\ndata: ${state}\n\n` : '\n'}`);
  clients.add(res);
  post({ kind: 'dashboards', count: clients.size });
  const drop = (): void => {
    if (clients.delete(res)) post({ kind: 'dashboards', count: clients.size });
  };
  req.on('close', drop);
  res.on('error', drop);
}

function each(fn: (res: http.ServerResponse) => void): void {
  for (const res of clients) {
    try {
      fn(res);
    } catch {
      clients.delete(res);
    }
  }
}

function authorised(req: http.IncomingMessage): boolean {
  const auth = setup.auth;
  if (!auth) return true;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
  if (!m?.[1]) return false;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return false;
  return same(text.slice(0, colon), auth.username) && same(text.slice(colon + 1), auth.password);
}

/** Compares in constant time (the hashes are of one length whatever the strings are). */
function same(a: string, b: string): boolean {
  return crypto.timingSafeEqual(crypto.createHash('sha256').update(a).digest(), crypto.createHash('sha256').update(b).digest());
}

function stop(): void {
  clearInterval(keepalive);
  for (const w of waitingForMetrics.splice(0)) clearTimeout(w.timer);
  for (const res of clients) res.end();
  clients.clear();
  server.close(() => post({ kind: 'stopped' }));
  server.closeAllConnections();
}
