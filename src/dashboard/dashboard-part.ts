// The HTTP side of the daemon (http.enabled): the live state (an event sink behind the daemon's fan-out, so
// privacy.per_face applies to it as to MQTT), /metrics, /healthz and the dashboard's feed, served from a thread of
// their own (http/server.ts). What it shows of the daemon comes in through its deps, each named.
import type { Config } from '../config/schema.js';
import { splitList } from '../config/schema.js';
import { EmotiondError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import type { EmotionScores, SinkPart } from '../types.js';
import type { MqttHealth } from '../contract/payloads.js';
import { isLoopbackHost, urlHost } from '../system/addresses.js';
import { passwordPath, readPassword } from '../system/credentials.js';
import { HostHealth } from '../system/host-health.js';
import { HttpServer, type HttpCredentials } from '../http/server.js';
import { readStaticFiles } from '../http/static-files.js';
import { LiveState } from './live-state.js';
import { DaemonMetrics } from './metrics.js';
import { dashboardJson, healthz, type DaemonView, type StatusSources } from './views.js';

/** Dashboards get an update at most this often (faces change at the LSTM step rate, ~5 Hz). */
const MIN_UPDATE_MS = 250;
/** ... and at least this often (fps, the status). */
const TICK_MS = 1000;

interface DashboardDeps {
  config: Config;
  logger: Logger;
  daemon: DaemonView;
  /** The MQTT publisher's health; null when MQTT is off. */
  mqtt: (() => MqttHealth) | null;
  /** Face-seconds per emotion as the room summaries counted them (/metrics). */
  emotionSeconds: () => EmotionScores;
  /** Where `$CREDENTIALS_DIRECTORY` is read from (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

export class DashboardPart implements SinkPart {
  readonly name = 'http server';
  readonly live = new LiveState();
  readonly sink = this.live;
  private server?: HttpServer;
  private metrics?: DaemonMetrics;
  private tick?: NodeJS.Timeout;
  private pending?: NodeJS.Timeout;
  /** Monotonic (a step of the wall clock back would otherwise hold updates for as long). */
  private lastSentMs = -Infinity;

  constructor(private readonly deps: DashboardDeps) {}

  /** The bound port (after start; port 0 picks a free one). */
  get port(): number {
    return this.server?.port ?? this.deps.config.http.port;
  }

  /** Dashboards connected to the live feed now. */
  get dashboards(): number {
    return this.server?.dashboards ?? 0;
  }

  get url(): string {
    return `http://${urlHost(this.deps.config.http.host)}:${this.port}/`;
  }

  async start(signal?: AbortSignal): Promise<void> {
    const { config, logger } = this.deps;
    const auth = httpCredentials(config.http, this.deps.env ?? process.env);
    const files = readStaticFiles();
    const src: StatusSources = {
      daemon: this.deps.daemon,
      live: this.live,
      mqtt: this.deps.mqtt,
      device: config.device.id,
      notice: config.privacy.notice,
      minFaces: config.privacy.min_faces,
    };
    const metrics = new DaemonMetrics({
      stats: this.deps.daemon.stats,
      host: new HostHealth(),
      emotionSeconds: this.deps.emotionSeconds,
      mqtt: this.deps.mqtt,
      device: config.device.id,
      version: this.deps.daemon.version,
      minFaces: config.privacy.min_faces,
    });
    this.metrics = metrics;
    this.server = new HttpServer({
      host: config.http.host,
      port: config.http.port,
      logger,
      auth,
      allowedHosts: splitList(config.http.allowed_hosts),
      maxStreams: config.http.max_streams,
      files,
      metrics: async () => ({ contentType: metrics.contentType, body: await metrics.text() }),
      health: () => {
        const body = healthz(src);
        return { live: body.live, ready: body.ready, body };
      },
      message: () => dashboardJson(src),
    });
    await this.server.start();
    // Stopped while the server thread was starting: stop() has run or runs next; nothing more to set up.
    if (signal?.aborted) return;
    this.live.onChange = () => this.changed();
    this.tick = setInterval(() => {
      this.server?.refresh();
      this.send();
    }, TICK_MS);
    this.tick.unref();
    logger.child({ module: 'http' }).info({ url: this.url, login: auth !== undefined }, `dashboard: ${this.url} (also /metrics, /healthz, /readyz)`);
  }

  async stop(): Promise<void> {
    clearInterval(this.tick);
    clearTimeout(this.pending);
    this.live.onChange = undefined;
    await this.server?.stop();
    this.metrics?.close();
  }

  /** Something the page shows changed: send now, or once MIN_UPDATE_MS after the last update. */
  private changed(): void {
    if (!this.server || this.server.dashboards === 0 || this.pending) return;
    const wait = this.lastSentMs + MIN_UPDATE_MS - performance.now();
    if (wait <= 0) return this.send();
    this.pending = setTimeout(() => this.send(), wait);
  }

  private send(): void {
    clearTimeout(this.pending);
    this.pending = undefined;
    this.lastSentMs = performance.now();
    this.server?.broadcast();
  }
}

/**
 * The login: http.username and the password in http.password_file. None = open (config validation allows that
 * only on loopback). Beyond loopback an empty password is refused.
 */
function httpCredentials(h: Config['http'], env: NodeJS.ProcessEnv): HttpCredentials | undefined {
  if (h.username === '') return undefined;
  if (h.password_file === '')
    throw new EmotiondError('EMD_CONFIG_INVALID', 'http.username is set but http.password_file is empty: set the file that holds the password');
  const password = readPassword('http.password_file', h.password_file, env) ?? '';
  if (password === '' && !isLoopbackHost(h.host))
    throw new EmotiondError(
      'EMD_CONFIG_INVALID',
      `http.password_file ${passwordPath(h.password_file, env)} is empty: the HTTP server listens on ${h.host}, beyond this machine, and needs a password`,
    );
  return { username: h.username, password };
}
