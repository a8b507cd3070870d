// An aedes MQTT broker inside the bench process (127.0.0.1, a free port) that counts what clients publish,
// so that `bench --mqtt` measures the daemon with its MQTT publisher really sending.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';

export class CountingBroker {
  messages = 0;
  bytes = 0;
  private broker: Aedes | undefined;
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  port = 0;

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const broker = await Aedes.createBroker();
    this.broker = broker;
    broker.on('publish', (packet, client) => {
      if (!client) return; // the broker's own $SYS messages
      this.messages += 1;
      this.bytes += packet.payload.length;
    });
    const server = net.createServer((socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      broker.handle(socket);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const { server, broker } = this;
    this.server = undefined;
    this.broker = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await Promise.all([
      server ? new Promise<void>((r) => server.close(() => r())) : undefined,
      broker ? new Promise<void>((r) => broker.close(() => r())) : undefined,
    ]);
  }
}
