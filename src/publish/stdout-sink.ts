// `--print`: events and room summaries as JSON lines on stdout (logs go to stderr).
import type { CameraState, EmotionEvent, EventSink, FaceState, RoomSummary } from '../types.js';

export class StdoutSink implements EventSink {
  constructor(private readonly write: (line: string) => void = (l) => process.stdout.write(l)) {}

  event(e: EmotionEvent): void {
    this.write(`${JSON.stringify(e)}\n`);
  }

  room(s: RoomSummary): void {
    this.write(`${JSON.stringify({ type: 'room', ...s })}\n`);
  }

  face(_f: FaceState): void {}

  faceCleared(_device: string, _track: number): void {}

  camera(c: CameraState): void {
    this.write(`${JSON.stringify({ type: 'camera', ...c })}\n`);
  }
}
