// A live MJPEG-over-HTTP camera: ffmpeg serves a clip in a loop at its own frame rate, the way the README's
// HTTP source recipe does. ffmpeg's HTTP server (`-listen 1`) serves one client and exits when it leaves,
// so while the stream is up it is restarted at once; `down()` kills it and keeps it down.
import { spawn, type ChildProcess } from 'node:child_process';

export class MjpegStream {
  private child: ChildProcess | undefined;
  private wanted = false;
  /** Wall time (ms) of the latest `up()`. */
  upSinceMs = 0;
  readonly url: string;

  constructor(
    private readonly clip: string,
    port: number,
  ) {
    this.url = `http://127.0.0.1:${port}/cam.mjpg`;
  }

  up(): void {
    this.wanted = true;
    this.upSinceMs = Date.now();
    this.spawn();
  }

  async down(): Promise<void> {
    this.wanted = false;
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  }

  private spawn(): void {
    const args = ['-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', this.clip, '-an', '-c:v', 'mjpeg', '-q:v', '5', '-f', 'mpjpeg', '-listen', '1', this.url];
    const child = spawn('ffmpeg', args, { stdio: 'ignore' });
    this.child = child;
    child.once('exit', () => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.wanted) setTimeout(() => this.wanted && !this.child && this.spawn(), 100);
    });
  }
}
