// Sends events to every sink (stdout, MQTT, tests); a failing sink is logged and never stops the others.
import type { CameraState, EmotionEvent, EventSink, FaceState, RoomSummary } from '../types.js';
import type { Logger } from '../system/logger.js';
import type { PipelineStats } from '../system/stats.js';

export class FanOutSink implements EventSink {
  private readonly sinks: EventSink[] = [];

  constructor(
    private readonly logger: Logger,
    /** Where the time spent in sinks is added up (the 'publish' stage). */
    private readonly stats?: PipelineStats,
  ) {}

  add(sink: EventSink): void {
    this.sinks.push(sink);
  }

  event(e: EmotionEvent): void {
    this.each('event', (s) => s.event(e));
  }

  room(r: RoomSummary): void {
    this.each('room', (s) => s.room(r));
  }

  face(f: FaceState): void {
    this.each('face', (s) => s.face(f));
  }

  faceCleared(device: string, track: number): void {
    this.each('faceCleared', (s) => s.faceCleared(device, track));
  }

  camera(c: CameraState): void {
    this.each('camera', (s) => s.camera(c));
  }

  private each(what: string, fn: (s: EventSink) => void): void {
    const t0 = performance.now();
    for (const s of this.sinks) {
      try {
        fn(s);
      } catch (err) {
        this.logger.error({ err, what }, 'event sink failed');
      }
    }
    this.stats?.addPublish(performance.now() - t0);
  }
}
