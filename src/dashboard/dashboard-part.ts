// Builds the HTTP side of the daemon (http.enabled): the live state (an event sink behind the daemon's
// fan-out, so privacy.per_face applies to it as to MQTT), /metrics, /healthz and the dashboard's feed, served
// from a thread of their own (server.ts).
import fs from 'node:fs';
import { splitList, type Config } from '../config/schema.js';
import { isLoopbackHost } from '../config/load.js';
import { EmotiondError, fileReason } from '../errors.js';
import type { Logger } from '../system/logger.js';
import type { MqttHealth } from '../contract/payloads.js';
import { HostHealth } from '../system/host-health.js';
import { passwordPath } from '../system/credentials.js';
import { MqttPublisher } from '../mqtt/mqtt-publisher.js';
import type { Part, SinkPart } from '../app/daemon.js';
import { LiveState } from './live-state.js';
import { DaemonMetrics } from './metrics.js';
import { HttpServer, type HttpCredentials } from '../http/server.js';
import { readStaticFiles } from '../http/static-files.js';
import { dashboardJson, healthz, type DaemonView, type StatusSources } from './views.js';

/** Dashboards get an update at most this often (faces change at the LSTM step rate, ~5 Hz). */
const MIN_UPDATE_MS = 250;
/** ... and at least this often (fps, the timeline). */
const TICK_MS = 1000;

export interface HttpPartDeps {
  config: Config;
  logger: Logger;
  daemon: DaemonView;
  /** The MQTT publisher's health; null when MQTT is off. */
  mqtt: (() => MqttHealth) | null;
  /** Where `$CREDENTIALS_DIRECTORY` is read from (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface HttpPart extends SinkPart {
  readonly live: LiveState;
  /** The bound port (after start; port 0 picks a free one). */
  readonly port: number;
  readonly url: string;
  /** Dashboards connected to the live feed now. */
  readonly dashboards: number;
}

export function buildHttpParts(deps: HttpPartDeps): HttpPart[] {
  return deps.config.http.enabled ? [new DashboardPart(deps)] : [];
}

/** The MQTT publisher's health() among the parts, or null when there is none (MQTT off). */
export function mqttHealthOf(parts: ReadonlyArray<Part | SinkPart>): (() => MqttHealth) | null {
  for (const p of parts) if ('sink' in p && p.sink instanceof MqttPublisher) return () => (p.sink as MqttPublisher).health();
  return null;
}

class DashboardPart implements HttpPart {
  readonly name = 'http server';
  readonly live = new LiveState();
  readonly sink = this.live;
  private server?: HttpServer;
  private metrics?: DaemonMetrics;
  private tick?: NodeJS.Timeout;
  private pending?: NodeJS.Timeout;
  /** Monotonic (a step of the wall clock back would otherwise hold updates for as long). */
  private lastSentMs = -Infinity;

  constructor(private readonly deps: HttpPartDeps) {}

  get port(): number {
    return this.server?.port ?? this.deps.config.http.port;
  }

  get dashboards(): number {
    return this.server?.dashboards ?? 0;
  }

  get url(): string {
    const h = this.deps.config.http.host;
    const host = h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h.includes(':') ? `[${h}]` : h;
    return `http://${host}:${this.port}/`;
  }

  async start(): Promise<void> {
    const { config, logger } = this.deps;
    const auth = httpCredentials(config.http, this.deps.env ?? process.env);
    const files = readStaticFiles();
    const src: StatusSources = { daemon: this.deps.daemon, live: this.live, mqtt: this.deps.mqtt, device: config.device.id, notice: config.privacy.notice, minFaces: config.privacy.min_faces };
    const metrics = new DaemonMetrics({ stats: this.deps.daemon.stats, live: this.live, host: new HostHealth(), mqtt: this.deps.mqtt, device: config.device.id, version: this.deps.daemon.version, minFaces: config.privacy.min_faces });
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
        return { code: body.live ? 200 : 503, body };
      },
      message: () => dashboardJson(src),
    });
    await this.server.start();
    this.live.onChange = () => this.changed();
    this.tick = setInterval(() => {
      this.live.sample();
      this.server?.refresh();
      this.send();
    }, TICK_MS);
    this.tick.unref();
    logger.child({ module: 'http' }).info({ url: this.url, login: auth !== undefined }, `dashboard: ${this.url} (also /metrics, /healthz)`);
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
export function httpCredentials(h: Config['http'], env: NodeJS.ProcessEnv): HttpCredentials | undefined {
  if (h.username === '') return undefined;
  if (h.password_file === '') throw new EmotiondError('EMD_CONFIG_INVALID', 'http.username is set but http.password_file is empty: set the file that holds the password');
  const file = passwordPath(h.password_file, env);
  let password: string;
  try {
    password = fs.readFileSync(file, 'utf8').replace(/\r?\n$/, '');
  } catch (err) {
    throw new EmotiondError('EMD_CONFIG_FILE', `http.password_file ${file}: ${fileReason(err)}`);
  }
  if (password === '' && !isLoopbackHost(h.host)) throw new EmotiondError('EMD_CONFIG_INVALID', `http.password_file ${file} is empty: the HTTP server listens on ${h.host}, beyond this machine, and needs a password`);
  return { username: h.username, password };
}
