// `emotiond preview`'s HTTP server: on 127.0.0.1 only, a page with the live camera view (MJPEG), the stream
// itself and a snapshot. Requests naming another host are refused, so that a web page elsewhere cannot read the
// camera through the installer's browser (DNS rebinding).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Part } from '../app/daemon.js';
import { EmotiondError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import type { PreviewView } from './preview-view.js';

export const PREVIEW_HOST = '127.0.0.1';
const BOUNDARY = 'emotiondpreview';

export interface PreviewServerDeps {
  port: number;
  view: PreviewView;
  endsAtMs: number;
  logger: Logger;
}

export class PreviewServer implements Part {
  readonly name = 'preview server';
  private server: http.Server | undefined;
  private readonly streams = new Set<http.ServerResponse>();

  constructor(private readonly deps: PreviewServerDeps) {}

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.deps.port;
  }

  get url(): string {
    return `http://${PREVIEW_HOST}:${this.port}/`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(new EmotiondError('EMD_HTTP', `preview cannot listen on ${PREVIEW_HOST}:${this.deps.port}: ${err.code === 'EADDRINUSE' ? 'the port is in use (set --preview-port)' : err.message}`)),
      );
      server.listen(this.deps.port, PREVIEW_HOST, () => resolve());
    });
    this.server = server;
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
    const host = (req.headers.host ?? '').toLowerCase();
    if (!new RegExp(`^(127\\.0\\.0\\.1|localhost|\\[::1\\]):${this.port}$`).test(host)) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end(`preview answers only requests for ${PREVIEW_HOST}:${this.port}\n`);
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') res.writeHead(405, { allow: 'GET' }).end();
    else if (path === '/') this.page(res);
    else if (path === '/stream.mjpg') this.stream(req, res);
    else if (path === '/snapshot.jpg') this.snapshot(res);
    else res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
  }

  private page(res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(pageHtml(this.deps.endsAtMs));
  }

  private snapshot(res: http.ServerResponse): void {
    const jpeg = this.deps.view.latest;
    if (!jpeg) {
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1' }).end('no frame yet\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.length, 'cache-control': 'no-store' }).end(jpeg);
  }

  /** multipart/x-mixed-replace: a browser shows each part in turn. A slow client skips frames. */
  private stream(req: http.IncomingMessage, res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': `multipart/x-mixed-replace; boundary=${BOUNDARY}`, 'cache-control': 'no-store', connection: 'close' });
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

function pageHtml(endsAtMs: number): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>emotiond preview</title>
<style>
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
  <small>Served on this machine only (127.0.0.1). This is not the service: stop it with Ctrl-C when the camera is set.</small>
</header>
<img src="stream.mjpg" alt="live camera view with face boxes">
<script>
  const ends = ${Math.round(endsAtMs)};
  const el = document.getElementById('left');
  const tick = () => { el.textContent = String(Math.max(0, Math.ceil((ends - Date.now()) / 1000))); };
  tick();
  setInterval(tick, 1000);
</script>
</body>
</html>
`;
}
