// The HTTP server's own thread (a worker): it answers every request from what the daemon's main thread last
// posted, so that a frame in progress (synchronous OpenCV detection, tens of ms on a busy Pi) never delays a
// response. GET / and its two assets, GET /events (Server-Sent Events), GET /metrics, GET /healthz, GET /readyz; read-only.
// With a username, every request logs in (HTTP Basic). Requests for another host name and cross-site reads are
// refused first (request-guard.ts); the live feed, connections and slow requests are bounded.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import { LogBudget } from '../system/log-budget.js';
import { LoginCheck, LoginThrottle } from '../system/login-check.js';
import { HostNames, refusal } from './request-guard.js';
import type { FromWorker, ToWorker, WorkerSetup } from './worker-protocol.js';

/** Headers on everything: no caching of live data, no framing, scripts only from here. */
const COMMON_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
  'Cross-Origin-Resource-Policy': 'same-origin',
};
const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

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
const hostNames = new HostNames({ bind: setup.host, extra: setup.allowedHosts });
const login = setup.auth ? new LoginCheck(setup.auth) : undefined;
const throttle = new LoginThrottle();
/** Refused logins are logged at most 10 a minute (anyone who reaches the port can try). */
const refusedLog = new LogBudget({ burst: 10, windowMs: 60_000 });

/** Connections beyond the live feed's clients: page loads, scrapes, health checks. */
const SPARE_CONNECTIONS = 48;
/** A client must have sent its headers within this long, its whole request within REQUEST_TIMEOUT_MS. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;
// Timeouts are checked every second (Node's default, 30 s, would let a stalled client hold its socket far longer).
const server = http.createServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
  try {
    handle(req, res);
  } catch (err) {
    if (!res.headersSent) res.writeHead(500, COMMON_HEADERS);
    res.end();
    post({ kind: 'log', level: 'error', message: `HTTP request ${req.url ?? ''} failed: ${(err as Error).message}` });
  }
});
server.keepAliveTimeout = 5000;
server.headersTimeout = HEADERS_TIMEOUT_MS;
server.requestTimeout = REQUEST_TIMEOUT_MS;
server.maxConnections = setup.maxStreams + SPARE_CONNECTIONS;
server.once('error', (err: NodeJS.ErrnoException) => post({ kind: 'error', code: err.code ?? '', message: err.message }));
server.listen(setup.port, setup.host, () => {
  server.on('error', (err) => post({ kind: 'log', level: 'error', message: `HTTP server error: ${err.message}` }));
  hostNames.port = (server.address() as AddressInfo).port;
  post({ kind: 'listening', port: hostNames.port });
});
/** An SSE comment this often keeps proxies and the browser from closing an idle stream. */
const KEEPALIVE_MS = 15_000;
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
  const refused = refusal(req, hostNames);
  if (refused) return send(req, res, refused.code, TEXT, refused.text);
  const loginDelayMs = loginRefused(req);
  if (loginDelayMs !== undefined) return refuseLogin(res, loginDelayMs);
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...COMMON_HEADERS, Allow: 'GET, HEAD', 'Content-Type': TEXT });
    res.end('only GET and HEAD\n');
    return;
  }
  const path = pathOf(req.url);
  if (path === undefined) return send(req, res, 400, TEXT, 'bad request: the URL cannot be parsed\n');
  if (path === '/events') return subscribe(req, res);
  if (path === '/metrics') return scrape(req, res);
  if (path === '/healthz') return healthz(req, res, 'live');
  if (path === '/readyz') return healthz(req, res, 'ready');
  const file = files.get(path);
  if (file) return send(req, res, 200, file.type, file.body);
  send(req, res, 404, TEXT, 'not found: try /, /metrics, /healthz or /readyz\n');
}

function send(req: http.IncomingMessage, res: http.ServerResponse, code: number, type: string, body: string | Buffer): void {
  res.writeHead(code, { ...COMMON_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Metrics rendered this recently are served as they are; older ones are asked for. */
const METRICS_FRESH_MS = 2000;
const METRICS_WAIT_MS = 5000;

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

/** The health the main thread posts every second, 200 while live (/healthz) or while ready (/readyz), else 503;
 * when it has gone silent, its event loop is stuck: not live. */
function healthz(req: http.IncomingMessage, res: http.ServerResponse, by: 'live' | 'ready'): void {
  if (!health) return send(req, res, 503, JSON_TYPE, JSON.stringify({ error: 'no health yet' }));
  if (performance.now() - health.receivedMs <= setup.mainSilentMs) return send(req, res, health[by] ? 200 : 503, JSON_TYPE, health.body);
  const body = { ...(JSON.parse(health.body) as Record<string, unknown>), status: 'failing', live: false, ready: false };
  send(req, res, 503, JSON_TYPE, JSON.stringify(body));
}

/** The URL's path, or undefined when it is not a URL (`GET //[x`). */
function pathOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

function subscribe(req: http.IncomingMessage, res: http.ServerResponse): void {
  if (clients.size >= setup.maxStreams) {
    res.setHeader('Retry-After', '10');
    return send(req, res, 503, TEXT, `too many live dashboards (http.max_streams = ${setup.maxStreams})\n`);
  }
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

/**
 * undefined when the request's login is right (or none is needed); else how long to wait before the 401. A
 * request without any login is not counted as a failure: a browser asks first without one.
 */
function loginRefused(req: http.IncomingMessage): number | undefined {
  if (!login) return undefined;
  const header = req.headers.authorization;
  if (header === undefined) return 0;
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  const text = m?.[1] ? Buffer.from(m[1], 'base64').toString('utf8') : '';
  const colon = text.indexOf(':');
  const wrong = colon < 0 ? (['username', 'password'] as const) : login.check(text.slice(0, colon), text.slice(colon + 1));
  const address = req.socket.remoteAddress ?? 'unknown';
  if (wrong.length === 0) {
    throttle.succeeded(address);
    return undefined;
  }
  const { delayMs, count } = throttle.failed(address);
  const d = refusedLog.take();
  if (d.log) {
    const fields = {
      address,
      wrong: [...wrong],
      failures: count,
      ...(delayMs > 0 ? { delay_ms: delayMs } : {}),
      ...(d.suppressed > 0 ? { suppressed: d.suppressed } : {}),
    };
    post({ kind: 'log', level: 'warn', message: 'refused an HTTP login: wrong username or password', fields });
  }
  return delayMs;
}

/** 401; after repeated failures from one address, only after a delay (login-check.ts). */
function refuseLogin(res: http.ServerResponse, delayMs: number): void {
  const answer = (): void => {
    if (res.destroyed) return;
    res.writeHead(401, { ...COMMON_HEADERS, 'WWW-Authenticate': 'Basic realm="emotiond", charset="UTF-8"', 'Content-Type': TEXT });
    res.end('login required\n');
  };
  if (delayMs > 0) setTimeout(answer, delayMs).unref();
  else answer();
}

function stop(): void {
  clearInterval(keepalive);
  for (const w of waitingForMetrics.splice(0)) clearTimeout(w.timer);
  for (const res of clients) res.end();
  clients.clear();
  server.close(() => post({ kind: 'stopped' }));
  server.closeAllConnections();
}
