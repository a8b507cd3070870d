// Debian mosquitto as a child process with a generated config (MQTT 5, TLS with a test CA made by openssl).
// Tests that need it skip when /usr/sbin/mosquitto (or openssl, or setpriv) is absent. A broker never
// outlives the process that started it: it runs under `setpriv --pdeathsig SIGKILL`, so the kernel kills it
// even when ava kills the worker (timeout, SIGKILL) and no exit hook runs; and its config lives under
// $EMOTIOND_TEST_RUN_DIR when set, where .ci/run looks for leftovers.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const MOSQUITTO = process.env['MOSQUITTO_BIN'] ?? '/usr/sbin/mosquitto';
const SETPRIV = '/usr/bin/setpriv';

export function mosquittoMissing(): string | undefined {
  if (!fs.existsSync(MOSQUITTO)) return `mosquitto not found at ${MOSQUITTO} (apt-get install mosquitto, or set MOSQUITTO_BIN)`;
  if (!fs.existsSync(SETPRIV)) return `${SETPRIV} not found (util-linux)`;
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    return 'openssl not found';
  }
  return undefined;
}

export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** A throw-away CA, a server certificate for localhost/127.0.0.1 and a client certificate (EC P-256). */
export function makeTestPki(dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-pki-'))): TestPki {
  const f = (name: string): string => path.join(dir, name);
  const ssl = (...args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  };
  ssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ca.key'));
  ssl('req', '-x509', '-new', '-key', f('ca.key'), '-sha256', '-days', '2', '-subj', '/CN=emotiond test CA', '-out', f('ca.crt'));
  const leaf = (name: string, cn: string, ext: string): void => {
    ssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f(`${name}.key`));
    ssl('req', '-new', '-key', f(`${name}.key`), '-subj', `/CN=${cn}`, '-out', f(`${name}.csr`));
    fs.writeFileSync(f(`${name}.ext`), ext);
    ssl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.crt'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-sha256',
      '-extfile',
      f(`${name}.ext`),
      '-out',
      f(`${name}.crt`),
    );
  };
  leaf('server', 'localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'emotiond-test-client', 'extendedKeyUsage=clientAuth\n');
  return { dir, caCert: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key') };
}

export { freePort } from './ports.js';

export interface Listener {
  port: number;
  /** TLS with these files; plain TCP when absent. */
  tls?: { pki: TestPki; requireClientCert: boolean };
}

/** Where the test brokers' config folders go: the run's own folder when .ci/run set one. */
function brokerDirBase(): string {
  return process.env['EMOTIOND_TEST_RUN_DIR'] || os.tmpdir();
}

export class Mosquitto {
  private child: ChildProcess | undefined;
  readonly log: string[] = [];
  private readonly readyTimeoutMs: number;
  private readonly persistence: boolean;
  /** The config folder, kept across restarts (with persistence, the broker's database lives there too). */
  private dir: string | undefined;

  constructor(
    readonly listeners: Listener[],
    opts: { readyTimeoutMs?: number; persistence?: boolean } = {},
  ) {
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 5000;
    this.persistence = opts.persistence ?? false;
  }

  /** Starts the broker; after a stop, starts it again on the same ports (and, with persistence, the same
   * stored sessions and queued messages, as a broker restarted by its service manager). */
  async start(): Promise<void> {
    const dir = (this.dir ??= fs.mkdtempSync(path.join(brokerDirBase(), 'emotiond-mosq-')));
    const store = this.persistence ? ['persistence true', `persistence_location ${dir}/`] : ['persistence false'];
    const lines = ['per_listener_settings false', 'allow_anonymous true', ...store, 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice'];
    // Running as root, mosquitto would switch to the "mosquitto" user and lose access to the temp files.
    if (process.getuid?.() === 0) lines.push('user root');
    for (const l of this.listeners) {
      lines.push(`listener ${l.port} 127.0.0.1`);
      if (l.tls) {
        lines.push(
          `cafile ${l.tls.pki.caCert}`,
          `certfile ${l.tls.pki.serverCert}`,
          `keyfile ${l.tls.pki.serverKey}`,
          `require_certificate ${l.tls.requireClientCert}`,
        );
      }
    }
    const conf = path.join(dir, 'mosquitto.conf');
    fs.writeFileSync(conf, lines.join('\n') + '\n');
    const child = spawn(SETPRIV, ['--pdeathsig', 'SIGKILL', '--', MOSQUITTO, '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout?.on('data', (d: Buffer) => this.log.push(d.toString()));
    child.stderr?.on('data', (d: Buffer) => this.log.push(d.toString()));
    try {
      await this.waitListening(child);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** Every listener accepts connections, or an error naming the one that does not, within readyTimeoutMs. */
  private async waitListening(child: ChildProcess): Promise<void> {
    const end = Date.now() + this.readyTimeoutMs;
    for (const l of this.listeners) {
      while (!(await canConnect(l.port))) {
        const why = child.exitCode !== null ? `exited with ${child.exitCode}` : Date.now() >= end ? `not within ${this.readyTimeoutMs} ms` : '';
        if (why) throw new Error(`mosquitto did not listen on 127.0.0.1:${l.port} (${why}): ${this.log.join('').trim()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A process running test/helpers/hold-mosquitto.ts, once its broker listens: for tests of broker clean-up. */
export async function startHolder(env: NodeJS.ProcessEnv = process.env): Promise<ChildProcess> {
  const script = fileURLToPath(new URL('./hold-mosquitto.ts', import.meta.url));
  const holder = spawn(process.execPath, ['--import=tsx', script], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${script} did not start its broker within 20 s`)), 20_000);
      holder.stdout?.on('data', (d: Buffer) => {
        if (!d.toString().includes('started')) return;
        clearTimeout(timer);
        resolve();
      });
      holder.once('exit', (code) => reject(new Error(`${script} exited (${code}) before its broker started`)));
    });
  } catch (err) {
    holder.kill('SIGKILL');
    throw err;
  }
  return holder;
}
