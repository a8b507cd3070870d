// Messages between the daemon and its source process (isolated-source.ts, source-process.ts). Requests go as
// JSON lines on the child's stdin; replies come on a local socket of the child's as a 4-byte length, a JSON header
// and, for a frame, `bytes` bytes of pixel data, which the daemon reads straight into one frame buffer (one copy
// through the kernel; no serialiser, and no buffer allocated per read: at a megabyte or more per frame, those would
// keep the daemon's garbage collector busy).
import type { Config } from '../config/schema.js';
import type { ErrorCode } from '../errors.js';
import type { SourceKind, SourceProps } from '../capture/opencv-source.js';

export type SourceRequest =
  | { id: number; kind: 'open'; settings: Config['source']; colour: boolean }
  | { id: number; kind: 'read' }
  /** Read the next frame and drop it undecoded: answered `done` (ok), or `end`. */
  | { id: number; kind: 'skip' }
  | { id: number; kind: 'rewind' }
  | { id: number; kind: 'close' };

export type SourceReply =
  | { id: number; kind: 'opened'; source: SourceKind; props: SourceProps }
  /** An 8-bit frame: `bytes` = rows × cols × channels follow the header. */
  | { id: number; kind: 'frame'; rows: number; cols: number; type: number; bytes: number }
  /** The end of a file or stream. */
  | { id: number; kind: 'end' }
  | { id: number; kind: 'done'; ok: boolean }
  | { id: number; kind: 'error'; code: ErrorCode; message: string };

/** The header of a reply, as written to fd 3 (the frame's data follows it). */
export function encodeReply(reply: SourceReply): Buffer {
  const json = Buffer.from(JSON.stringify(reply));
  const head = Buffer.alloc(4);
  head.writeUInt32LE(json.length, 0);
  return Buffer.concat([head, json]);
}

/** Largest reply header accepted: anything bigger is a broken stream, not a reply. */
const MAX_HEADER = 64 * 1024;

/**
 * Reads replies, in order, from a socket that reads into target() (net's `onread`): a frame's data straight into
 * its frame buffer, anything else into a scratch buffer. The frame buffer is lent with the reply and filled again
 * with the next frame of the same size, so the receiver copies it out before it asks for another frame.
 */
export class ReplyReader {
  private spare: Buffer | null = null;
  private readonly scratch = Buffer.allocUnsafe(64 * 1024);
  private intoFrame = false;
  private head: Buffer = Buffer.alloc(0);
  /** Length of the JSON header being read, -1 while its 4-byte length is incomplete. */
  private headLen = -1;
  private frame: { reply: SourceReply; data: Buffer; filled: number } | null = null;

  constructor(private readonly onReply: (reply: SourceReply, data: Buffer | null) => void) {}

  /** Where the next read lands: the rest of the frame being received, else the scratch buffer. */
  target(): Buffer {
    this.intoFrame = this.frame !== null;
    return this.frame ? this.frame.data.subarray(this.frame.filled) : this.scratch;
  }

  /** `n` bytes were read into the last target(); throws on bytes that are not replies (the process is then ended). */
  read(n: number): void {
    const f = this.frame;
    if (!this.intoFrame || !f) return this.push(this.scratch.subarray(0, n));
    f.filled += n;
    if (f.filled === f.data.length) {
      this.frame = null;
      this.onReply(f.reply, f.data);
    }
  }

  /** Feeds bytes that are in hand (a chunk, or what the scratch buffer got). */
  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      const f = this.frame;
      if (f) {
        const n = Math.min(chunk.length - at, f.data.length - f.filled);
        chunk.copy(f.data, f.filled, at, at + n);
        f.filled += n;
        at += n;
        if (f.filled === f.data.length) {
          this.frame = null;
          this.onReply(f.reply, f.data);
        }
        continue;
      }
      const want = (this.headLen < 0 ? 4 : 4 + this.headLen) - this.head.length;
      const n = Math.min(want, chunk.length - at);
      this.head = Buffer.concat([this.head, chunk.subarray(at, at + n)]);
      at += n;
      if (this.headLen < 0 && this.head.length === 4) {
        this.headLen = this.head.readUInt32LE(0);
        if (this.headLen === 0 || this.headLen > MAX_HEADER) throw new Error(`source process: a reply header of ${this.headLen} bytes`);
      }
      if (this.headLen > 0 && this.head.length === 4 + this.headLen) {
        const reply = JSON.parse(this.head.subarray(4).toString('utf8')) as SourceReply;
        this.head = Buffer.alloc(0);
        this.headLen = -1;
        if (reply.kind === 'frame' && reply.bytes > 0) {
          if (this.spare?.length !== reply.bytes) this.spare = Buffer.allocUnsafe(reply.bytes);
          this.frame = { reply, data: this.spare, filled: 0 };
        } else this.onReply(reply, null);
      }
    }
  }
}
