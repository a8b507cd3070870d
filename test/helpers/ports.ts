// Ports and addresses for tests that start their own servers.
import net from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** "host:port" of a broker URL, for error messages (the scheme's default port when none is given). */
export function hostPort(url: string): string {
  try {
    const u = new URL(url);
    const defaults: Record<string, string> = { 'mqtt:': '1883', 'mqtts:': '8883', 'ws:': '80', 'wss:': '443' };
    return `${u.hostname}:${u.port || defaults[u.protocol] || '?'}`;
  } catch {
    return url;
  }
}
