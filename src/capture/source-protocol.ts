// Messages between the daemon and its source process (isolated-source.ts, source-process.ts). Requests go as
// JSON lines on the child's stdin; replies come on its fd 3 as a 4-byte length, a JSON header and, for a frame,
// `bytes` bytes of pixel data (one copy through the kernel, none through a serialiser).
import type { Config } from '../config/schema.js';
import type { ErrorCode } from '../errors.js';
import type { SourceKind, SourceProps } from './opencv-source.js';

export type SourceRequest =
  | { id: number; kind: 'open'; settings: Config['source'] }
  | { id: number; kind: 'read' }
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
 * Reads replies from the bytes of fd 3, in order. A frame's data is gathered into one buffer of its size
 * (allocated once per frame), which the reply hands over.
 */
export class ReplyDecoder {
  private head: Buffer = Buffer.alloc(0);
  /** Length of the JSON header being read, -1 while its 4-byte length is incomplete. */
  private headLen = -1;
  private frame: { reply: SourceReply; data: Buffer; filled: number } | null = null;

  constructor(private readonly onReply: (reply: SourceReply, data: Buffer | null) => void) {}

  /** Feed the next chunk; throws on bytes that are not replies (the process is then ended). */
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
        if (reply.kind === 'frame' && reply.bytes > 0) this.frame = { reply, data: Buffer.allocUnsafe(reply.bytes), filled: 0 };
        else this.onReply(reply, null);
      }
    }
  }
}
