// A unix datagram socket bound in a temp directory, as systemd's NOTIFY_SOCKET is: what a daemon sends to it,
// with the time it arrived. Closed and removed when the test ends.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import unixDgram from 'unix-dgram';

export interface Note {
  text: string;
  at: number;
}

export async function notifySocket(t: { teardown: (fn: () => void) => void }, prefix = 'emd-notify-'): Promise<{ path: string; notes: Note[] }> {
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
  return { path: sock, notes };
}
