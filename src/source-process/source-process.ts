// The source's own process (source.isolation "process"): it opens and reads the source through OpenCvSource,
// one request at a time, for the daemon (isolated-source.ts). An open or a read that blocks inside OpenCV (a
// GStreamer pipeline that never prerolls, a URL whose server accepts and never answers) blocks this process
// only; the daemon ends it. It loads OpenCV and nothing else of the daemon.
import net from 'node:net';
import readline from 'node:readline';
import { EmotiondError, asError } from '../errors.js';
import { OpenCvSource } from '../capture/opencv-source.js';
import { encodeReply, type SourceReply, type SourceRequest } from './source-protocol.js';

// Replies go to the daemon over a local socket it connects to (the abstract name argv[2]), in order; those made
// before it connected wait for it.
const connected = new Promise<net.Socket>((resolve) => {
  const server = net.createServer((socket) => {
    server.close();
    socket.on('error', () => process.exit(0));
    socket.on('close', () => process.exit(0));
    resolve(socket);
  });
  server.listen(`\0${process.argv[2] ?? ''}`);
});
let source: OpenCvSource | undefined;
/** Run with --expose-gc: a collection every four frames (this heap is a few MB: about a millisecond) frees the
 * frame copies that were sent (each up to 6 MB outside the heap: V8 would otherwise let tens of them pile up). */
const gc = (globalThis as { gc?: () => void }).gc;
let sent = 0;

function reply(r: SourceReply, data?: Buffer): void {
  void connected.then((out) => {
    out.write(encodeReply(r));
    if (data) out.write(data);
  });
}

function fail(id: number, err: unknown, code: EmotiondError['code']): void {
  const e = asError(err);
  reply({ id, kind: 'error', code: e instanceof EmotiondError ? e.code : code, message: e.message });
}

async function handle(req: SourceRequest): Promise<void> {
  switch (req.kind) {
    case 'open':
      try {
        source?.close();
        source = undefined;
        source = OpenCvSource.open(req.settings, { colour: req.colour });
        reply({ id: req.id, kind: 'opened', source: source.kind, props: source.props });
      } catch (err) {
        fail(req.id, err, 'EMD_SOURCE_OPEN');
      }
      return;
    case 'read': {
      if (!source) return fail(req.id, new Error('no source is open'), 'EMD_SOURCE_READ');
      try {
        const mat = await source.read();
        if (!mat) return reply({ id: req.id, kind: 'end' });
        try {
          // getData() is one contiguous copy (an ROI is copied row by row); the Mat goes at once.
          const data = mat.getData();
          reply({ id: req.id, kind: 'frame', rows: mat.rows, cols: mat.cols, type: mat.type, bytes: data.length }, data);
          if (++sent % 4 === 0) gc?.();
        } finally {
          mat.release();
        }
      } catch (err) {
        fail(req.id, err, 'EMD_SOURCE_READ');
      }
      return;
    }
    case 'skip':
      if (!source) return fail(req.id, new Error('no source is open'), 'EMD_SOURCE_READ');
      try {
        reply((await source.skip()) ? { id: req.id, kind: 'done', ok: true } : { id: req.id, kind: 'end' });
      } catch (err) {
        fail(req.id, err, 'EMD_SOURCE_READ');
      }
      return;
    case 'rewind':
      reply({ id: req.id, kind: 'done', ok: source?.rewind() === true });
      return;
    case 'close':
      source?.close();
      source = undefined;
      reply({ id: req.id, kind: 'done', ok: true });
  }
}

// Ctrl+C reaches the whole process group and systemd signals the whole cgroup: the daemon stops this process
// itself, in order, after the camera state was published. It also ends when the daemon goes (stdin closes;
// and, when started through setpriv, by SIGKILL from the kernel even while an open blocks).
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
// One at a time, in order: a read never overlaps an open or a close of the same capture.
let queue: Promise<void> = Promise.resolve();
readline
  .createInterface({ input: process.stdin })
  .on('line', (line) => {
    let req: SourceRequest;
    try {
      req = JSON.parse(line) as SourceRequest;
    } catch {
      return;
    }
    queue = queue.then(() => handle(req));
  })
  .on('close', () => {
    source?.close();
    process.exit(0);
  });
