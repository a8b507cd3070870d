// The MQTT sink. Connects in the background (a broker that is down at start is retried, never thrown),
// keeps availability honest (Last Will offline, online after every connect, offline on a clean stop),
// delivers events through the outbox (bounded, ordered, optionally on disk), re-publishes retained state
// after every reconnect, answers commands and publishes stats and Home Assistant discovery.
import path from 'node:path';
import type { Config } from '../config/schema.js';
import type { EmotiondError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import type { CameraState, DaemonControl, EmotionEvent, EventSink, FaceState, RoomSummary } from '../types.js';
import { BrokerLink } from './broker-link.js';
import { CommandHandler } from './commands.js';
import { connectionSettings, safeUrl } from './connection.js';
import { discoveryMessages, isHaBirth } from '../contract/discovery.js';
import { EventDelivery } from '../outbox/event-delivery.js';
import type { Backpressure } from '../outbox/drain-wait.js';
import { Outbox } from '../outbox/outbox.js';
import { availabilityPayload, pausedPayload, statsPayload, type MqttHealth } from '../contract/payloads.js';
import { HostHealth } from '../system/host-health.js';
import { RetainedState } from './retained-state.js';
import { discoveryTopicsFor, topicsFor, type Topics } from '../contract/topics.js';
import { PayloadValidator } from '../contract/validate.js';
import { emptySummary } from '../events/room-window.js';

interface MqttPublisherDeps {
  config: Pick<Config, 'mqtt' | 'device' | 'system'>;
  logger: Logger;
  /** emotiond's version, for stats and the discovery device/origin blocks. */
  version: string;
  /** The running daemon (pause, reset, health, config); without it commands are refused (tests of the publisher alone). */
  control?: DaemonControl;
  /** Where `$CREDENTIALS_DIRECTORY` is read from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Reconnect delay: starts at minMs, doubles up to maxMs, back to minMs after a connect (default 1 s → 10 s). */
  reconnect?: { minMs: number; maxMs: number };
  /** Link in the discovery `origin` block. */
  supportUrl?: string;
  /** Checks inbound commands (default: one compiled for this publisher, tens of milliseconds). */
  validator?: PayloadValidator;
  /** Monotonic ms for the face rate limit and the command log budget (default performance.now()). */
  now?: () => number;
  /** privacy.per_face (default true). The daemon's privacy filter keeps per-face messages from this sink;
   * here it decides what happens to events an earlier run left in the queue file: false discards them. */
  perFace?: boolean;
  /** privacy.min_faces (default 1), for the summary published at the first connect (see onConnected). */
  minFaces?: number;
  /** Longest time a delivered event stays in the queue file (default 60 s: outbox.ts). */
  queueCompactAfterMs?: number;
}

/** Events sent but not yet acknowledged at any time; keeps order while using the link well. */
const WINDOW = 64;
/** How long after a connect retained faces of an earlier run are looked for. */
const SWEEP_MS = 2000;

export class MqttPublisher implements EventSink {
  readonly topics: Topics;
  private readonly log: Logger;
  private readonly outbox: Outbox;
  private readonly delivery: EventDelivery;
  private readonly state: RetainedState;
  private readonly commands: CommandHandler;
  private readonly host = new HostHealth();
  private readonly now: () => number;
  private readonly createdMs: number;
  private readonly connectListeners = new Set<() => void>();
  private readonly firstConnect: Promise<void>;
  private resolveFirstConnect: () => void = () => undefined;
  private readonly control: DaemonControl | undefined;
  private link: BrokerLink | undefined;
  private stopping = false;
  /** start() read the queue file: stop() writes it back. */
  private loaded = false;
  private statsTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: MqttPublisherDeps) {
    const { mqtt: m, device } = deps.config;
    this.topics = topicsFor(m.base_topic, device.id);
    this.log = deps.logger.child({ module: 'mqtt' });
    this.control = deps.control;
    this.now = deps.now ?? (() => performance.now());
    this.createdMs = this.now();
    const file = m.queue_file === '' ? undefined : path.resolve(deps.config.system.state_dir, m.queue_file);
    this.outbox = new Outbox({ max: m.queue_max, file, logger: this.log, compactAfterMs: deps.queueCompactAfterMs });
    // The connection in use now (the link is made in start() and stays; its socket changes with each connect).
    const flow: Backpressure = { congested: () => this.link?.congested() ?? false, whenDrained: (fn) => (this.link ? this.link.whenDrained(fn) : fn()) };
    this.delivery = new EventDelivery({
      outbox: this.outbox,
      topic: this.topics.events,
      qos: m.qos,
      window: Math.min(WINDOW, m.queue_max),
      logger: this.log,
      publish: (topic, payload, opts, done) => this.link?.publish(topic, payload, opts, done) ?? false,
      online: () => this.connected,
      stopping: () => this.stopping,
      flow,
    });
    this.state = new RetainedState({
      topics: this.topics,
      faceIntervalMs: m.face_interval_s * 1000,
      now: this.now,
      send: (topic, payload, acked) => this.send(topic, payload, { qos: 1, retain: true }, (err) => !err && acked()),
      flow,
    });
    this.commands = new CommandHandler({
      topics: this.topics,
      logger: this.log,
      validator: deps.validator ?? new PayloadValidator(),
      control: () => this.control,
      health: () => this.statsObject(),
      respond: (topic, payload, correlationData) =>
        this.send(topic, payload, { qos: 1, retain: false, ...(correlationData && this.link?.isV5 ? { properties: { correlationData } } : {}) }),
      pausedChanged: (paused) => this.state.set(this.topics.paused, pausedPayload(paused)),
      now: this.now,
    });
    this.firstConnect = new Promise<void>((r) => (this.resolveFirstConnect = r));
  }

  get connected(): boolean {
    return this.link?.online ?? false;
  }

  /** The MQTT version spoken: 5, or 4 (3.1.1) as configured or after a broker refused 5. */
  get protocolVersion(): 4 | 5 {
    return (this.link?.isV5 ?? this.deps.config.mqtt.protocol_version === 5) ? 5 : 4;
  }

  /** Failed connection attempts since start. */
  get connectFailures(): number {
    return this.link?.failures ?? 0;
  }

  /** The last connection error (refused, TLS, auth, ...); cleared by a successful connect. */
  get lastError(): EmotiondError | undefined {
    return this.link?.lastError;
  }

  /** Resolves at the first successful connection (for systemd READY); never rejects. */
  whenConnected(): Promise<void> {
    return this.firstConnect;
  }

  /** Called after every (re)connect once availability is online; returns a function that removes it. */
  onConnect(listener: () => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  /** The MQTT part of the stats. */
  health(): MqttHealth {
    return {
      connected: this.connected,
      queue_length: this.outbox.length,
      queue_dropped: this.outbox.dropped,
      delivered: this.outbox.delivered,
      reconnects: this.link?.reconnects ?? 0,
      rejected_commands: this.commands.rejected,
      queue_disk_full: this.outbox.diskFull,
      queue_disk_full_s: this.outbox.diskFullSeconds(),
    };
  }

  /** Commands acted on / refused since start. */
  commandCounts(): { accepted: number; rejected: number } {
    return { accepted: this.commands.accepted, rejected: this.commands.rejected };
  }

  /**
   * Loads the queue file and starts connecting; resolves at once. Throws EMD_SECRET_FILE only for configuration
   * problems (unreadable password, CA, cert or key file; bad URL), never because the broker is down.
   */
  async start(): Promise<void> {
    if (this.link) return;
    const settings = connectionSettings({ config: this.deps.config, topics: this.topics, env: this.deps.env });
    this.outbox.load(() => this.deps.perFace !== false);
    this.loaded = true;
    const link = new BrokerLink({
      settings,
      logger: this.log,
      reconnect: this.deps.reconnect,
      onConnect: () => this.onConnected(),
      onClose: () => this.log.warn({ queued: this.outbox.length }, 'disconnected from MQTT broker; queueing events'),
      onMessage: (topic, payload, meta) => this.onMessage(topic, payload, meta),
    });
    link.start();
    this.link = link;
    const { options } = settings;
    this.log.info(
      { url: safeUrl(settings.url), clientId: options.clientId, protocol: options.protocolVersion, queued: this.outbox.length },
      'connecting to MQTT broker',
    );
    this.statsTimer = setInterval(() => this.publishStats(), this.deps.config.mqtt.stats_interval_s * 1000);
    this.statsTimer.unref();
  }

  /**
   * Delivers what it can within `timeoutMs` (queued events first, then availability offline), ends the
   * connection and writes what is left to the queue file.
   */
  async stop(timeoutMs = 3000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.statsTimer) clearInterval(this.statsTimer);
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.state.stop();
    const deadline = performance.now() + timeoutMs;
    if (this.link) {
      await this.delivery.drain(deadline, () => performance.now());
      await this.link.end(deadline, { topic: this.topics.availability, payload: availabilityPayload('offline') });
    }
    // A start that failed before the queue file was read leaves the file of an earlier run as it is.
    if (!this.loaded) return;
    await this.outbox.close();
    this.log.info({ undelivered: this.outbox.length, dropped: this.outbox.dropped, delivered: this.outbox.delivered }, 'MQTT publisher stopped');
  }

  // ---- EventSink: never throws, never blocks ----

  event(e: EmotionEvent): void {
    this.guard('event', () => this.delivery.push(JSON.stringify(e)));
  }

  room(s: RoomSummary): void {
    this.guard('room', () => this.state.set(this.topics.room, JSON.stringify(s)));
  }

  camera(c: CameraState): void {
    this.guard('camera', () => this.state.set(this.topics.camera, JSON.stringify(c)));
  }

  face(f: FaceState): void {
    this.guard('face', () => this.state.face(f.track, JSON.stringify(f)));
  }

  faceCleared(_device: string, track: number): void {
    this.guard('faceCleared', () => this.state.faceCleared(track));
  }

  /** Publish stats now (also done on the timer and after every connect). */
  publishStats(): void {
    this.guard('stats', () => {
      if (this.connected) this.send(this.topics.stats, JSON.stringify(this.statsObject()), { qos: 0, retain: true });
    });
  }

  // ---- internals ----

  private statsObject(): Record<string, unknown> {
    let health: Record<string, unknown> = {};
    let paused: boolean | null = null;
    try {
      health = this.control?.health() ?? {};
      paused = this.control?.isPaused() ?? null;
    } catch (err) {
      this.log.warn({ err }, 'health() failed');
    }
    const text = statsPayload({
      device: this.deps.config.device.id,
      version: this.deps.version,
      health,
      host: this.host.snapshot(),
      mqtt: this.health(),
      paused,
      nowMs: Date.now(),
    });
    return JSON.parse(text) as Record<string, unknown>;
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err, what }, 'MQTT publish failed');
    }
  }

  private send(
    topic: string,
    payload: string,
    opts: { qos: 0 | 1 | 2; retain: boolean; properties?: { correlationData: Buffer } },
    done?: (err?: Error) => void,
  ): void {
    this.link?.publish(topic, payload, opts, (err) => {
      if (err && !this.stopping) this.log.debug({ err: err.message, topic }, 'publish not completed');
      done?.(err);
    });
  }

  private onConnected(): void {
    const m = this.deps.config.mqtt;
    this.log.info({ queued: this.outbox.length, reconnects: this.link?.reconnects ?? 0 }, 'connected to MQTT broker');
    const subscriptions = [...this.commands.subscriptions];
    if (m.discovery) subscriptions.push(discoveryTopicsFor(m.discovery_prefix, this.deps.config.device.id).haStatus);
    this.link?.subscribe(subscriptions);
    this.sweepStaleFaces();
    this.send(this.topics.availability, availabilityPayload('online'), { qos: 1, retain: true });
    if (m.discovery) this.publishDiscovery();
    this.state.resend();
    // The retained room is an earlier run's until this run's first summary, which may be room_interval_s
    // (up to a day) away, and under privacy settings since changed: replace it now with an empty one.
    if (!this.state.holds(this.topics.room))
      this.room(emptySummary(this.deps.config.device.id, this.createdMs, this.now(), this.deps.minFaces ?? 1, Date.now()));
    this.publishControlState();
    this.delivery.pump();
    this.resolveFirstConnect();
    for (const listener of this.connectListeners) {
      try {
        listener();
      } catch (err) {
        this.log.warn({ err }, 'onConnect listener failed');
      }
    }
  }

  private publishControlState(): void {
    if (this.control) {
      try {
        this.state.set(this.topics.paused, pausedPayload(this.control.isPaused()));
      } catch (err) {
        this.log.warn({ err }, 'isPaused() failed');
      }
    }
    this.publishStats();
  }

  private publishDiscovery(): void {
    const messages = discoveryMessages({ config: this.deps.config, topics: this.topics, version: this.deps.version, supportUrl: this.deps.supportUrl });
    for (const m of messages) this.send(m.topic, JSON.stringify(m.config), { qos: 1, retain: true });
    this.log.debug({ configs: messages.length }, 'published Home Assistant discovery');
  }

  /**
   * Faces left retained by a run that crashed would show forever: listen to `faces/+` for a moment after
   * connecting and clear every retained face this run does not hold.
   */
  private sweepStaleFaces(): void {
    this.link?.subscribe([this.topics.facesFilter]);
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = setTimeout(() => this.link?.unsubscribe([this.topics.facesFilter]), SWEEP_MS);
    this.sweepTimer.unref();
  }

  private onMessage(topic: string, payload: Buffer, meta: { retain: boolean; correlationData?: Buffer }): void {
    if (topic.startsWith(`${this.topics.root}/faces/`)) {
      if (meta.retain && payload.length > 0 && !this.state.holds(topic)) {
        this.log.info({ topic }, 'clearing a face left retained by an earlier run');
        this.state.set(topic, '');
      }
      return;
    }
    const correlationData = meta.correlationData;
    const m = this.deps.config.mqtt;
    if (m.discovery && topic === discoveryTopicsFor(m.discovery_prefix, this.deps.config.device.id).haStatus) {
      if (isHaBirth(payload)) {
        this.log.info('Home Assistant is online; publishing discovery again');
        this.publishDiscovery();
      }
      return;
    }
    this.commands.handle(topic, payload, correlationData);
  }
}
