// Shared pieces of the publish tests: config, a log capture, a real subscriber, events, schema checks.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { ExecutionContext } from 'ava';
import type { IClientOptions, MqttClient } from 'mqtt';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import type { Logger } from '../src/system/logger.js';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import { kindOfTopic, PayloadValidator } from '../src/contract/validate.js';
import type { DaemonControl, EmotionEvent, FaceState, RoomSummary, CameraState } from '../src/types.js';
import { zeroScores } from '../src/types.js';
import { connectClient } from './helpers/mqtt-client.js';
import { sleep, waitUntil } from './helpers/wait.js';

export { connectClient, sleep, waitUntil };

export type PublisherConfig = Pick<Config, 'mqtt' | 'device' | 'system'>;

export function tmpDir(prefix = 'emotiond-pub-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Schema defaults with the broker URL and device set, and short intervals. */
export function testConfig(url: string, mqttOverrides: Partial<Config['mqtt']> = {}, device = 'testcam'): PublisherConfig {
  const dir = tmpDir('emotiond-cfg-');
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, '{}');
  const { config } = loadConfig({ file, env: {} });
  config.device.id = device;
  config.system.state_dir = dir;
  Object.assign(config.mqtt, { url, protocol_version: 4, discovery: false, ...mqttOverrides });
  return config;
}

export interface LogCapture {
  logger: Logger;
  lines: Array<Record<string, unknown>>;
  count(level: 'warn' | 'error' | 'info', msg?: string): number;
}

/** A real pino logger that keeps its JSON lines in memory. */
export function captureLogger(level = 'debug'): LogCapture {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const levels = { info: 30, warn: 40, error: 50 };
  const logger = pino({ level }, stream);
  return {
    logger,
    lines,
    count: (lvl, msg) => lines.filter((l) => l['level'] === levels[lvl] && (msg === undefined || l['msg'] === msg)).length,
  };
}

/** An embedded broker on 127.0.0.1; a WebSocket listener needs `auth`. */
export async function startBroker(port = 0, wsPort: number | 'auto' = 0, auth?: { username: string; password: string }): Promise<EmbeddedBroker> {
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port, wsPort, logger: pino({ level: 'silent' }), auth });
  await broker.start();
  return broker;
}

export interface Received {
  topic: string;
  payload: Buffer;
  retain: boolean;
  qos: number;
  text: string;
}

export class Subscriber {
  readonly messages: Received[] = [];
  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, retain: packet.retain, qos: packet.qos, text: payload.toString('utf8') });
    });
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  json(topic: string): unknown[] {
    return this.on(topic)
      .filter((m) => m.payload.length > 0)
      .map((m) => JSON.parse(m.text) as unknown);
  }

  async waitFor(pred: (msgs: Received[]) => boolean, timeoutMs = 5000, what = 'messages'): Promise<void> {
    await waitUntil(() => pred(this.messages), timeoutMs, what);
  }

  /**
   * Waits until everything the broker had routed to this client when it was called has arrived, retained
   * messages of its subscriptions included: it sends itself a marker, which the broker delivers after them (one
   * connection's packets are handled in order). Use it before asserting that something did NOT arrive.
   */
  async settle(timeoutMs = 5000): Promise<void> {
    const topic = `emotiond-test/marker/${this.client.options.clientId ?? 'sub'}`;
    const marker = `${Date.now()}-${Math.random().toString(16).slice(2)}`;
    let seen = false;
    const onMessage = (t: string, payload: Buffer): void => {
      if (t === topic && payload.toString('utf8') === marker) seen = true;
    };
    this.client.on('message', onMessage);
    try {
      await this.client.subscribeAsync(topic, { qos: 1 });
      await this.client.publishAsync(topic, marker, { qos: 1 });
      await waitUntil(() => seen, timeoutMs, `marker ${topic}`);
      await this.client.unsubscribeAsync(topic);
    } finally {
      this.client.off('message', onMessage);
    }
    this.drop((m) => m.topic === topic);
  }

  /**
   * Waits until a publisher has handled everything this client sent it before, and everything it published in
   * return has arrived here: a round trip through its `request/health_check`, which it answers after the messages
   * before it (it handles its inbound messages in order and publishes in order).
   */
  async roundTrip(root: string, timeoutMs = 5000): Promise<void> {
    const response = `${root}/response/health_check`;
    const before = this.on(response).length;
    await this.client.subscribeAsync(response, { qos: 1 });
    await this.client.publishAsync(`${root}/request/health_check`, '{}', { qos: 1 });
    await this.waitFor(() => this.on(response).length > before, timeoutMs, `a response on ${response}`);
    await this.client.unsubscribeAsync(response);
    this.drop((m) => m.topic === response);
  }

  private drop(pred: (m: Received) => boolean): void {
    for (let i = this.messages.length - 1; i >= 0; i--) if (pred(this.messages[i]!)) this.messages.splice(i, 1);
  }

  async end(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** A real MQTT client subscribed to `topics` (QoS 1) before it resolves; rejects within seconds, naming
 * host:port, when the broker cannot be reached. */
export async function subscribe(url: string, topics: string[], opts: IClientOptions = {}): Promise<Subscriber> {
  const client = await connectClient(url, { clientId: `sub_${Math.random().toString(16).slice(2)}`, ...opts });
  const sub = new Subscriber(client);
  await client.subscribeAsync(topics, { qos: 1 });
  return sub;
}

/** The topics that hold a retained message under `filter` now, read by a fresh client. */
export async function retainedTopics(url: string, filter: string): Promise<string[]> {
  const probe = await subscribe(url, [filter]);
  try {
    await probe.settle();
    return probe.messages
      .filter((m) => m.retain && m.payload.length > 0)
      .map((m) => m.topic)
      .sort();
  } finally {
    await probe.end();
  }
}

export function fakeControl(health: Record<string, unknown> = {}): DaemonControl & { paused: boolean; resets: number } {
  const control = {
    paused: false,
    resets: 0,
    setPaused(p: boolean) {
      control.paused = p;
    },
    isPaused: () => control.paused,
    resetTracks() {
      control.resets += 1;
      return 2;
    },
    health: () => ({ frames_in: 100, frames_processed: 90, frames_dropped: 10, active_tracks: 1, fps: 14.5, uptime_s: 12, ...health }),
    config: () => ({ mqtt: { url: 'mqtt://[redacted]@broker:1883', password_file: 'mqtt-password' }, device: { id: 'testcam' } }),
  };
  return control;
}

const box = { x: 10, y: 20, width: 64, height: 64 };

/** Event number i: cycles through the three types so that all of them travel. */
export function makeEvent(i: number, device = 'testcam'): EmotionEvent {
  const base = { id: `${device}-boot-${i}`, device, track: i % 7, time: new Date(1_700_000_000_000 + i).toISOString(), box };
  const scores = { ...zeroScores(), Happy: 0.7, Neutral: 0.3 };
  switch (i % 3) {
    case 0:
      // As the daemon sends it by default: before the face's first label is committed (events.first_label_steps).
      return { ...base, type: 'face_appeared', emotion: null, scores };
    case 1:
      return { ...base, type: 'emotion_changed', before: 'Neutral', after: 'Happy', scores };
    default:
      return { ...base, type: 'face_gone', duration_s: 3.5, dominant: 'Happy', shares: { ...zeroScores(), Happy: 1 } };
  }
}

export function makeFace(track: number, n: number, device = 'testcam'): FaceState {
  return { device, track, time: new Date().toISOString(), emotion: 'Sad', scores: { ...zeroScores(), Sad: 1 }, box: { ...box, x: n }, age_s: n / 10 };
}

export function makeRoom(device = 'testcam'): RoomSummary {
  return {
    device,
    time: new Date().toISOString(),
    window_s: 10,
    faces: 2,
    shares: { ...zeroScores(), Happy: 0.25, Neutral: 0.75 },
    dominant: 'Neutral',
    withheld: false,
    min_faces: 1,
  };
}

export function makeCamera(device = 'testcam'): CameraState {
  return {
    device,
    time: new Date().toISOString(),
    state: 'online',
    source: '/dev/video0',
    width: 640,
    height: 480,
    fps: 15,
    error: null,
    notice: 'Emotion recognition is in use in this area.',
  };
}

/** Compiled once for the test file that uses these helpers. */
const validator = new PayloadValidator();

/** Checks one received message against the schema of its topic; empty retained payloads (clears) are fine. */
export function assertSchema(t: ExecutionContext, m: Received, root: string, discoveryPrefix = 'homeassistant'): void {
  const kind = kindOfTopic(m.topic, root, discoveryPrefix);
  if (kind === undefined) {
    t.fail(`no schema for topic ${m.topic}`);
    return;
  }
  if (m.payload.length === 0) {
    t.true(m.retain || m.topic.includes('/faces/') || m.topic.startsWith(`${discoveryPrefix}/`), `empty payload on ${m.topic}`);
    return;
  }
  const result = validator.validate(kind, JSON.parse(m.text));
  t.true(result.ok, `${m.topic}: ${result.error ?? ''}: ${m.text.slice(0, 300)}`);
}

/** Refuses CONNECT from `clientId` (Not authorized) until open() is called; other clients pass. */
export function gate(broker: EmbeddedBroker, clientId = 'emotiond_testcam'): { open(): void; refused: () => number } {
  let isOpen = false;
  let refused = 0;
  broker.aedes.authenticate = (client, _u, _p, done) => {
    if (client.id !== clientId || isOpen) return done(null, true);
    refused += 1;
    done(Object.assign(new Error('gated'), { returnCode: 5 as const }), false);
  };
  return { open: () => (isOpen = true), refused: () => refused };
}

export function eventIds(sub: Subscriber, topic = 'emotiond/testcam/events'): number[] {
  return sub.json(topic).map((e) => Number((e as { id: string }).id.split('-').at(-1)));
}
