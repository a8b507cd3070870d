// The source in a process of its own (source.isolation): OpenCV's VideoCapture opens synchronously, and a
// GStreamer pipeline that never prerolls or a URL whose server accepts and never answers blocks that call for
// a long time or for ever. In the daemon's thread that would stop MQTT, the page and the health answers. Here
// the open and every read run in a child process (source-process.ts, the same OpenCvSource); an open that
// outlasts source.open_timeout_s, or a read that stalls (the capture loop's source.stall_timeout_s), ends that
// process, and the capture loop reports and retries it like any other camera fault. A worker thread cannot do
// this: the OpenCV binding keeps its classes in process-wide statics, and loading it in a second thread breaks
// the Mats of the first. The cost is one copy of each frame through a pipe (pixels only, no serialiser).
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import type { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import cv from '../system/opencv.js';
import type { Config } from '../config/schema.js';
import type { Logger } from '../system/logger.js';
import { EmotiondError, ERRORS, type ErrorCode } from '../errors.js';
import { sourceKind, sourceWhere, type FrameSource, type SourceKind, type SourceOptions, type SourceProps } from '../capture/opencv-source.js';
import { ReplyReader, type SourceReply, type SourceRequest } from './source-protocol.js';

/** Whether these settings put the source in a process of its own. */
export function isolates(s: Config['source']): boolean {
  return s.isolation === 'process' || (s.isolation === 'auto' && sourceKind(s.uri) !== 'file');
}

/** A rewind or a close that takes longer than this ends the process. */
const SHORT_TIMEOUT_MS = 5000;
/** Starts the process with the kernel's parent-death signal: it ends with the daemon even while an open blocks. */
const SETPRIV = '/usr/bin/setpriv';
/** How often the daemon tries to connect to a process that is starting. */
const CONNECT_RETRY_MS = 20;

type Request = SourceRequest extends infer R ? (R extends unknown ? Omit<R, 'id'> : never) : never;
interface Answer {
  reply: SourceReply;
  data: Buffer | null;
}

class RequestTimeout extends Error {}

/** One source process: requests in order, replies matched by id; every request still open fails when it ends. */
class SourceProcess {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, { resolve: (a: Answer) => void; reject: (e: Error) => void; timer?: NodeJS.Timeout }>();
  private nextId = 1;
  private killed = false;
  exited = false;

  private socket: net.Socket | undefined;

  constructor(private readonly log: Logger) {
    // The name of an abstract socket (Linux; the leading NUL is added on both sides): nothing in the file system.
    const name = `emotiond-source-${process.pid}-${crypto.randomBytes(6).toString('hex')}`;
    const { command, args } = childCommand(name);
    // stdout goes to the daemon's stderr: a library printing there must not mix with `--print`'s JSON lines.
    this.child = spawn(command, args, { stdio: ['pipe', 2, 'inherit'] });
    (this.child.stdin as Writable).on('error', () => undefined); // EPIPE once it has ended: 'exit' reports it
    this.child.on('error', (err) => this.ended(`cannot start: ${err.message}`));
    this.child.on('exit', (code, signal) => this.ended(signal ?? `exit ${code}`));
    this.connect(name, new ReplyReader((reply, data) => this.answer(reply, data)));
    this.log.debug({ pid: this.child.pid }, 'source process started');
  }

  /** Connects to the process's socket once it listens; replies are read straight into their buffers. */
  private connect(name: string, reader: ReplyReader): void {
    if (this.exited) return;
    const socket = net.connect({
      path: `\0${name}`,
      onread: {
        buffer: () => reader.target(),
        callback: (n: number) => {
          try {
            reader.read(n);
          } catch (err) {
            this.kill(`unreadable reply: ${(err as Error).message}`);
          }
          return true;
        },
      },
    });
    socket.once('connect', () => (this.socket = socket));
    socket.on('error', () => {
      // Not listening yet (it is starting): try again; once connected, the process's end is reported by 'exit'.
      if (this.socket !== socket) setTimeout(() => this.connect(name, reader), CONNECT_RETRY_MS).unref();
    });
  }

  /** Sends a request; the answer, or a rejection when the process ends or `timeoutMs` passes first. */
  request(req: Request, timeoutMs?: number): Promise<Answer> {
    if (this.exited) return Promise.reject(new Error('the source process has ended'));
    const id = this.nextId++;
    return new Promise<Answer>((resolve, reject) => {
      const entry: { resolve: (a: Answer) => void; reject: (e: Error) => void; timer?: NodeJS.Timeout } = { resolve, reject };
      if (timeoutMs !== undefined) {
        entry.timer = setTimeout(() => {
          this.pending.delete(id);
          reject(new RequestTimeout(`no answer within ${timeoutMs / 1000} s`));
        }, timeoutMs);
      }
      this.pending.set(id, entry);
      (this.child.stdin as Writable).write(`${JSON.stringify({ ...req, id })}\n`);
    });
  }

  /** Requests sent and not answered yet. */
  get busy(): boolean {
    return this.pending.size > 0;
  }

  kill(why = 'ended by the daemon'): void {
    this.socket?.destroy();
    if (this.exited) return;
    if (!this.killed) this.log.debug({ pid: this.child.pid, why }, 'ending the source process');
    this.killed = true;
    this.child.kill('SIGKILL');
    this.fail(new Error(`the source process was ended (${why})`));
  }

  private answer(reply: SourceReply, data: Buffer | null): void {
    const entry = this.pending.get(reply.id);
    if (!entry) return; // timed out meanwhile
    this.pending.delete(reply.id);
    clearTimeout(entry.timer);
    entry.resolve({ reply, data });
  }

  private ended(how: string): void {
    if (this.exited) return;
    this.exited = true;
    this.socket?.destroy();
    if (!this.killed) this.log.warn({ pid: this.child.pid, how }, 'the source process ended unexpectedly; the source is reopened in a new one');
    this.fail(new Error(`the source process ended (${how})`));
  }

  private fail(err: Error): void {
    for (const entry of this.pending.values()) {
      clearTimeout(entry.timer);
      entry.reject(err);
    }
    this.pending.clear();
  }
}

/** node with source-process.js beside this module (dist), or the .ts through tsx (a checkout); under setpriv. */
function childCommand(socketName: string): { command: string; args: string[] } {
  const js = fileURLToPath(new URL('./source-process.js', import.meta.url));
  const script = fs.existsSync(js) ? [js] : ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('./source-process.ts', import.meta.url))];
  const node = [process.execPath, '--expose-gc', ...script, socketName];
  if (!fs.existsSync(SETPRIV)) return { command: node[0] as string, args: node.slice(1) };
  return { command: SETPRIV, args: ['--pdeathsig', 'SIGKILL', '--', ...node] };
}

/** The error the process reported, as the daemon's own (its message already has the code's text). */
function fromReply(r: { code: ErrorCode; message: string }): EmotiondError {
  const prefix = `${ERRORS[r.code] ?? ''}: `;
  return new EmotiondError(r.code in ERRORS ? r.code : 'EMD_SOURCE_READ', r.message.startsWith(prefix) ? r.message.slice(prefix.length) : r.message);
}

/** An opened capture in its process. close() releases it there, or ends the process while a read is in flight. */
class IsolatedSource implements FrameSource {
  readonly cancellable = true;
  private closed = false;
  /** The frame buffer is lent until the Mat is made: one read at a time. */
  private reading = false;

  constructor(
    private readonly proc: SourceProcess,
    readonly kind: SourceKind,
    readonly props: SourceProps,
  ) {}

  async read(): Promise<cv.Mat | null> {
    if (this.closed) return null;
    const { reply, data } = await this.ask('read');
    if (this.closed || reply.kind === 'end') return null;
    if (reply.kind === 'error') throw fromReply(reply);
    if (reply.kind !== 'frame' || data === null) throw new EmotiondError('EMD_SOURCE_READ', `the source process answered a read with "${reply.kind}"`);
    const channels = (reply.type >> 3) + 1;
    if ((reply.type & 7) !== 0 || !(reply.rows > 0 && reply.cols > 0) || data.length !== reply.rows * reply.cols * channels) {
      throw new EmotiondError('EMD_FRAME_BAD', `the source process sent ${data.length} bytes for a ${reply.cols}x${reply.rows} frame of type ${reply.type}`);
    }
    // Copies the pixels into a Mat of its own, before any other read: the buffer is lent (see ReplyDecoder).
    return new cv.Mat(data, reply.rows, reply.cols, reply.type);
  }

  /** The process reads the next frame and drops it: nothing crosses to the daemon. */
  async skip(): Promise<boolean> {
    if (this.closed) return false;
    const { reply } = await this.ask('skip');
    if (this.closed || reply.kind === 'end') return false;
    if (reply.kind === 'error') throw fromReply(reply);
    if (reply.kind !== 'done') throw new EmotiondError('EMD_SOURCE_READ', `the source process answered a skip with "${reply.kind}"`);
    return true;
  }

  /** One read or skip at a time: the frame buffer is lent until the Mat is made. */
  private async ask(kind: 'read' | 'skip'): Promise<Answer> {
    if (this.reading) throw new EmotiondError('EMD_SOURCE_READ', 'a second read while one is in flight');
    this.reading = true;
    return this.proc.request({ kind }).finally(() => (this.reading = false));
  }

  async rewind(): Promise<boolean> {
    const { reply } = await this.proc.request({ kind: 'rewind' }, SHORT_TIMEOUT_MS);
    return reply.kind === 'done' && reply.ok;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    // A read in flight may be stuck inside OpenCV: only ending the process ends it.
    if (this.proc.busy) return this.proc.kill('closed while a read was in progress');
    this.proc.request({ kind: 'close' }, SHORT_TIMEOUT_MS).catch(() => this.proc.kill('the capture did not close'));
  }
}

/** Opens sources in one long-lived process, replaced when it had to be ended (a wedged open or read). */
export class IsolatedSources {
  private proc: SourceProcess | undefined;

  constructor(private readonly log: Logger) {}

  async open(settings: Config['source'], opts: SourceOptions = {}): Promise<FrameSource> {
    if (!this.proc || this.proc.exited) this.proc = new SourceProcess(this.log);
    const proc = this.proc;
    const where = sourceWhere(settings.uri);
    let answer: Answer;
    try {
      answer = await proc.request({ kind: 'open', settings, colour: opts.colour === true }, settings.open_timeout_s * 1000);
    } catch (err) {
      proc.kill(err instanceof RequestTimeout ? 'the open did not finish in time' : 'the open failed');
      if (err instanceof RequestTimeout) {
        throw new EmotiondError(
          'EMD_SOURCE_OPEN',
          `${where}: the open did not finish within ${settings.open_timeout_s} s (source.open_timeout_s): the source blocks; it is retried`,
        );
      }
      throw new EmotiondError('EMD_SOURCE_OPEN', `${where}: ${(err as Error).message}`);
    }
    const { reply } = answer;
    if (reply.kind === 'error') throw fromReply(reply);
    if (reply.kind !== 'opened') throw new EmotiondError('EMD_SOURCE_OPEN', `${where}: the source process answered an open with "${reply.kind}"`);
    return new IsolatedSource(proc, reply.source, reply.props);
  }

  /** Ends the process (the daemon stops). */
  close(): void {
    this.proc?.kill('the daemon stops');
    this.proc = undefined;
  }
}
