// A unix datagram socket bound in a temp directory, as systemd's NOTIFY_SOCKET is: what a daemon sends to it,
// with the time it arrived. Closed and removed when the test ends.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import unixDgram from 'unix-dgram';
import { waitUntil } from './wait.js';

export interface Note {
  text: string;
  at: number;
}

export interface NotifySocket {
  path: string;
  notes: Note[];
  /** Waits until everything sent to the socket before it was called has arrived: it sends itself a marker, which
   * the kernel queues after them (one socket's datagrams are received in the order they were sent), and takes it
   * out of `notes` again. Use it before asserting that something was NOT sent. */
  settle(timeoutMs?: number): Promise<void>;
}

export async function notifySocket(t: { teardown: (fn: () => void) => void }, prefix = 'emd-notify-'): Promise<NotifySocket> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  const sock = path.join(dir, 'notify');
  const notes: Note[] = [];
  const s = unixDgram.createSocket('unix_dgram', (buf) => notes.push({ text: buf.toString('utf8'), at: Date.now() }));
  await new Promise<void>((resolve, reject) => {
    s.on('listening', resolve);
    s.on('error', reject);
    s.bind(sock);
  });
  t.teardown(() => {
    s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const settle = async (timeoutMs = 2000): Promise<void> => {
    const marker = `X_EMOTIOND_TEST_MARKER=${Math.random().toString(16).slice(2)}`;
    const buf = Buffer.from(marker);
    const sender = unixDgram.createSocket('unix_dgram');
    try {
      sender.send(buf, 0, buf.length, sock);
    } finally {
      sender.close();
    }
    await waitUntil(() => notes.some((n) => n.text === marker), timeoutMs, 'the marker datagram');
    notes.splice(
      notes.findIndex((n) => n.text === marker),
      1,
    );
  };
  return { path: sock, notes, settle };
}
