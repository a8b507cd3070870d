// Sends events to every sink (stdout, MQTT, the dashboard, tests); a failing sink is logged and never stops the
// others. The sinks are given at construction, in the order they are served.
import type { CameraState, EmotionEvent, EventSink, FaceState, RoomSummary } from '../types.js';
import type { Logger } from '../system/logger.js';

export class FanOutSink implements EventSink {
  constructor(
    private readonly logger: Logger,
    private readonly sinks: readonly EventSink[],
  ) {}

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
    for (const s of this.sinks) {
      try {
        fn(s);
      } catch (err) {
        this.logger.error({ err, what }, 'event sink failed');
      }
    }
  }
}
