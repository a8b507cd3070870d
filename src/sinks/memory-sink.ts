// Keeps what the daemon emits in memory, in order: for the benchmark, the tests and embedding.
import type { CameraState, EmotionEvent, EventSink, FaceState, RoomSummary } from '../types.js';

/** Keeps everything the daemon emits, in order. */
export class MemorySink implements EventSink {
  readonly events: EmotionEvent[] = [];
  readonly rooms: RoomSummary[] = [];
  readonly faces: FaceState[] = [];
  readonly cleared: number[] = [];
  readonly cameras: CameraState[] = [];
  /** Called with every camera state (the runner stops on 'offline': a file that cannot be read). */
  onCamera?: (c: CameraState) => void;

  event(e: EmotionEvent): void {
    this.events.push(e);
  }
  room(s: RoomSummary): void {
    this.rooms.push(s);
  }
  face(f: FaceState): void {
    this.faces.push(f);
  }
  faceCleared(_device: string, track: number): void {
    this.cleared.push(track);
  }
  camera(c: CameraState): void {
    this.cameras.push(c);
    this.onCamera?.(c);
  }
}
