// The daemon's HTTP server (node:http, no framework): GET / (the dashboard page and its two local assets),
// GET /events (the dashboard's live feed as Server-Sent Events), GET /metrics and GET /healthz. Read-only:
// nothing here changes the daemon. With a username, every request logs in (HTTP Basic).
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { EmotiondError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import type { StaticFile } from './static-files.js';

export interface HttpCredentials {
  username: string;
  password: string;
}

export interface HttpServerDeps {
  host: string;
  port: number;
  logger: Logger;
  auth?: HttpCredentials;
  /** Files served as they are, by path ('/' = the page). */
  files: ReadonlyMap<string, StaticFile>;
  metrics: () => Promise<{ contentType: string; body: string }>;
  health: () => { code: number; body: unknown };
  /** The live message for a dashboard that connects, and for each update. */
  message: () => unknown;
}

/** Headers on everything: no caching of live data, no framing, scripts only from here. */
const COMMON_HEADERS = {
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
};
/** An SSE comment this often keeps proxies and the browser from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

export class HttpServer {
  private readonly server: http.Server;
  private readonly clients = new Set<http.ServerResponse>();
  private readonly log: Logger;
  private keepalive?: NodeJS.Timeout;

  constructor(private readonly deps: HttpServerDeps) {
    this.log = deps.logger.child({ module: 'http' });
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  /** Resolves once listening; EMD_HTTP names the address and the reason when it cannot. */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(new EmotiondError('EMD_HTTP', `cannot listen on ${this.deps.host}:${this.deps.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use (set http.port)' : err.message}`));
      };
      this.server.once('error', onError);
      this.server.listen(this.deps.port, this.deps.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.server.on('error', (err) => this.log.error({ err }, 'HTTP server error'));
    this.keepalive = setInterval(() => this.each((res) => res.write(': keepalive\n\n')), KEEPALIVE_MS);
    this.keepalive.unref();
  }

  /** The address actually bound (port 0 picks a free one). */
  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? this.deps.port;
  }

  get dashboards(): number {
    return this.clients.size;
  }

  /** Sends the live message to every dashboard; a dashboard that does not keep up misses updates. */
  broadcast(): void {
    if (this.clients.size === 0) return;
    const frame = `event: state\ndata: ${JSON.stringify(this.deps.message())}\n\n`;
    this.each((res) => {
      if (!res.writableNeedDrain) res.write(frame);
    });
  }

  async stop(): Promise<void> {
    clearInterval(this.keepalive);
    for (const res of this.clients) res.end();
    this.clients.clear();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private each(fn: (res: http.ServerResponse) => void): void {
    for (const res of this.clients) {
      try {
        fn(res);
      } catch (err) {
        this.log.warn({ err }, 'dashboard write failed');
        this.clients.delete(res);
      }
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    try {
      if (!this.authorised(req)) {
        res.writeHead(401, { ...COMMON_HEADERS, 'WWW-Authenticate': 'Basic realm="emotiond", charset="UTF-8"', 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('login required\n');
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { ...COMMON_HEADERS, Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('only GET and HEAD\n');
        return;
      }
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (path === '/events') return this.subscribe(req, res);
      if (path === '/metrics') return void this.metrics(req, res);
      if (path === '/healthz') {
        const { code, body } = this.deps.health();
        return this.send(req, res, code, 'application/json; charset=utf-8', JSON.stringify(body));
      }
      const file = this.deps.files.get(path);
      if (file) return this.send(req, res, 200, file.type, file.body);
      this.send(req, res, 404, 'text/plain; charset=utf-8', 'not found: try /, /metrics or /healthz\n');
    } catch (err) {
      this.log.error({ err, url: req.url }, 'HTTP request failed');
      if (!res.headersSent) res.writeHead(500, COMMON_HEADERS);
      res.end();
    }
  }

  private async metrics(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      const m = await this.deps.metrics();
      this.send(req, res, 200, m.contentType, m.body);
    } catch (err) {
      this.log.error({ err }, 'metrics failed');
      this.send(req, res, 500, 'text/plain; charset=utf-8', 'metrics failed\n');
    }
  }

  private send(req: http.IncomingMessage, res: http.ServerResponse, code: number, type: string, body: string | Buffer): void {
    res.writeHead(code, { ...COMMON_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  private subscribe(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
    if (req.method === 'HEAD') return void res.end();
    res.write(`retry: 2000\nevent: state\ndata: ${JSON.stringify(this.deps.message())}\n\n`);
    this.clients.add(res);
    const drop = (): void => {
      this.clients.delete(res);
    };
    req.on('close', drop);
    res.on('error', drop);
  }

  private authorised(req: http.IncomingMessage): boolean {
    const auth = this.deps.auth;
    if (!auth) return true;
    const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m?.[1]) return false;
    const text = Buffer.from(m[1], 'base64').toString('utf8');
    const colon = text.indexOf(':');
    if (colon < 0) return false;
    return same(text.slice(0, colon), auth.username) && same(text.slice(colon + 1), auth.password);
  }
}

/** Compares in constant time for strings of one length (the hash hides the length too). */
function same(a: string, b: string): boolean {
  const ha = crypto.createHash('sha256').update(a).digest();
  const hb = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(ha, hb);
}
