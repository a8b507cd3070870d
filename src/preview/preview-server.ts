// `emotiond preview`'s HTTP server: on 127.0.0.1 only, under a random path (the token in the URL it prints), a
// page with the live camera view (MJPEG), the stream itself and a snapshot. Another user of this machine does
// not know the path; requests naming another host (DNS rebinding) and cross-site reads are refused
// (request-guard.ts); nothing may frame it or embed its images in another site (CSP, CORP).
import { randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Part } from '../types.js';
import { EmotiondError } from '../errors.js';
import { HostNames, refusal } from '../http/request-guard.js';
import type { Logger } from '../system/logger.js';
import type { PreviewView } from './preview-view.js';
import { monotonicMs } from '../system/clock.js';

const PREVIEW_HOST = '127.0.0.1';
const BOUNDARY = 'emotiondpreview';
/** On every answer: no caching, no sniffing, no framing, no use by another site, no Referer (the URL holds the token). */
const COMMON_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
};
const TEXT = 'text/plain; charset=utf-8';

interface PreviewServerDeps {
  port: number;
  view: PreviewView;
  /** When the preview stops, on the monotonic clock (system/clock.ts). */
  endsAtMs: number;
  logger: Logger;
}

export class PreviewServer implements Part {
  readonly name = 'preview server';
  private server: http.Server | undefined;
  private readonly streams = new Set<http.ServerResponse>();
  /** The URL's secret path segment: 128 random bits. */
  private readonly token = randomBytes(16).toString('base64url');
  private readonly names = new HostNames({ bind: PREVIEW_HOST });

  constructor(private readonly deps: PreviewServerDeps) {}

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.deps.port;
  }

  /** The page, with the token: only who has it (the user at the terminal) can watch. */
  get url(): string {
    return `http://${PREVIEW_HOST}:${this.port}/${this.token}/`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          new EmotiondError(
            'EMD_HTTP',
            `preview cannot listen on ${PREVIEW_HOST}:${this.deps.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use (set --preview-port)' : err.message}`,
          ),
        ),
      );
      server.listen(this.deps.port, PREVIEW_HOST, () => resolve());
    });
    server.headersTimeout = 10_000;
    server.requestTimeout = 30_000;
    server.maxConnections = 32;
    this.server = server;
    this.names.port = this.port;
  }

  async stop(): Promise<void> {
    for (const res of this.streams) res.end();
    this.streams.clear();
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const refused = refusal(req, this.names);
    if (refused) return void res.writeHead(refused.code, { ...COMMON_HEADERS, 'content-type': TEXT }).end(refused.text);
    const path = this.pathInside(req.url ?? '/');
    if (path === undefined) res.writeHead(404, { ...COMMON_HEADERS, 'content-type': TEXT }).end('not found: open the URL the preview printed\n');
    else if (req.method !== 'GET') res.writeHead(405, { ...COMMON_HEADERS, allow: 'GET' }).end();
    else if (path === '') this.page(res);
    else if (path === 'stream.mjpg') this.stream(req, res);
    else if (path === 'snapshot.jpg') this.snapshot(res);
    else res.writeHead(404, { ...COMMON_HEADERS, 'content-type': TEXT }).end('not found\n');
  }

  /** The path under /<token>/, or undefined when the request does not carry the token. */
  private pathInside(url: string): string | undefined {
    const m = /^\/([A-Za-z0-9_-]+)\/([^?#]*)/.exec(url);
    const given = Buffer.from(m?.[1] ?? '');
    const want = Buffer.from(this.token);
    if (!m || given.length !== want.length || !timingSafeEqual(given, want)) return undefined;
    return m[2];
  }

  private page(res: http.ServerResponse): void {
    const nonce = randomBytes(16).toString('base64');
    const csp = `default-src 'none'; img-src 'self'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'`;
    res
      .writeHead(200, { ...COMMON_HEADERS, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': csp })
      .end(pageHtml(this.deps.endsAtMs - monotonicMs(), nonce));
  }

  private snapshot(res: http.ServerResponse): void {
    const jpeg = this.deps.view.latest;
    if (!jpeg) {
      res.writeHead(503, { ...COMMON_HEADERS, 'content-type': TEXT, 'retry-after': '1' }).end('no frame yet\n');
      return;
    }
    res.writeHead(200, { ...COMMON_HEADERS, 'content-type': 'image/jpeg', 'content-length': jpeg.length }).end(jpeg);
  }

  /** multipart/x-mixed-replace: a browser shows each part in turn. A slow client skips frames. */
  private stream(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, { ...COMMON_HEADERS, 'content-type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`, connection: 'close' });
    this.streams.add(res);
    let busy = false;
    const send = (jpeg: Buffer): void => {
      if (busy) return;
      const ok = res.write(`--${BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: ${jpeg.length}\r\n\r\n`) && res.write(jpeg) && res.write('\r\n');
      if (!ok) {
        busy = true;
        res.once('drain', () => (busy = false));
      }
    };
    if (this.deps.view.latest) send(this.deps.view.latest);
    const unsubscribe = this.deps.view.subscribe(send);
    req.on('close', () => {
      unsubscribe();
      this.streams.delete(res);
    });
  }
}

/** The page, counting down `leftMs` on the browser's monotonic clock: its wall clock (or this machine's, without a
 * real-time clock before NTP syncs) may be hours off. */
function pageHtml(leftMs: number, nonce: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>emotiond preview</title>
<style nonce="${nonce}">
  body { margin: 0; background: #1d2125; color: #e8eaed; font: 16px/1.4 system-ui, sans-serif; }
  header { padding: 8px 12px; }
  img { display: block; max-width: 100%; max-height: calc(100vh - 90px); margin: 0 auto; background: #000; }
  small { color: #aab; }
</style>
</head>
<body>
<header>
  <strong>emotiond preview</strong>, for aiming the camera. Green boxes are faces found and followed, amber ones
  faces just seen; each label gives the face's width in pixels. It stops in <span id="left">…</span> s.<br>
  <small>Served on this machine only (127.0.0.1), to whoever has this page's address. This is not the service: stop it with Ctrl-C when the camera is set.</small>
</header>
<img src="stream.mjpg" alt="live camera view with face boxes">
<script nonce="${nonce}">
  const ends = performance.now() + ${Math.max(0, Math.round(leftMs))};
  const el = document.getElementById('left');
  const tick = () => { el.textContent = String(Math.max(0, Math.ceil((ends - performance.now()) / 1000))); };
  tick();
  setInterval(tick, 1000);
</script>
</body>
</html>
`;
}
