// The brokers of the tests: a test that cannot reach its broker fails fast naming host:port (never waits
// for ava's timeout), and no mosquitto started by a test outlives it, even when its worker is killed.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { projectRoot } from '../src/system/paths.js';
import { Mosquitto, freePort, mosquittoMissing, startHolder } from './helpers/mosquitto.js';
import { testUnless } from './helpers/skip.js';

const ROOT = projectRoot();
const TSX = ['--import=tsx'];
// Far below ava's 3 minutes; the helpers give up after about 5 s.
const BOUND_MS = 25_000;

/** Runs test/helpers/probe-broker.ts against `url`; it must print how it went and exit by itself. */
async function probe(url: string): Promise<string> {
  const script = path.join(ROOT, 'test/helpers/probe-broker.ts');
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [...TSX, script, url], { cwd: ROOT, timeout: BOUND_MS, killSignal: 'SIGKILL' });
    return stdout.trim();
  } catch (err) {
    const e = err as Error & { killed?: boolean; stdout?: string };
    if (!e.killed) throw err;
    throw new Error(
      `${script} ${url} was still running after ${BOUND_MS / 1000} s (said: ${e.stdout?.trim() || 'nothing'}): the helper hung, or left a client reconnecting`,
    );
  }
}

test('a subscriber pointed at a closed port fails fast naming host:port, and leaves nothing running', async (t) => {
  const port = await freePort();
  const out = await probe(`mqtt://127.0.0.1:${port}`);
  t.regex(out, new RegExp(`^rejected: .*127\\.0\\.0\\.1:${port}`));
});

test('a subscriber pointed at a server that never answers CONNECT fails fast naming host:port', async (t) => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((s) => sockets.add(s.on('error', () => undefined)));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    silent.close();
  });
  const { port } = silent.address() as net.AddressInfo;
  const out = await probe(`mqtt://127.0.0.1:${port}`);
  t.regex(out, new RegExp(`^rejected: .*127\\.0\\.0\\.1:${port}`));
  t.true(sockets.size >= 1, 'the subscriber did reach the silent server');
});

const withMosquitto = testUnless(mosquittoMissing());

/** Pids of the live processes named `name` whose parent is `ppid` (from /proc: no procps needed). */
function childrenNamed(ppid: number, name: string): number[] {
  return fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      const stat = procStat(Number(d));
      return stat && stat.ppid === ppid && stat.comm === name ? [Number(d)] : [];
    });
}

function procStat(pid: number): { comm: string; state: string; ppid: number } | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const close = text.lastIndexOf(')');
    const [state, ppid] = text.slice(close + 2).split(' ');
    return { comm: text.slice(text.indexOf('(') + 1, close), state: state ?? '', ppid: Number(ppid) };
  } catch {
    return undefined;
  }
}

/** Gone, or a zombie nobody has reaped yet: either way no longer running. */
function running(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z';
}

async function waitGone(pids: number[], ms: number): Promise<number[]> {
  const end = Date.now() + ms;
  while (pids.some(running) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  return pids.filter(running);
}

withMosquitto('a mosquitto that does not come up in time is stopped, not left behind', async (t) => {
  const port = await freePort();
  const broker = new Mosquitto([{ port }], { readyTimeoutMs: 0 });
  t.teardown(() => broker.stop());
  await t.throwsAsync(broker.start(), { message: new RegExp(`did not listen on 127\\.0\\.0\\.1:${port}`) });
  t.deepEqual(await waitGone(childrenNamed(process.pid, 'mosquitto'), 10_000), [], 'no mosquitto child left');
});

withMosquitto('a mosquitto dies with the test worker that started it, even when that worker is SIGKILLed', async (t) => {
  const holder = await startHolder();
  const brokers = childrenNamed(holder.pid as number, 'mosquitto');
  t.teardown(() => {
    holder.kill('SIGKILL');
    for (const pid of brokers.filter(running)) process.kill(pid, 'SIGKILL');
  });
  t.is(brokers.length, 1, 'the holder runs one mosquitto');
  holder.kill('SIGKILL');
  t.deepEqual(await waitGone(brokers, 10_000), [], 'mosquitto still running after its worker was killed');
});
