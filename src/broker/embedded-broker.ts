// An MQTT broker inside the daemon (aedes, MQTT 3.1.1 only) for demos, tests and single-box setups:
// TCP on host:port, plus MQTT over WebSocket on wsPort when > 0. stop() closes every socket.
// With `auth`, every client (TCP and WebSocket) must log in with that username and password. The WebSocket
// listener needs `auth` (any web page open on this machine could reach it otherwise) and takes a browser only
// from an origin of `wsOrigins`.
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { EmotiondError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import { LogBudget } from '../system/log-budget.js';
import { LoginCheck, LoginThrottle } from '../system/login-check.js';
import { urlHost } from '../system/addresses.js';

export interface BrokerCredentials {
  username: string;
  password: string;
}

interface EmbeddedBrokerDeps {
  host: string;
  /** TCP port; 0 picks a free one (see `port` after start). */
  port: number;
  /** WebSocket port; 0 = no WebSocket listener. Use `wsPort: 'auto'` for a free one (tests). */
  wsPort: number | 'auto';
  logger: Logger;
  /** Credentials every client must present; undefined = open to anyone who can reach host:port (TCP only). */
  auth?: BrokerCredentials;
  /** Origins (scheme://host[:port]) whose pages may open the WebSocket; a client that sends no Origin (not a
   * browser) is let through to the login. Default: none. */
  wsOrigins?: readonly string[];
}

export class EmbeddedBroker {
  private readonly log: Logger;
  private broker: Aedes | undefined;
  private tcp: net.Server | undefined;
  private httpServer: http.Server | undefined;
  private wss: WebSocketServer | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** The TCP port listened on (after start). */
  port = 0;
  /** The WebSocket port listened on (after start; 0 when off). */
  wsPort = 0;

  constructor(private readonly deps: EmbeddedBrokerDeps) {
    this.log = deps.logger.child({ module: 'broker' });
  }

  /** The aedes instance (tests use it to watch clients or drop a connection). */
  get aedes(): Aedes {
    if (!this.broker) throw new EmotiondError('EMD_MQTT', 'embedded broker is not started');
    return this.broker;
  }

  /** The URL a client on this machine uses. */
  get url(): string {
    return `mqtt://${urlHost(this.deps.host)}:${this.port}`;
  }

  /** Listens; `signal` aborts a start under way (what it opened is closed). */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.broker) return;
    if (this.deps.wsPort !== 0 && !this.deps.auth?.password) {
      throw new EmotiondError(
        'EMD_CONFIG_INVALID',
        "the embedded broker's WebSocket listener (mqtt.embedded_ws_port) needs mqtt.username and a non-empty mqtt.password_file: any web page open on this machine could otherwise read and command the daemon",
      );
    }
    const broker = await Aedes.createBroker();
    this.broker = broker;
    if (signal?.aborted) return this.stop();
    broker.on('clientError', (client, err) => this.log.debug({ client: client.id, err: err.message }, 'client error'));
    broker.on('connectionError', (_client, err) => this.log.debug({ err: err.message }, 'connection error'));
    if (this.deps.auth) broker.authenticate = authenticator(this.deps.auth, this.log);
    try {
      this.tcp = net.createServer((socket) => {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
        broker.handle(socket);
      });
      this.port = await listen(this.tcp, this.deps.port, this.deps.host);
      if (signal?.aborted) return await this.stop();
      if (this.deps.wsPort !== 0) {
        this.httpServer = http.createServer((_req, res) => {
          res.writeHead(426).end('MQTT over WebSocket only\n');
        });
        const allowed = new Set((this.deps.wsOrigins ?? []).map(normalOrigin));
        const refusals = new LogBudget({ burst: 10, windowMs: 60_000 });
        this.wss = new WebSocketServer({
          server: this.httpServer,
          verifyClient: ({ origin }: { origin?: string }, answer: (ok: boolean, code?: number, message?: string) => void) => {
            if (origin === undefined || allowed.has(normalOrigin(origin))) return answer(true);
            const d = refusals.take();
            if (d.log)
              this.log.warn(
                { origin: origin.slice(0, 200), ...(d.suppressed > 0 ? { suppressed: d.suppressed } : {}) },
                'refused a WebSocket from a web page of another origin (mqtt.embedded_ws_origins)',
              );
            answer(false, 403, 'Forbidden origin');
          },
        });
        this.wss.on('connection', (ws, req) => broker.handle(createWebSocketStream(ws), req));
        this.wsPort = await listen(this.httpServer, this.deps.wsPort === 'auto' ? 0 : this.deps.wsPort, this.deps.host);
        if (signal?.aborted) return await this.stop();
      }
    } catch (err) {
      await this.stop();
      throw new EmotiondError('EMD_MQTT', `embedded broker cannot listen on ${this.deps.host}:${this.deps.port}: ${(err as Error).message}`, { cause: err });
    }
    this.log.info({ host: this.deps.host, port: this.port, wsPort: this.wsPort || undefined }, 'embedded MQTT broker listening');
  }

  /** Closes the listeners, every client connection and the broker. */
  async stop(): Promise<void> {
    const { broker, tcp, httpServer, wss } = this;
    this.broker = undefined;
    this.tcp = undefined;
    this.httpServer = undefined;
    this.wss = undefined;
    const closing: Promise<void>[] = [];
    if (tcp) closing.push(new Promise((r) => tcp.close(() => r())));
    if (wss) {
      for (const ws of wss.clients) ws.terminate();
      closing.push(new Promise((r) => wss.close(() => r())));
    }
    if (httpServer) {
      httpServer.closeAllConnections();
      closing.push(new Promise((r) => httpServer.close(() => r())));
    }
    if (broker) closing.push(new Promise((r) => broker.close(() => r())));
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await Promise.all(closing);
  }
}

/** Refused logins are logged at most 10 a minute (anyone on the network can try) and slowed down when repeated. */
function authenticator(auth: BrokerCredentials, log: Logger): NonNullable<Aedes['authenticate']> {
  const login = new LoginCheck(auth);
  const throttle = new LoginThrottle();
  const budget = new LogBudget({ burst: 10, windowMs: 60_000 });
  return (client: Client, username, password, done) => {
    const address = remoteAddress(client);
    const wrong = login.check(username ?? '', password ?? '');
    if (wrong.length === 0) {
      throttle.succeeded(address);
      return done(null, true);
    }
    const { delayMs, count } = throttle.failed(address);
    const d = budget.take();
    if (d.log)
      log.warn(
        { client: client.id, address, wrong, failures: count, ...(d.suppressed > 0 ? { suppressed: d.suppressed } : {}) },
        'refused an MQTT client: wrong username or password',
      );
    const refuse = (): void => done(Object.assign(new Error('bad username or password'), { returnCode: 4 }) as AuthenticateError, false);
    if (delayMs > 0) setTimeout(refuse, delayMs).unref();
    else refuse();
  };
}

function remoteAddress(client: Client): string {
  const conn = client.conn as Partial<net.Socket> | undefined;
  return conn?.remoteAddress ?? client.req?.socket.remoteAddress ?? 'unknown';
}

/** An Origin header or allow-list entry as compared: scheme://host[:port], lower case, no trailing slash. */
function normalOrigin(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

function listen(server: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
