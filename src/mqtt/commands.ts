// Inbound MQTT: `set` ({"paused":bool}) and `request/<name>` → `response/<name>`.
// Payloads are untrusted bytes: size-capped, strict UTF-8, JSON, then schema-checked. A bad payload gets a
// warn line (and, for a request, an error response); nothing here throws.
import type { Logger } from '../system/logger.js';
import { LogBudget } from '../system/log-budget.js';
import type { DaemonControl } from '../types.js';
import { REQUEST_NAMES, type RequestName, type Topics } from '../contract/topics.js';
import { responsePayload, type ResponseBody } from '../contract/payloads.js';
import type { PayloadValidator } from '../contract/validate.js';

export const MAX_COMMAND_BYTES = 64 * 1024;
/** Rejected payloads logged per minute; the rest are only counted (stats `rejected_commands`). */
export const REJECT_LOG_BURST = 10;

interface CommandDeps {
  topics: Topics;
  logger: Logger;
  validator: PayloadValidator;
  /** The daemon, once it exists. */
  control: () => DaemonControl | undefined;
  /** The stats payload as an object (health plus the MQTT part), for health_check. */
  health: () => Record<string, unknown>;
  /** Publish a response (QoS 1, not retained); `correlationData` is echoed on MQTT 5. */
  respond: (topic: string, payload: string, correlationData?: Buffer) => void;
  /** The pause state changed: publish it. */
  pausedChanged: (paused: boolean) => void;
  maxBytes?: number;
  /** Clock for the reject-log budget (tests). */
  now?: () => number;
}

type Decoded = { ok: true; value: unknown } | { ok: false; error: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

export class CommandHandler {
  /** Inbound payloads acted on. */
  accepted = 0;
  /** Inbound payloads refused (bad bytes, bad JSON, schema, unknown request). */
  rejected = 0;

  private readonly rejectLog: LogBudget;

  constructor(private readonly deps: CommandDeps) {
    this.rejectLog = new LogBudget({ burst: REJECT_LOG_BURST, windowMs: 60_000, now: deps.now });
  }

  /** Topics to subscribe to. */
  get subscriptions(): string[] {
    return [this.deps.topics.set, this.deps.topics.requestFilter];
  }

  /** Returns false when the topic is not a command topic. */
  handle(topic: string, payload: Buffer, correlationData?: Buffer): boolean {
    try {
      if (topic === this.deps.topics.set) {
        this.handleSet(payload);
        return true;
      }
      const name = this.deps.topics.requestName(topic);
      if (name === undefined) return false;
      this.handleRequest(name, payload, correlationData);
      return true;
    } catch (err) {
      // Unreachable by design; kept so that no inbound message can ever take the daemon down.
      this.rejected += 1;
      this.deps.logger.error({ err, topic }, 'command handler failed');
      return true;
    }
  }

  private decode(payload: Buffer, emptyAs?: unknown): Decoded {
    const max = this.deps.maxBytes ?? MAX_COMMAND_BYTES;
    if (payload.length > max) return { ok: false, error: `payload is ${payload.length} bytes; the limit is ${max}` };
    if (payload.length === 0) return emptyAs === undefined ? { ok: false, error: 'payload is empty' } : { ok: true, value: emptyAs };
    let text: string;
    try {
      text = utf8.decode(payload);
    } catch {
      return { ok: false, error: 'payload is not UTF-8' };
    }
    try {
      return { ok: true, value: JSON.parse(text) as unknown };
    } catch {
      return { ok: false, error: 'payload is not JSON' };
    }
  }

  private handleSet(payload: Buffer): void {
    const decoded = this.decode(payload);
    const problem = decoded.ok ? this.deps.validator.validate('set', decoded.value).error : decoded.error;
    if (problem !== undefined || !decoded.ok) {
      this.reject(this.deps.topics.set, payload.length, problem ?? 'invalid');
      return;
    }
    const control = this.deps.control();
    if (!control) {
      this.reject(this.deps.topics.set, payload.length, 'the daemon is not running yet');
      return;
    }
    const paused = (decoded.value as { paused: boolean }).paused;
    control.setPaused(paused);
    this.accepted += 1;
    this.deps.logger.info({ paused }, paused ? 'paused by MQTT command' : 'resumed by MQTT command');
    this.deps.pausedChanged(control.isPaused());
  }

  private handleRequest(name: string, payload: Buffer, correlationData?: Buffer): void {
    const topic = this.deps.topics.response(name);
    const send = (body: ResponseBody): void => this.deps.respond(topic, responsePayload(body), correlationData);
    const decoded = this.decode(payload, {});
    const transaction = decoded.ok ? transactionOf(decoded.value) : null;
    const fail = (error: string): void => {
      this.reject(this.deps.topics.request(name), payload.length, error);
      send({ status: 'error', data: null, error, transaction });
    };
    if (!decoded.ok) return fail(decoded.error);
    if (!(REQUEST_NAMES as readonly string[]).includes(name)) {
      return fail(`unknown request "${name.slice(0, 64)}"; known: ${REQUEST_NAMES.join(', ')}`);
    }
    const check = this.deps.validator.validate('request', decoded.value);
    if (!check.ok) return fail(check.error ?? 'invalid');
    const control = this.deps.control();
    if (!control) return fail('the daemon is not running yet');
    let data: unknown;
    try {
      data = this.run(name as RequestName, control);
    } catch (err) {
      return fail(`${name} failed: ${(err as Error).message}`);
    }
    this.accepted += 1;
    send({ status: 'ok', data, error: null, transaction });
  }

  private run(name: RequestName, control: DaemonControl): unknown {
    switch (name) {
      case 'health_check':
        return { healthy: true, ...this.deps.health() };
      case 'config':
        return control.config();
      case 'reset_tracks':
        return { ended: control.resetTracks() };
    }
  }

  private reject(topic: string, bytes: number, error: string): void {
    this.rejected += 1;
    const d = this.rejectLog.take();
    if (!d.log) return;
    const held = d.suppressed > 0 ? { suppressed: d.suppressed } : {};
    this.deps.logger.warn({ topic, bytes, error, ...held }, 'rejected MQTT command payload');
    if (d.last) this.deps.logger.warn({ per_minute: REJECT_LOG_BURST }, 'more rejected MQTT command payloads this minute are counted, not logged');
  }
}

/** The request's transaction when it is one a response may echo; null otherwise. */
function transactionOf(value: unknown): string | number | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  if (!Object.prototype.hasOwnProperty.call(value, 'transaction')) return null;
  const t = (value as Record<string, unknown>)['transaction'];
  if (typeof t === 'string' && t.length <= 128) return t;
  if (typeof t === 'number' && Number.isSafeInteger(t)) return t;
  return null;
}
