// The daemon's HTTP server, main-thread side: it runs node:http in a worker thread (server-worker.ts) and
// feeds it what it serves — the dashboard's live messages, /healthz every second, /metrics every second
// while scrapes come — so that requests never wait for a frame in progress on this thread.
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { EmotiondError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import { PROGRESS_WINDOW_MS } from '../system/stats.js';
import type { StaticFile } from './static-files.js';
import type { FromWorker, ToWorker, WorkerSetup } from './worker-protocol.js';

export interface HttpCredentials {
  username: string;
  password: string;
}

interface HttpServerDeps {
  host: string;
  port: number;
  logger: Logger;
  auth?: HttpCredentials;
  /** Host names answered besides loopback and `host` (http.allowed_hosts). */
  allowedHosts?: string[];
  /** Most clients of the live feed at once (default 16). */
  maxStreams?: number;
  /** Files served as they are, by path ('/' = the page). */
  files: ReadonlyMap<string, StaticFile>;
  metrics: () => Promise<{ contentType: string; body: string }>;
  /** The health body, and whether the daemon is live (/healthz 200) and ready (/readyz 200). */
  health: () => { live: boolean; ready: boolean; body: unknown };
  /** The live message (JSON) for a dashboard that connects, and for each update. */
  message: () => string;
  /** /healthz and /readyz say failing when refresh() was not called for this long (default: the progress window of the stages
   * and the watchdog, 15 s; the main thread is stuck). */
  mainSilentMs?: number;
}

/** Metrics are rendered every second for this long after the last scrape (Prometheus scrapes every 15-60 s). */
const SCRAPED_RECENTLY_MS = 5 * 60_000;
const STOP_WAIT_MS = 2000;

export class HttpServer {
  private worker?: Worker;
  private readonly log: Logger;
  private boundPort = 0;
  private connected = 0;
  /** Monotonic: a step of the wall clock must not stop or start the rendering. */
  private lastScrapeMs = -Infinity;
  private rendering = false;
  private stopped?: Promise<void>;

  constructor(private readonly deps: HttpServerDeps) {
    this.log = deps.logger.child({ module: 'http' });
  }

  /** Resolves once listening; EMD_HTTP names the address and the reason when it cannot. */
  async start(): Promise<void> {
    const { host, port } = this.deps;
    const files = [...this.deps.files].map(([path, f]) => ({ path, type: f.type, body: new Uint8Array(f.body) }));
    const setup: WorkerSetup = {
      host,
      port,
      auth: this.deps.auth,
      allowedHosts: this.deps.allowedHosts ?? [],
      maxStreams: this.deps.maxStreams ?? 16,
      files,
      mainSilentMs: this.deps.mainSilentMs ?? PROGRESS_WINDOW_MS,
    };
    const worker = startWorker(setup);
    this.worker = worker;
    let stoppedResolve!: () => void;
    this.stopped = new Promise((r) => (stoppedResolve = r));
    const listening = new Promise<void>((resolve, reject) => {
      worker.on('message', (m: FromWorker) => {
        if (m.kind === 'listening') {
          this.boundPort = m.port;
          resolve();
        } else if (m.kind === 'error') {
          reject(
            new EmotiondError('EMD_HTTP', `cannot listen on ${host}:${port}: ${m.code === 'EADDRINUSE' ? 'the port is in use (set http.port)' : m.message}`),
          );
        } else if (m.kind === 'dashboards') {
          const more = m.count > this.connected;
          this.connected = m.count;
          // A dashboard that connects gets the latest message at once.
          if (more) this.broadcast();
        } else if (m.kind === 'scraped') this.scraped();
        else if (m.kind === 'log') this.log[m.level](m.fields ?? {}, m.message);
        else if (m.kind === 'stopped') stoppedResolve();
      });
      worker.on('error', (err) => {
        this.log.error({ err }, 'HTTP server thread failed');
        reject(new EmotiondError('EMD_HTTP', `the HTTP server thread failed: ${err.message}`));
      });
      worker.on('exit', () => stoppedResolve());
    });
    try {
      await listening;
    } catch (err) {
      await worker.terminate();
      throw err;
    }
    this.refresh();
  }

  /** The address actually bound (port 0 picks a free one). */
  get port(): number {
    return this.boundPort || this.deps.port;
  }

  get dashboards(): number {
    return this.connected;
  }

  /** Sends the live message to every dashboard (none: nothing is made). */
  broadcast(): void {
    if (this.connected > 0) this.post({ kind: 'state', json: this.deps.message() });
  }

  /** Every second: /healthz and /readyz, and /metrics while scrapes come. */
  refresh(): void {
    const { live, ready, body } = this.deps.health();
    this.post({ kind: 'health', live, ready, body: JSON.stringify(body), atMs: Date.now() });
    if (performance.now() - this.lastScrapeMs < SCRAPED_RECENTLY_MS) this.render();
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    worker.postMessage({ kind: 'stop' } satisfies ToWorker);
    const timeout = new Promise<void>((r) => setTimeout(r, STOP_WAIT_MS).unref());
    await Promise.race([this.stopped, timeout]);
    await worker.terminate();
  }

  private scraped(): void {
    this.lastScrapeMs = performance.now();
    this.render();
  }

  private render(): void {
    if (this.rendering) return;
    this.rendering = true;
    this.deps
      .metrics()
      .then((m) => this.post({ kind: 'metrics', contentType: m.contentType, body: m.body, atMs: Date.now() }))
      .catch((err: unknown) => this.log.error({ err }, 'metrics failed'))
      .finally(() => (this.rendering = false));
  }

  private post(m: ToWorker): void {
    this.worker?.postMessage(m);
  }
}

/**
 * The worker runs server-worker.js beside this module (dist); from a checkout under tsx there is only the .ts,
 * which a worker loads once tsx's loader is registered in it (workers do not inherit it).
 */
function startWorker(setup: WorkerSetup): Worker {
  const js = new URL('./server-worker.js', import.meta.url);
  if (fs.existsSync(fileURLToPath(js))) return new Worker(js, { workerData: setup });
  const ts = new URL('./server-worker.ts', import.meta.url);
  const boot = `import('tsx/esm/api').then((api) => { api.register(); return import(${JSON.stringify(ts.href)}); })`;
  return new Worker(boot, { eval: true, workerData: setup });
}
