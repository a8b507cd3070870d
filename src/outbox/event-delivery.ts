// Moves events from the outbox to the broker: in order, at most `window` unacknowledged at a time (QoS 1/2),
// acknowledged ones leave the outbox. QoS 0 events are handed over and done with (at most once), as fast as the
// connection takes them: while it is congested (a slow link) they wait in the outbox, bounded by mqtt.queue_max,
// rather than in the socket's buffer, which nothing bounds.
import type { Logger } from '../system/logger.js';
import type { Outbox } from './outbox.js';
import { DrainWait, type Backpressure } from './drain-wait.js';

interface EventDeliveryDeps {
  outbox: Outbox;
  topic: string;
  qos: 0 | 1 | 2;
  /** Most events in flight (sent, not yet acknowledged). */
  window: number;
  logger: Logger;
  /** Publishes when online and returns true; returns false when offline. */
  publish: (topic: string, payload: string, opts: { qos: 0 | 1 | 2; retain: false }, done?: (err?: Error) => void) => boolean;
  online: () => boolean;
  stopping: () => boolean;
  /** The connection's backpressure (absent: never congested). */
  flow?: Backpressure;
}

export class EventDelivery {
  /** QoS 0: a congested connection pumps again once it drained. */
  private readonly drained: DrainWait;

  constructor(private readonly deps: EventDeliveryDeps) {
    this.drained = new DrainWait(deps.flow, () => this.pump());
  }

  push(payload: string): void {
    this.deps.outbox.push(payload);
    // Offline, an event waits for the file only until this frame's work is done (one write for all it made);
    // online, the flush waits up to a second, and events the broker acknowledges meanwhile never reach the card.
    if (!this.deps.online()) this.deps.outbox.persistSoon();
    this.pump();
  }

  /** Send what the window allows; called on push, on every acknowledgement and after each connect. */
  pump(): void {
    const { outbox, topic, qos } = this.deps;
    if (!this.deps.online()) return;
    if (qos === 0) {
      // At most once by definition: handed over is done (what sits in a dropped socket is lost).
      while (outbox.pendingCount > 0) {
        if (this.drained.congested) return this.drained.ask();
        const [item] = outbox.take(1);
        this.deps.publish(topic, item!.payload, { qos, retain: false });
        outbox.ack(item!);
      }
      return;
    }
    const room = Math.max(0, this.deps.window - outbox.inflightCount);
    for (const item of outbox.take(room)) {
      this.deps.publish(topic, item.payload, { qos, retain: false }, (err) => {
        if (err) {
          // Unacknowledged QoS 1/2 publishes stay with the client across reconnects; it fails them only when
          // it ends (then they go to the queue file) or cannot send them at all (then they wait again).
          this.deps.logger.debug({ err: err.message }, 'event not acknowledged');
          if (!this.deps.stopping()) outbox.release(item);
          return;
        }
        outbox.ack(item);
        this.pump();
      });
    }
  }

  /** Resolves when the outbox is empty, the link is down, or the deadline (on the clock `now`, monotonic by default) has passed. */
  async drain(deadline: number, now: () => number = () => performance.now()): Promise<void> {
    this.pump();
    while (this.deps.online() && this.deps.outbox.length > 0 && now() < deadline) await new Promise((r) => setTimeout(r, 10));
  }
}
