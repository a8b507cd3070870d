// A live MJPEG-over-HTTP camera: ffmpeg serves a clip in a loop at its own frame rate, the way the README's
// HTTP source recipe does. ffmpeg's HTTP server (`-listen 1`) serves one client and exits when it leaves,
// so while the stream is up it is restarted at once; `down()` kills it and keeps it down.
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { isListening, serveMjpeg } from '../helpers/media-tools.js';

export class MjpegStream {
  private child: ChildProcess | undefined;
  private wanted = false;
  readonly url: string;

  constructor(
    private readonly clip: string,
    readonly port: number,
  ) {
    this.url = `http://127.0.0.1:${port}/cam.mjpg`;
  }

  up(): void {
    this.wanted = true;
    this.spawn();
  }

  /**
   * Wall time (ms) at which ffmpeg listens again after `up()`: the stream's return. Read from the kernel's
   * socket table, because a test connection would take ffmpeg's only client slot.
   */
  async listening(timeoutMs = 30_000): Promise<number> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (isListening(this.port)) return Date.now();
      await sleep(20);
    }
    throw new Error(`ffmpeg did not listen on 127.0.0.1:${this.port} within ${timeoutMs / 1000} s`);
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
    const child = serveMjpeg(this.clip, this.port);
    this.child = child;
    child.once('exit', () => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.wanted) setTimeout(() => this.wanted && !this.child && this.spawn(), 100);
    });
  }
}
