// The retained state topics (room, camera, paused, faces/<track>). The latest payload of each is kept and
// sent again after every connect, so a broker that restarted without persistence gets the picture back.
// Faces are rate-limited per track without losing the last state; a cleared face ('' payload) is forgotten
// once the broker has acknowledged the clear. While the connection is congested (a slow link or broker), changes
// are not written into its buffer: each topic's latest payload goes out once it drains (the latest wins).
import type { Topics } from '../contract/topics.js';
import { DrainWait, type Backpressure } from '../outbox/drain-wait.js';

interface RetainedStateDeps {
  topics: Topics;
  faceIntervalMs: number;
  now: () => number;
  /** Publish retained at QoS 1 if connected (else nothing); `acked` runs when the broker has it. */
  send: (topic: string, payload: string, acked: () => void) => void;
  /** The connection's backpressure (absent: never congested). */
  flow?: Backpressure;
}

interface FaceSlot {
  lastSentMs: number;
  latest?: string;
  timer?: NodeJS.Timeout;
}

export class RetainedState {
  private readonly latest = new Map<string, string>();
  private readonly faces = new Map<number, FaceSlot>();
  private stopped = false;
  /** Topics changed while the connection was congested: their latest payload goes out when it drains. */
  private readonly held = new Set<string>();
  private readonly drained: DrainWait;

  constructor(private readonly deps: RetainedStateDeps) {
    this.drained = new DrainWait(deps.flow, () => this.sendHeld());
  }

  /** Topics held (cleared faces included until the broker has the clear). */
  get size(): number {
    return this.latest.size;
  }

  /** Whether this run has state for the topic (a retained message on it that we did not send is stale). */
  holds(topic: string): boolean {
    return this.latest.has(topic);
  }

  set(topic: string, payload: string): void {
    this.latest.set(topic, payload);
    if (this.drained.congested) {
      this.held.add(topic);
      this.drained.ask();
      return;
    }
    this.held.delete(topic);
    this.publish(topic, payload);
  }

  private publish(topic: string, payload: string): void {
    this.deps.send(topic, payload, () => {
      if (payload === '' && this.latest.get(topic) === '') this.latest.delete(topic);
    });
  }

  /** The latest of each topic held while the connection was congested. Offline (it closed), send() sends nothing:
   * resend() after the next connect sends it all. */
  private sendHeld(): void {
    for (const topic of [...this.held]) {
      if (this.drained.congested) return this.drained.ask();
      this.held.delete(topic);
      const payload = this.latest.get(topic);
      if (payload !== undefined) this.publish(topic, payload);
    }
  }

  /** Publish a face's state now, or, when the last one went out less than the interval ago, when it is up. */
  face(track: number, payload: string): void {
    const slot = this.faces.get(track) ?? { lastSentMs: -Infinity };
    this.faces.set(track, slot);
    const wait = slot.lastSentMs + this.deps.faceIntervalMs - this.deps.now();
    if (wait <= 0) {
      slot.lastSentMs = this.deps.now();
      slot.latest = undefined;
      this.set(this.deps.topics.face(track), payload);
      return;
    }
    slot.latest = payload;
    if (slot.timer || this.stopped) return;
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (slot.latest === undefined) return;
      slot.lastSentMs = this.deps.now();
      this.set(this.deps.topics.face(track), slot.latest);
      slot.latest = undefined;
    }, wait);
    slot.timer.unref();
  }

  faceCleared(track: number): void {
    const slot = this.faces.get(track);
    if (slot?.timer) clearTimeout(slot.timer);
    this.faces.delete(track);
    this.set(this.deps.topics.face(track), '');
  }

  /** After a connect: send everything held again. */
  resend(): void {
    this.held.clear();
    for (const [topic, payload] of [...this.latest]) this.set(topic, payload);
  }

  stop(): void {
    this.stopped = true;
    for (const slot of this.faces.values()) if (slot.timer) clearTimeout(slot.timer);
  }
}
