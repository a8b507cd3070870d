// Reads frames into the latest-frame slot. A source that fails to open, fails to read, ends (streams)
// or stalls is reopened with back-off (reopen_min_s doubling to reopen_max_s); the rest keeps running.
// A stalled read cannot be cancelled (it blocks inside OpenCV on a worker thread), only abandoned: after
// max_stuck_reads of them still blocked, or give_up_s without a frame, reopening is given up (`failed`).
// A source in its own process (isolated-source.ts) is cancellable: its stalled read ends with the process.
// Frames are stamped on the frame clock: monotonic for cameras and streams, media time for files.
import { setTimeout as sleep } from 'node:timers/promises';
import type cv from '../system/opencv.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../system/logger.js';
import type { PipelineStats } from '../system/stats.js';
import { asError } from '../errors.js';
import { redactText } from '../system/redact.js';
import { FrameClock } from '../system/clock.js';
import type { LatestFrameSlot } from './latest-frame-slot.js';
import { OpenCvSource, describeSource, type FrameSource, type SourceOptions, type SourceProps } from './opencv-source.js';

interface CaptureEvents {
  online(props: SourceProps): void;
  /** The source failed; `error` is already redacted (source errors may echo the URI). */
  offline(error: string): void;
  /** A file without `loop` reached its end; nothing more will come. */
  ended(): void;
  /** Reopening cannot help in this process any more (reads stuck for good, or no frame for give_up_s). */
  failed(reason: string): void;
}

export interface CaptureDeps {
  settings: Config['source'];
  slot: LatestFrameSlot;
  stats: PipelineStats;
  logger: Logger;
  events: CaptureEvents;
  /** Opens the source (in this process, or in a process of its own); injectable so tests can pass a fake frame source. */
  open?: (settings: Config['source'], opts: SourceOptions) => FrameSource | Promise<FrameSource>;
  /** Keep frames in colour (`emotiond preview`); otherwise OpenCvSource delivers 8-bit gray. */
  colour?: boolean;
  /** The frame clock (default: the monotonic clock, media time for files). */
  clock?: FrameClock;
  /** Whether the next frame, due at `timestampMs` on the frame clock, is to be decoded and processed; the others are
   * read and dropped undecoded (the motion gate's idle rate, a pause). Default: every frame. */
  wants?: (timestampMs: number) => boolean;
}

class StallError extends Error {}

export class CaptureLoop {
  private readonly abort = new AbortController();
  private running: Promise<void> | null = null;
  private seq = 0;
  private readonly clock: FrameClock;
  /** Media clock for files: frame n of the file is stamped clockStart + n * period, so that timing
   * (hysteresis, expiry) is the same whether a file is paced in real time or read as fast as possible. */
  private readonly clockStart: number;
  private mediaMs = 0;
  /** Reads abandoned after the stall timeout that have not returned: each holds a libuv worker thread (OpenCV cannot
   * cancel a read), and Node joins those threads at exit, so while one is stuck the process cannot exit normally. */
  private stuck = 0;

  constructor(private readonly deps: CaptureDeps) {
    this.clock = deps.clock ?? new FrameClock(false);
    this.clockStart = this.clock.now();
  }

  start(): void {
    this.running ??= this.loop().catch((err) => this.deps.logger.error({ err }, 'capture loop failed'));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
  }

  /** Reads stuck in the source now (see `stuck`): the daemon ends with SIGKILL while there are any. */
  get stuckReads(): number {
    return this.stuck;
  }

  private get stopped(): boolean {
    return this.abort.signal.aborted;
  }

  private async loop(): Promise<void> {
    const { settings, logger, stats, events } = this.deps;
    let delayS = settings.reopen_min_s;
    let opened = false;
    let lastFrameMs = this.clock.now();
    while (!this.stopped) {
      if (opened) stats.sourceReopens += 1;
      opened = true;
      let source: FrameSource | undefined;
      try {
        // An open in a process of its own may take up to open_timeout_s: the capture is busy, not stalled.
        stats.sourceRetryUntilMs = this.clock.now() + settings.open_timeout_s * 1000;
        source = await (this.deps.open ?? OpenCvSource.open)(settings, { colour: this.deps.colour });
        stats.sourceRetryUntilMs = this.clock.now();
        if (this.stopped) return;
        logger.info({ source: describeSource(settings.uri), kind: source.kind, ...source.props }, 'source opened');
        const finished = await this.pump(source, () => {
          lastFrameMs = this.clock.now();
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
        if (this.stopped) return; // a read ended by the stop itself (a source process is ended with the daemon)
        // Error texts may echo the URI (FFmpeg, GStreamer): shown redacted, in the log and on the camera topic.
        const message = redactText(asError(err).message);
        logger.warn({ source: describeSource(settings.uri), retry_s: delayS, error: message }, 'source failed; reopening after delay');
        events.offline(message);
      } finally {
        source?.close();
      }
      if (this.stopped) return;
      const hopeless = this.giveUpReason(lastFrameMs);
      if (hopeless !== undefined) return this.giveUp(hopeless);
      stats.sourceRetryUntilMs = this.clock.now() + delayS * 1000;
      await sleep(delayS * 1000, undefined, { signal: this.abort.signal }).catch(() => undefined);
      delayS = Math.min(delayS * 2, settings.reopen_max_s);
    }
  }

  /** Why reopening the source cannot help any more, or undefined while it may. */
  private giveUpReason(lastFrameMs: number): string | undefined {
    const { max_stuck_reads, give_up_s, stall_timeout_s } = this.deps.settings;
    const stuck = this.stuck;
    if (stuck >= max_stuck_reads) {
      return `${stuck} reads from the source are stuck (no frame within ${stall_timeout_s} s, never returned; source.max_stuck_reads is ${max_stuck_reads})`;
    }
    if (give_up_s > 0 && this.clock.now() - lastFrameMs >= give_up_s * 1000) return `no frame for ${give_up_s} s while reopening the source (source.give_up_s)`;
    return undefined;
  }

  private giveUp(reason: string): void {
    const { settings, logger, stats, events } = this.deps;
    stats.sourceFailed = true;
    logger.fatal(
      { code: 'EMD_SOURCE_READ', source: describeSource(settings.uri), error: reason },
      'giving up on the source; a restart of the service may recover it',
    );
    events.failed(reason);
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
    // The camera is online with its first frame, decoded or not (paused from the start, none is decoded).
    const announce = (width: number, height: number): void => {
      if (announced) return;
      announced = true;
      events.online({ width, height, fps: source.props.fps });
    };
    let fresh = true;
    // A file's frames as a camera delivers them: frame n is due at t0 + n periods. More than a frame late (a slow
    // first read, a loaded machine): go on from now, as a camera would, instead of reading the backlog in a burst
    // faster than the clip's frame rate.
    const pace = async (): Promise<void> => {
      if (!realtime) return;
      const due = t0 + n * periodMs - performance.now();
      if (due > 0) await sleep(due, undefined, { signal: this.abort.signal }).catch(() => undefined);
      else if (due < -periodMs) t0 = performance.now() - n * periodMs;
    };
    while (!this.stopped) {
      if (lossless) await slot.drained();
      const wanted = this.deps.wants?.(this.frameMs(source)) ?? true;
      const started = performance.now();
      const got = await this.withTimeout<cv.Mat | boolean | null>(source, wanted ? source.read() : skip(source));
      if (got === null || got === false) {
        if (source.kind !== 'file') return false;
        if (settings.loop && (await source.rewind())) {
          t0 = performance.now();
          n = 0;
          fresh = true;
          continue;
        }
        return true;
      }
      if (got === true) {
        announce(source.props.width, source.props.height);
        onFrame();
        await pace();
        n += 1;
        stats.skippedUndecoded(this.clock.now());
        this.mediaMs += periodMs;
        continue;
      }
      const mat = got;
      if (!isUsable(mat)) {
        stats.badFrame('source');
        mat.release();
        continue;
      }
      stats.time('capture', performance.now() - started);
      announce(mat.cols, mat.rows);
      onFrame();
      await pace();
      n += 1;
      stats.received(this.clock.now());
      this.seq += 1;
      const timestampMs = this.frameMs(source);
      this.mediaMs += periodMs;
      // The first frame the pipeline gets from this opening (or loop) of the source; earlier ones may have been skipped.
      if (!slot.put({ mat, info: { seq: this.seq, timestampMs, fresh } })) stats.framesDropped += 1;
      fresh = false;
    }
    return false;
  }

  /** The frame clock of the next frame: its media time for a file, now for a camera or a stream. */
  private frameMs(source: FrameSource): number {
    return source.kind === 'file' ? this.clockStart + this.mediaMs : this.clock.now();
  }

  /** A read (or skip) that does not return within stall_timeout_s counts as a stalled source. */
  private async withTimeout<T extends cv.Mat | boolean | null>(source: FrameSource, read: Promise<T>): Promise<T> {
    const ms = this.deps.settings.stall_timeout_s * 1000;
    // A plain timer: aborting a timers/promises sleep on every frame made a DOMException (with its stack) per frame.
    let timer: NodeJS.Timeout | undefined;
    const stall = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new StallError(`no frame for ${this.deps.settings.stall_timeout_s} s`)), ms);
    });
    try {
      return await Promise.race([read, stall]);
    } catch (err) {
      if (err instanceof StallError) {
        // In-process reads are abandoned, not cancelled: each holds its thread until it returns. A cancellable
        // source's read ends when the source is closed. A frame either brings late is released.
        const stuck = source.cancellable !== true;
        if (stuck) this.stuck += 1;
        read
          .then(
            (m) => (typeof m === 'object' ? m?.release() : undefined),
            () => undefined,
          )
          .finally(() => stuck && (this.stuck -= 1));
      }
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The next frame read and dropped undecoded: true, or false at the end (a source without skip() reads and releases it). */
async function skip(source: FrameSource): Promise<boolean> {
  if (source.skip) return source.skip();
  const mat = await source.read();
  mat?.release();
  return mat !== null;
}

function isUsable(mat: cv.Mat): boolean {
  return !mat.empty && mat.rows >= 16 && mat.cols >= 16 && (mat.channels === 3 || mat.channels === 1 || mat.channels === 4) && mat.depth === 0;
}
