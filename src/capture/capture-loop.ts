// Reads frames into the latest-frame slot. A source that fails to open, fails to read, ends (streams)
// or stalls is reopened with back-off (reopen_min_s doubling to reopen_max_s); the rest keeps running.
import { setTimeout as sleep } from 'node:timers/promises';
import type cv from '../system/opencv.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../system/logger.js';
import type { PipelineStats } from '../system/stats.js';
import { asError } from '../errors.js';
import type { LatestFrameSlot } from './latest-frame-slot.js';
import { OpenCvSource, describeSource, type FrameSource, type SourceProps } from './opencv-source.js';

export interface CaptureEvents {
  online(props: SourceProps): void;
  offline(error: string): void;
  /** A file without `loop` reached its end; nothing more will come. */
  ended(): void;
}

export interface CaptureDeps {
  settings: Config['source'];
  slot: LatestFrameSlot;
  stats: PipelineStats;
  logger: Logger;
  events: CaptureEvents;
  /** Opens the source; injectable so tests can pass a fake frame source. */
  open?: (settings: Config['source']) => FrameSource;
}

class StallError extends Error {}

export class CaptureLoop {
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  private seq = 0;
  /** Media clock for files: frame n of the file is stamped clockStart + n * period, so that timing
   * (hysteresis, expiry) is the same whether a file is paced in real time or read as fast as possible. */
  private clockStart = Date.now();
  private mediaMs = 0;

  constructor(private readonly deps: CaptureDeps) {}

  start(): void {
    this.running ??= this.loop().catch((err) => this.deps.logger.error({ err }, 'capture loop failed'));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async loop(): Promise<void> {
    const { settings, logger, stats, events } = this.deps;
    let delayS = settings.reopen_min_s;
    let opened = false;
    while (!this.stopped) {
      if (opened) stats.sourceReopens += 1;
      opened = true;
      let source: FrameSource | undefined;
      try {
        source = (this.deps.open ?? OpenCvSource.open)(settings);
        logger.info({ source: describeSource(settings.uri), kind: source.kind, ...source.props }, 'source opened');
        const finished = await this.pump(source, () => {
          if (delayS !== settings.reopen_min_s) delayS = settings.reopen_min_s;
        });
        if (finished) {
          events.ended();
          return;
        }
        if (this.stopped) return; // a stop, not a stream that ended: nothing to reopen or report
        logger.warn({ source: describeSource(settings.uri) }, 'stream ended; reopening');
        events.offline('stream ended');
      } catch (err) {
        const message = asError(err).message;
        logger.warn({ source: describeSource(settings.uri), retry_s: delayS, error: message }, 'source failed; reopening after delay');
        events.offline(message);
      } finally {
        source?.close();
      }
      if (this.stopped) return;
      stats.sourceRetryUntilMs = Date.now() + delayS * 1000;
      await sleep(delayS * 1000, undefined, { signal: this.abort.signal }).catch(() => undefined);
      delayS = Math.min(delayS * 2, settings.reopen_max_s);
    }
  }

  /** Read until the source ends or fails. Returns true when a file ended for good. */
  private async pump(source: FrameSource, onFrame: () => void): Promise<boolean> {
    const { settings, slot, stats, events } = this.deps;
    const realtime = source.kind === 'file' && settings.pace === 'realtime';
    const lossless = source.kind === 'file' && settings.pace === 'none';
    const periodMs = 1000 / (source.props.fps > 0 && source.props.fps < 240 ? source.props.fps : 30);
    let t0 = performance.now();
    let n = 0;
    let announced = false;
    while (!this.stopped) {
      if (lossless) await slot.drained();
      const started = performance.now();
      const mat = await this.readWithTimeout(source);
      if (mat === null) {
        if (source.kind !== 'file') return false;
        if (settings.loop && source.rewind()) {
          t0 = performance.now();
          n = 0;
          continue;
        }
        return true;
      }
      if (!isUsable(mat)) {
        stats.framesBad += 1;
        mat.release();
        continue;
      }
      stats.time('capture', performance.now() - started);
      if (!announced) {
        announced = true;
        events.online({ width: mat.cols, height: mat.rows, fps: source.props.fps });
      }
      onFrame();
      if (realtime) {
        const due = t0 + n * periodMs - performance.now();
        if (due > 0) await sleep(due, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
      n += 1;
      stats.framesIn += 1;
      this.seq += 1;
      const timestampMs = source.kind === 'file' ? this.clockStart + this.mediaMs : Date.now();
      this.mediaMs += periodMs;
      if (!slot.put({ mat, info: { seq: this.seq, timestampMs, width: mat.cols, height: mat.rows } })) stats.framesDropped += 1;
    }
    return false;
  }

  /** A read that does not return within stall_timeout_s counts as a stalled source. */
  private async readWithTimeout(source: FrameSource): Promise<cv.Mat | null> {
    const ms = this.deps.settings.stall_timeout_s * 1000;
    const timer = new AbortController();
    const read = source.read();
    const stall = sleep(ms, undefined, { signal: timer.signal }).then(
      () => {
        throw new StallError(`no frame for ${this.deps.settings.stall_timeout_s} s`);
      },
      () => null,
    );
    try {
      const mat = await Promise.race([read, stall]);
      return mat ?? null;
    } catch (err) {
      // The abandoned read may still deliver a frame later: release it then.
      read.then((m) => m?.release()).catch(() => undefined);
      throw err;
    } finally {
      timer.abort();
    }
  }
}

function isUsable(mat: cv.Mat): boolean {
  return !mat.empty && mat.rows >= 16 && mat.cols >= 16 && (mat.channels === 3 || mat.channels === 1 || mat.channels === 4) && mat.depth === 0;
}
