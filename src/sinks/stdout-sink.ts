// `--print`: events and room summaries as JSON lines on stdout (logs go to stderr). A reader that goes away
// (`emotiond run --print | head`) ends the printing, not the daemon: MQTT and the rest carry on.
import type { CameraState, EmotionEvent, EventSink, FaceState, RoomSummary } from '../types.js';

export class StdoutSink implements EventSink {
  private closed = false;

  constructor(
    private readonly out: NodeJS.WritableStream = process.stdout,
    /** Told once when the stream fails (EPIPE: the reader is gone); nothing is printed after it. */
    onClosed?: (err: Error) => void,
  ) {
    out.on('error', (err: Error) => {
      if (this.closed) return;
      this.closed = true;
      onClosed?.(err);
    });
  }

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

  private write(line: string): void {
    if (!this.closed) this.out.write(line);
  }
}
