// One MQTT connection that keeps itself up: connects in the background, retries with back-off (also after a
// refused CONNECT such as a bad password), remembers the last error and logs a repeated one only once.
import mqtt, { type IClientPublishOptions, type MqttClient } from 'mqtt';
import { EmotiondError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import { refusesMqtt5, safeUrl, useMqtt311, type ConnectionSettings } from './connection.js';

interface BrokerLinkDeps {
  settings: ConnectionSettings;
  logger: Logger;
  /** Reconnect delay: starts at minMs, doubles up to maxMs, back to minMs after a connect (default 1 s → 10 s). */
  reconnect?: { minMs: number; maxMs: number };
  onConnect: () => void;
  onClose: () => void;
  onMessage: (topic: string, payload: Buffer, meta: { retain: boolean; correlationData?: Buffer }) => void;
  /** Told of every failed attempt instead of the log (a one-shot client gives up on it); `fallback`: the broker
   * refused MQTT 5, and the next attempt is made with MQTT 3.1.1. */
  onError?: (err: Error, fallback: boolean) => void;
}

/** mqtt.js's socket, as much of it as backpressure needs. */
type LinkSocket = NodeJS.WritableStream & { writableNeedDrain?: boolean };

export class BrokerLink {
  /** True between CONNACK and the connection's close. */
  online = false;
  /** Successful connections so far. */
  connects = 0;
  /** The last connection error (refused, TLS, auth, ...); cleared by a successful connect. */
  lastError: EmotiondError | undefined;
  /** Connection errors since start (each failed attempt counts). */
  failures = 0;
  private client: MqttClient | undefined;
  private ending = false;
  private reconnectMs: number;
  private lastErrorText = '';

  constructor(private readonly deps: BrokerLinkDeps) {
    this.reconnectMs = deps.reconnect?.minMs ?? 1000;
  }

  get reconnects(): number {
    return Math.max(0, this.connects - 1);
  }

  get isV5(): boolean {
    return (this.client?.options.protocolVersion ?? this.deps.settings.options.protocolVersion) === 5;
  }

  /** Starts connecting and returns; throws EMD_MQTT only when the client cannot be created (bad URL). */
  start(): void {
    if (this.client) return;
    const { url, options } = this.deps.settings;
    try {
      this.client = mqtt.connect(url, { ...options, reconnectPeriod: this.reconnectMs });
    } catch (err) {
      throw new EmotiondError('EMD_MQTT', `cannot connect to ${safeUrl(url)}: ${(err as Error).message}`, { cause: err });
    }
    const client = this.client;
    client.on('connect', () => this.connected());
    client.on('close', () => this.closed());
    client.on('error', (err) => this.failed(err));
    client.on('message', (topic, payload, packet) =>
      this.deps.onMessage(topic, payload, { retain: packet.retain, correlationData: packet.properties?.correlationData }),
    );
  }

  /** Publishes when online and returns true; returns false (and sends nothing) when offline. */
  publish(topic: string, payload: string, opts: IClientPublishOptions, done?: (err?: Error) => void): boolean {
    if (!this.client || !this.online) return false;
    this.client.publish(topic, payload, opts, (err) => done?.(err));
    return true;
  }

  /** The connection holds more unsent bytes than its socket's high-water mark (a slow link or broker). */
  congested(): boolean {
    return this.online && this.stream()?.writableNeedDrain === true;
  }

  /** Calls `fn` once, when the congested connection has taken what it held, or when it closes. */
  whenDrained(fn: () => void): void {
    const stream = this.stream();
    if (!stream) return fn();
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      fn();
    };
    stream.once('drain', done);
    stream.once('close', done);
  }

  /** The connection's socket (mqtt.js replaces it on each reconnect). */
  private stream(): LinkSocket | undefined {
    return (this.client as unknown as { stream?: LinkSocket } | undefined)?.stream;
  }

  unsubscribe(topics: string[]): void {
    if (this.online) this.client?.unsubscribe(topics, () => undefined);
  }

  subscribe(topics: string[]): void {
    this.client?.subscribe(topics, { qos: 1 }, (err) => {
      // A link that dropped before the SUBACK subscribes again on its next connect.
      if (err && this.online && !this.ending) this.deps.logger.warn({ err: err.message }, 'subscribe failed');
    });
  }

  /**
   * Ends the connection by `deadline` (monotonic ms, performance.now()): publishes `last` first when online (a clean
   * stop's availability offline), then DISCONNECT; a link that is down or slow is just dropped.
   */
  async end(deadline: number, last?: { topic: string; payload: string }): Promise<void> {
    const client = this.client;
    this.ending = true;
    if (!client) return;
    if (this.online && last) {
      await withTimeout(client.publishAsync(last.topic, last.payload, { qos: 1, retain: true }), deadline - performance.now()).catch(() => undefined);
    }
    const clean = await withTimeout(client.endAsync(!this.online), Math.max(100, deadline - performance.now())).then(
      () => true,
      () => false,
    );
    // Past the deadline with messages still unacknowledged: mqtt.js ignores a second end() while the first waits for
    // them, so the connection itself is ended. The client's own 'close' handler stops its keep-alive timer (and,
    // while ending, does not reconnect): it must run before the listeners are removed, or the timer outlives the stop.
    if (!clean) {
      await new Promise<void>((resolve) => {
        const done = setTimeout(resolve, 1000);
        done.unref();
        client.once('close', () => {
          clearTimeout(done);
          resolve();
        });
        client.stream?.destroy();
      });
    }
    client.removeAllListeners();
    // A late socket error of the ended client must not become an unhandled 'error' event.
    client.on('error', () => undefined);
    this.online = false;
  }

  private connected(): void {
    this.connects += 1;
    this.online = true;
    this.lastError = undefined;
    this.lastErrorText = '';
    this.reconnectMs = this.deps.reconnect?.minMs ?? 1000;
    if (this.client) this.client.options.reconnectPeriod = this.reconnectMs;
    this.deps.onConnect();
  }

  private closed(): void {
    const was = this.online;
    this.online = false;
    if (this.client && !this.ending) {
      // Back off: each failed attempt waits twice as long as the one before, up to maxMs.
      this.client.options.reconnectPeriod = this.reconnectMs;
      this.reconnectMs = Math.min(this.reconnectMs * 2, this.deps.reconnect?.maxMs ?? 10_000);
    }
    if (was && !this.ending) this.deps.onClose();
  }

  private failed(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code;
    const options = this.client?.options;
    // A broker without MQTT 5 (aedes, mosquitto 1.x) refuses the CONNECT: fall back to 3.1.1 for good.
    const fallback = options !== undefined && refusesMqtt5(options, err);
    if (fallback) {
      useMqtt311(options);
      this.deps.logger.warn('the broker does not speak MQTT 5; using MQTT 3.1.1');
    }
    const message = errorText(err);
    const text = `${code ?? ''} ${message}`;
    this.lastError = new EmotiondError('EMD_MQTT', message, { cause: err });
    this.failures += 1;
    if (this.deps.onError) this.deps.onError(err, fallback);
    else if (text !== this.lastErrorText) this.deps.logger.warn({ err: { message, code } }, 'MQTT connection error; retrying');
    else this.deps.logger.debug({ code }, 'MQTT connection error; retrying');
    this.lastErrorText = text;
  }
}

/** What went wrong, in words. Node reports a host with several addresses (localhost: ::1 and 127.0.0.1) that all
 * refuse as an AggregateError with an empty message: its parts say it. */
export function errorText(err: Error): string {
  if (err.message) return err.message;
  const parts = err instanceof AggregateError ? err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).filter(Boolean) : [];
  return parts.length > 0 ? parts.join('; ') : ((err as NodeJS.ErrnoException).code ?? err.name);
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
