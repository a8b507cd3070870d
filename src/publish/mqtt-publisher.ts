// The MQTT sink. Connects in the background (a broker that is down at start is retried, never thrown),
// keeps availability honest (Last Will offline, online after every connect, offline on a clean stop),
// owns the event outbox (bounded, ordered, optionally on disk) and re-publishes retained state after
// every reconnect, so a restarted broker without persistence gets the current picture back.
import path from 'node:path';
import mqtt, { type MqttClient, type IClientPublishOptions } from 'mqtt';
import type { Config } from '../config/schema.js';
import { EmotiondError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import type { CameraState, DaemonControl, EmotionEvent, EventSink, FaceState, RoomSummary } from '../types.js';
import { CommandHandler } from './commands.js';
import { connectionSettings, safeUrl } from './connection.js';
import { discoveryMessages } from './discovery.js';
import { Outbox } from './outbox.js';
import { availabilityPayload, HostHealth, pausedPayload, statsPayload, type MqttHealth } from './payloads.js';
import { discoveryTopicsFor, topicsFor, type Topics } from './topics.js';
import { payloadValidator, type PayloadValidator } from './validate.js';

export interface MqttPublisherDeps {
  config: Pick<Config, 'mqtt' | 'device' | 'system'>;
  logger: Logger;
  /** emotiond's version, for stats and the discovery device/origin blocks. */
  version: string;
  /** The running daemon (pause, reset, health, config); may also be given later with setControl(). */
  control?: DaemonControl;
  /** Where `$CREDENTIALS_DIRECTORY` is read from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Reconnect delay: starts at minMs, doubles up to maxMs, back to minMs after a connect (default 1 s → 10 s). */
  reconnect?: { minMs: number; maxMs: number };
  /** Link in the discovery `origin` block. */
  supportUrl?: string;
  validator?: PayloadValidator;
  now?: () => number;
}

/** Events sent but not yet acknowledged at any time; keeps order while using the link well. */
const WINDOW = 64;

interface FaceSlot {
  lastSentMs: number;
  latest?: string;
  timer?: NodeJS.Timeout;
}

export class MqttPublisher implements EventSink {
  readonly topics: Topics;
  private readonly log: Logger;
  private readonly outbox: Outbox;
  private readonly commands: CommandHandler;
  private readonly host = new HostHealth();
  private readonly validator: PayloadValidator;
  private readonly now: () => number;
  /** Latest payload of every retained state topic; '' = clear it (dropped from here once the broker has it). */
  private readonly retained = new Map<string, string>();
  private readonly faces = new Map<number, FaceSlot>();
  private readonly connectListeners = new Set<() => void>();
  private control: DaemonControl | undefined;
  private client: MqttClient | undefined;
  private online = false;
  private stopping = false;
  private statsTimer: NodeJS.Timeout | undefined;
  private reconnectMs: number;
  private firstConnect: { promise: Promise<void>; resolve: () => void };
  private reconnects = 0;
  private connects = 0;
  private lastErrorText = '';
  /** The last connection error (refused, TLS, auth, ...); cleared by a successful connect. */
  lastError: EmotiondError | undefined;

  constructor(private readonly deps: MqttPublisherDeps) {
    const { mqtt: m, device } = deps.config;
    this.topics = topicsFor(m.base_topic, device.id);
    this.log = deps.logger.child({ module: 'mqtt' });
    this.control = deps.control;
    this.validator = deps.validator ?? payloadValidator();
    this.now = deps.now ?? Date.now;
    this.reconnectMs = deps.reconnect?.minMs ?? 1000;
    const file = m.queue_file === '' ? undefined : path.resolve(deps.config.system.state_dir, m.queue_file);
    this.outbox = new Outbox({ max: m.queue_max, file, logger: this.log });
    this.commands = new CommandHandler({
      topics: this.topics,
      logger: this.log,
      validator: this.validator,
      control: () => this.control,
      health: () => this.statsObject(),
      respond: (topic, payload, correlationData) => this.send(topic, payload, { qos: 1, retain: false, ...(correlationData && this.isV5() ? { properties: { correlationData } } : {}) }),
      pausedChanged: (paused) => this.publishRetained(this.topics.paused, pausedPayload(paused)),
    });
    let resolve = (): void => undefined;
    const promise = new Promise<void>((r) => (resolve = r));
    this.firstConnect = { promise, resolve };
  }

  get connected(): boolean {
    return this.online;
  }

  /** Resolves at the first successful connection (for systemd READY); never rejects. */
  whenConnected(): Promise<void> {
    return this.firstConnect.promise;
  }

  /** Called after every (re)connect once availability is online; returns a function that removes it. */
  onConnect(listener: () => void): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  setControl(control: DaemonControl): void {
    this.control = control;
    if (this.online) this.publishControlState();
  }

  /** The MQTT part of the stats. */
  health(): MqttHealth {
    return {
      connected: this.online,
      queue_length: this.outbox.length,
      queue_dropped: this.outbox.dropped,
      delivered: this.outbox.delivered,
      reconnects: this.reconnects,
      rejected_commands: this.commands.rejected,
    };
  }

  /** Commands acted on / refused since start. */
  commandCounts(): { accepted: number; rejected: number } {
    return { accepted: this.commands.accepted, rejected: this.commands.rejected };
  }

  /**
   * Loads the queue file and starts connecting; resolves at once. Throws EMD_MQTT only for configuration
   * problems (unreadable password, CA, cert or key file; bad URL), never because the broker is down.
   */
  async start(): Promise<void> {
    if (this.client) return;
    const { url, options } = connectionSettings({ config: this.deps.config, topics: this.topics, env: this.deps.env, reconnectMs: this.reconnectMs });
    this.outbox.load();
    try {
      this.client = mqtt.connect(url, options);
    } catch (err) {
      throw new EmotiondError('EMD_MQTT', `cannot connect to ${safeUrl(url)}: ${(err as Error).message}`, { cause: err });
    }
    const client = this.client;
    this.log.info({ url: safeUrl(url), clientId: options.clientId, protocol: options.protocolVersion, queued: this.outbox.length }, 'connecting to MQTT broker');
    client.on('connect', () => this.onConnected());
    client.on('close', () => this.onClosed());
    client.on('error', (err) => this.onError(err));
    client.on('message', (topic, payload, packet) => this.onMessage(topic, payload, packet.properties?.correlationData));
    const statsMs = this.deps.config.mqtt.stats_interval_s * 1000;
    this.statsTimer = setInterval(() => this.publishStats(), statsMs);
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
    for (const slot of this.faces.values()) if (slot.timer) clearTimeout(slot.timer);
    const client = this.client;
    if (client) {
      const deadline = this.now() + timeoutMs;
      if (this.online) {
        this.pump();
        while (this.online && this.outbox.length > 0 && this.now() < deadline) await sleep(10);
        await withTimeout(client.publishAsync(this.topics.availability, availabilityPayload('offline'), { qos: 1, retain: true }), deadline - this.now()).catch(() => undefined);
      }
      const ended = await withTimeout(client.endAsync(!this.online), Math.max(100, deadline - this.now())).then(
        () => true,
        () => false,
      );
      if (!ended) await client.endAsync(true).catch(() => undefined);
      client.removeAllListeners();
      // end() keeps an error listener-less client quiet only if something listens.
      client.on('error', () => undefined);
      this.online = false;
    }
    await this.outbox.close();
    this.log.info({ undelivered: this.outbox.length, dropped: this.outbox.dropped, delivered: this.outbox.delivered }, 'MQTT publisher stopped');
  }

  // ---- EventSink ----

  event(e: EmotionEvent): void {
    this.guard('event', () => {
      this.outbox.push(JSON.stringify(e));
      this.pump();
    });
  }

  room(s: RoomSummary): void {
    this.guard('room', () => this.publishRetained(this.topics.room, JSON.stringify(s)));
  }

  camera(c: CameraState): void {
    this.guard('camera', () => this.publishRetained(this.topics.camera, JSON.stringify(c)));
  }

  face(f: FaceState): void {
    this.guard('face', () => {
      const intervalMs = this.deps.config.mqtt.face_interval_s * 1000;
      const now = this.now();
      const slot = this.faces.get(f.track) ?? { lastSentMs: -Infinity };
      this.faces.set(f.track, slot);
      const payload = JSON.stringify(f);
      const wait = slot.lastSentMs + intervalMs - now;
      if (wait <= 0) {
        slot.lastSentMs = now;
        slot.latest = undefined;
        this.publishRetained(this.topics.face(f.track), payload);
        return;
      }
      // Too soon: keep the newest and send it when the interval is up, so the last state is never lost.
      slot.latest = payload;
      if (slot.timer || this.stopping) return;
      slot.timer = setTimeout(() => {
        slot.timer = undefined;
        if (slot.latest === undefined) return;
        slot.lastSentMs = this.now();
        this.publishRetained(this.topics.face(f.track), slot.latest);
        slot.latest = undefined;
      }, wait);
      slot.timer.unref();
    });
  }

  faceCleared(_device: string, track: number): void {
    this.guard('faceCleared', () => {
      const slot = this.faces.get(track);
      if (slot?.timer) clearTimeout(slot.timer);
      this.faces.delete(track);
      this.publishRetained(this.topics.face(track), '');
    });
  }

  /** Publish stats now (also done on the timer and after every connect). */
  publishStats(): void {
    this.guard('stats', () => {
      if (this.online) this.send(this.topics.stats, JSON.stringify(this.statsObject()), { qos: 0, retain: true });
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
      nowMs: this.now(),
    });
    return JSON.parse(text) as Record<string, unknown>;
  }

  private isV5(): boolean {
    return this.client?.options.protocolVersion === 5;
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.log.error({ err, what }, 'MQTT publish failed');
    }
  }

  private send(topic: string, payload: string, opts: IClientPublishOptions, done?: (err?: Error) => void): void {
    const client = this.client;
    if (!client || !this.online) return;
    client.publish(topic, payload, opts, (err) => {
      if (err && !this.stopping) this.log.debug({ err, topic }, 'publish not completed');
      done?.(err);
    });
  }

  private publishRetained(topic: string, payload: string): void {
    this.retained.set(topic, payload);
    this.sendRetained(topic, payload);
  }

  private sendRetained(topic: string, payload: string): void {
    this.send(topic, payload, { qos: 1, retain: true }, (err) => {
      // A clear only needs to reach the broker once; keep it if it may not have.
      if (!err && payload === '' && this.retained.get(topic) === '') this.retained.delete(topic);
    });
  }

  /** Hand waiting events to the client while connected, at most WINDOW unacknowledged, in order. */
  private pump(): void {
    if (!this.online || !this.client) return;
    const qos = this.deps.config.mqtt.qos;
    if (qos === 0) {
      // At most once by definition: handed over is done (what sits in a dropped socket is lost).
      for (const item of this.outbox.take(this.outbox.pendingCount)) {
        this.client.publish(this.topics.events, item.payload, { qos, retain: false });
        this.outbox.ack(item);
      }
      return;
    }
    const room = Math.min(WINDOW, this.deps.config.mqtt.queue_max) - this.outbox.inflightCount;
    if (room <= 0) return;
    for (const item of this.outbox.take(room)) {
      this.client.publish(this.topics.events, item.payload, { qos, retain: false }, (err) => {
        if (err) {
          // Unacknowledged QoS 1/2 publishes stay with the client across reconnects; it fails them only when
          // it ends (then they go to the queue file) or cannot send them at all (then they wait again).
          this.log.debug({ err: err.message }, 'event not acknowledged');
          if (!this.stopping) this.outbox.release(item);
          return;
        }
        this.outbox.ack(item);
        this.pump();
      });
    }
  }

  private onConnected(): void {
    const first = this.connects === 0;
    this.connects += 1;
    if (!first) this.reconnects += 1;
    this.online = true;
    this.lastError = undefined;
    this.lastErrorText = '';
    this.reconnectMs = this.deps.reconnect?.minMs ?? 1000;
    if (this.client) this.client.options.reconnectPeriod = this.reconnectMs;
    this.log.info({ queued: this.outbox.length, reconnects: this.reconnects }, 'connected to MQTT broker');
    const client = this.client!;
    const subs = [...this.commands.subscriptions];
    const dt = discoveryTopicsFor(this.deps.config.mqtt.discovery_prefix, this.deps.config.device.id);
    if (this.deps.config.mqtt.discovery) subs.push(dt.haStatus);
    client.subscribe(subs, { qos: 1 }, (err) => {
      // A link that dropped before the SUBACK subscribes again on the next connect.
      if (err && !this.stopping && this.online) this.log.warn({ err: err.message }, 'subscribe failed');
    });
    this.send(this.topics.availability, availabilityPayload('online'), { qos: 1, retain: true });
    if (this.deps.config.mqtt.discovery) this.publishDiscovery();
    for (const [topic, payload] of this.retained) this.sendRetained(topic, payload);
    this.publishControlState();
    this.pump();
    if (first) this.firstConnect.resolve();
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
        this.publishRetained(this.topics.paused, pausedPayload(this.control.isPaused()));
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

  private onClosed(): void {
    if (this.online) this.log.warn({ queued: this.outbox.length }, 'disconnected from MQTT broker; queueing events');
    this.online = false;
    if (this.client && !this.stopping) {
      // Back off: the next attempt waits twice as long, up to maxMs.
      this.client.options.reconnectPeriod = this.reconnectMs;
      this.reconnectMs = Math.min(this.reconnectMs * 2, this.deps.reconnect?.maxMs ?? 10_000);
    }
  }

  private onError(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code;
    const text = `${code ?? ''} ${err.message}`;
    this.lastError = new EmotiondError('EMD_MQTT', err.message, { cause: err });
    // The same failure on every retry is logged once at warn, then at debug.
    if (text !== this.lastErrorText) this.log.warn({ err: { message: err.message, code } }, 'MQTT connection error; retrying');
    else this.log.debug({ code }, 'MQTT connection error; retrying');
    this.lastErrorText = text;
  }

  private onMessage(topic: string, payload: Buffer, correlationData?: Buffer): void {
    const m = this.deps.config.mqtt;
    if (m.discovery && topic === `${m.discovery_prefix}/status`) {
      if (payload.length < 64 && payload.toString('utf8').trim() === 'online') {
        this.log.info('Home Assistant is online; publishing discovery again');
        this.publishDiscovery();
      }
      return;
    }
    this.commands.handle(topic, payload, correlationData);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), Math.max(0, ms));
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}
