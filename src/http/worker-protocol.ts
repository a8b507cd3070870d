// Messages between the daemon's main thread (src/http/server.ts) and the HTTP server's thread (server-worker.ts).

export interface WorkerSetup {
  host: string;
  port: number;
  auth?: { username: string; password: string };
  /** Host names answered besides loopback and `host` (http.allowed_hosts). */
  allowedHosts: string[];
  /** Most clients of the live feed at once (http.max_streams). */
  maxStreams: number;
  /** Files served as they are, by URL path ('/' = the page). */
  files: Array<{ path: string; type: string; body: Uint8Array }>;
  /** No health from the main thread for this long: its event loop is stuck, and /healthz and /readyz say so. */
  mainSilentMs: number;
}

export type ToWorker =
  /** The dashboard's live message: sent to every dashboard, and first to each that connects. */
  | { kind: 'state'; json: string }
  /** GET /healthz (200 while live) and GET /readyz (200 while ready) as of atMs (posted every second). */
  | { kind: 'health'; live: boolean; ready: boolean; body: string; atMs: number }
  /** GET /metrics as rendered at atMs. */
  | { kind: 'metrics'; contentType: string; body: string; atMs: number }
  | { kind: 'stop' };

export type FromWorker =
  | { kind: 'listening'; port: number }
  | { kind: 'error'; code: string; message: string }
  | { kind: 'dashboards'; count: number }
  /** A GET /metrics came: render the metrics now, and every second while scrapes keep coming. */
  | { kind: 'scraped' }
  | { kind: 'log'; level: 'warn' | 'error'; message: string; fields?: Record<string, unknown> }
  | { kind: 'stopped' };
