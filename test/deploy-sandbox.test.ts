// What the unit's hardening leaves working, checked for real: node, onnxruntime, OpenCV, sd_notify, sockets,
// and then the whole daemon, run under deploy/sandbox/run.sh (the unit's syscall filter, socket families,
// read-only system, private /tmp, /proc subset, user namespace) on machines without systemd as PID 1.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import unixDgram from 'unix-dgram';
import { freePort } from './helpers/ports.js';
import { waitUntil } from './helpers/wait.js';

const SRC = path.resolve('.');
const RUN = path.join(SRC, 'deploy/sandbox/run.sh');
const MAIN_JS = path.join(SRC, 'dist/src/cli/main.js');
const DEMO_CLIP = path.join(SRC, 'deploy/demo/demo-faces.avi');
const MODEL = process.env.EMOTIOND_TEST_MODEL ? path.resolve(process.env.EMOTIOND_TEST_MODEL) : path.join(SRC, 'models/emotion-cnn-lstm.int8.onnx');

function ancestors(dir: string): string[] {
  const out = [dir];
  while (path.dirname(out.at(-1)!) !== out.at(-1)) out.push(path.dirname(out.at(-1)!));
  return out;
}

function why(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (mount and user namespaces)';
  // The unit's PrivateTmp replaces /tmp: a checkout under it is invisible inside the sandbox.
  if (SRC === '/tmp' || SRC.startsWith(`${os.tmpdir()}/`) || SRC.startsWith('/tmp/')) return `the checkout ${SRC} is under /tmp, which the sandbox replaces`;
  // The service runs as an unprivileged uid: every directory above the checkout must let others through.
  const closed = ancestors(SRC).find((dir) => (fs.statSync(dir).mode & 0o001) === 0);
  if (closed) return `the service's uid cannot enter ${closed} (mode ${(fs.statSync(closed).mode & 0o777).toString(8)}), above the checkout`;
  for (const tool of ['unshare', 'setpriv', 'python3', 'systemd-analyze']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} not found`;
  }
  const trial = spawnSync(RUN, ['--', 'true'], { encoding: 'utf8' });
  if (trial.status !== 0) return `this machine cannot build the sandbox: ${trial.stderr.trim().split('\n').at(-1)}`;
  return undefined;
}

const notPossible = why();
if (notPossible) console.log(`deploy-sandbox tests skipped: ${notPossible}`);
const sandboxed = notPossible ? test.serial.skip : test.serial;

/** A directory under /tmp that stays visible inside the sandbox (--share). */
function shared(t: { teardown: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emd-sbx-'));
  fs.chmodSync(dir, 0o777);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function notifyListener(
  dir: string,
  t: { teardown: (fn: () => void) => void },
): Promise<{ path: string; messages: Array<{ text: string; at: number }> }> {
  const sock = path.join(dir, 'notify');
  const messages: Array<{ text: string; at: number }> = [];
  const s = unixDgram.createSocket('unix_dgram', (buf) => messages.push({ text: buf.toString(), at: Date.now() }));
  await new Promise<void>((resolve, reject) => {
    s.on('listening', resolve);
    s.on('error', reject);
    s.bind(sock);
  });
  fs.chmodSync(sock, 0o777);
  t.teardown(() => s.close());
  return { path: sock, messages };
}

const PROBE = String.raw`
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import dns from 'node:dns/promises';
import { Worker } from 'node:worker_threads';
const [src, model, notifySocket, stateDir] = process.argv.slice(2);
const require = createRequire(src + '/package.json');
const out = {};
const check = async (name, fn) => { try { out[name] = await fn(); } catch (e) { out[name] = 'ERROR ' + (e.code ?? '') + ' ' + e.message; } };
await check('uid', () => process.getuid());
await check('pid1Hidden', () => !fs.readdirSync('/proc').includes('1') && fs.existsSync('/proc/self/status'));
await check('cpuinfoVisible', () => fs.existsSync('/proc/cpuinfo'));
await check('stateWrite', () => { fs.writeFileSync(stateDir + '/probe', 'x'); return fs.readFileSync(stateDir + '/probe', 'utf8'); });
await check('etcWrite', () => { try { fs.writeFileSync('/etc/emotiond-probe', 'x'); return 'written'; } catch (e) { return e.code; } });
await check('tmpWrite', () => { fs.writeFileSync('/tmp/probe', 'x'); return 'ok'; });
await check('interfaces', () => Object.keys(os.networkInterfaces()).includes('lo'));
await check('parallelism', () => os.availableParallelism() >= 1);
await check('dns', async () => (await dns.lookup('localhost')).address);
await check('tcp', () => new Promise((resolve, reject) => {
  const srv = net.createServer((s) => s.end('pong')).listen(0, '127.0.0.1', () => {
    const c = net.connect(srv.address().port, '127.0.0.1');
    let got = '';
    c.on('data', (d) => (got += d)).on('end', () => { srv.close(); resolve(got); }).on('error', reject);
  });
}));
await check('worker', () => new Promise((resolve, reject) => {
  const w = new Worker('require("node:worker_threads").parentPort.postMessage(6 * 7)', { eval: true });
  w.on('message', resolve).on('error', reject);
}));
await check('child', () => new Promise((resolve, reject) => {
  require('node:child_process').execFile(process.execPath, ['-p', '1 + 1'], (e, so) => (e ? reject(e) : resolve(so.trim())));
}));
await check('onnxruntime', async () => {
  const ort = require('onnxruntime-node');
  if (!model || !fs.existsSync(model)) return new ort.Tensor('float32', new Float32Array(4), [2, 2]).dims.join('x');
  const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 2 });
  return s.inputNames.length > 0 ? 'session' : 'no inputs';
});
await check('opencv', () => {
  let cv;
  try { cv = require('@u4/opencv4nodejs'); } catch (e) { return 'not built'; }
  const gray = new cv.Mat(240, 320, cv.CV_8UC1, 128);
  const cc = new cv.CascadeClassifier('/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml');
  return 'detected ' + cc.detectMultiScale(gray).objects.length;
});
await check('notify', () => new Promise((resolve, reject) => {
  const u = require('unix-dgram');
  const s = u.createSocket('unix_dgram');
  const b = Buffer.from('READY=1\nSTATUS=probe');
  s.send(b, 0, b.length, notifySocket, (e) => { s.close(); e ? reject(e) : resolve('sent'); });
}));
console.log(JSON.stringify(out));
`;

sandboxed('node, onnxruntime, OpenCV, sockets and sd_notify work under the unit sandbox', async (t) => {
  const dir = shared(t);
  const listener = await notifyListener(dir, t);
  const probe = path.join(dir, 'probe.mjs');
  fs.writeFileSync(probe, PROBE);
  const r = spawnSync(RUN, ['--share', dir, '--', process.execPath, probe, SRC, fs.existsSync(MODEL) ? MODEL : '', listener.path, '/var/lib/emotiond'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  t.is(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
  t.log(out);
  t.is(out.uid, 61184);
  t.true(out.pid1Hidden, 'ProtectProc=invisible');
  // ProcSubset=all: onnxruntime's cpuinfo reads /proc/cpuinfo and prints "Error in cpuinfo" without it.
  t.true(out.cpuinfoVisible, 'ProcSubset=all');
  t.false(r.stderr.includes('Error in cpuinfo'), r.stderr);
  t.false(r.stderr.includes('cpuinfo_initialize failed'), r.stderr);
  t.is(out.stateWrite, 'x');
  t.is(out.etcWrite, 'EROFS');
  t.is(out.tmpWrite, 'ok');
  t.true(out.interfaces, 'os.networkInterfaces() needs AF_NETLINK');
  t.true(out.parallelism);
  // A Debian install's /etc/hosts names localhost for both families; node keeps the resolver's order.
  t.true(out.dns === '127.0.0.1' || out.dns === '::1', `localhost resolved to ${String(out.dns)}`);
  t.is(out.tcp, 'pong');
  t.is(out.worker, 42);
  t.is(out.child, '2');
  t.regex(String(out.onnxruntime), /^(session|2x2)$/);
  t.regex(String(out.opencv), /^(detected \d+|not built)$/);
  t.is(out.notify, 'sent');
  // spawnSync held the event loop: let the listener read what is waiting on its socket.
  await new Promise((r) => setTimeout(r, 100));
  t.true(listener.messages.some((m) => m.text === 'READY=1\nSTATUS=probe'));
});

sandboxed('a socket family the unit does not allow is refused', (t) => {
  // AF_PACKET (17) is not in RestrictAddressFamilies=; node opens no such socket, so use python.
  const r = spawnSync(
    RUN,
    ['--', 'python3', '-c', 'import socket\ntry:\n socket.socket(17, socket.SOCK_RAW)\n print("opened")\nexcept OSError as e:\n print("refused", e.errno)'],
    {
      encoding: 'utf8',
    },
  );
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /^refused \d+/);
});

const haveDaemon = fs.existsSync(MAIN_JS) && fs.existsSync(DEMO_CLIP) && fs.existsSync(MODEL);
if (!notPossible && !haveDaemon) {
  console.log(
    `deploy-sandbox daemon test skipped: needs ${[MAIN_JS, DEMO_CLIP, MODEL].filter((f) => !fs.existsSync(f)).join(', ')} (npm run build, deploy/setup.sh, the model; EMOTIOND_TEST_MODEL=FILE picks another model)`,
  );
}
const daemonTest = notPossible || !haveDaemon ? test.serial.skip : test.serial;

daemonTest('the daemon under the unit sandbox: READY, watchdog pings, STOPPING and exit 0 within 2 s of SIGTERM', async (t) => {
  const dir = shared(t);
  const listener = await notifyListener(dir, t);
  const port = await freePort();
  const args = [
    '--share',
    dir,
    '--env',
    `NOTIFY_SOCKET=${listener.path}`,
    '--env',
    'WATCHDOG_USEC=1000000',
    '--',
    process.execPath,
    MAIN_JS,
    'run',
    '--source',
    DEMO_CLIP,
    '--source-pace',
    'realtime',
    '--source-loop',
    '--classifier-model',
    MODEL,
    '--device-id',
    'sandbox',
    '--mqtt-embedded',
    '--mqtt-embedded-port',
    String(port),
    '--mqtt-url',
    `mqtt://127.0.0.1:${port}`,
    '--system-ready-timeout-s',
    '10',
    '--log-pretty',
    'no',
  ];
  const startedAt = Date.now();
  const child = spawn(RUN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const nodePid = (): number =>
    Number(
      spawnSync('pgrep', ['-P', String(child.pid)], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')[0],
    );
  t.teardown(() => {
    if (child.exitCode !== null) return;
    const pid = nodePid();
    if (pid > 0) process.kill(pid, 'SIGKILL');
    child.kill('SIGKILL');
  });

  const waitFor = (pred: () => boolean, ms: number, what: string): Promise<void> =>
    waitUntil(pred, ms, what, () => `notify: ${JSON.stringify(listener.messages)}\nstderr: ${stderr.slice(-3000)}`);
  await waitFor(() => listener.messages.some((m) => m.text.startsWith('READY=1')), 60_000, 'READY=1');
  await waitFor(() => listener.messages.filter((m) => m.text === 'WATCHDOG=1').length >= 3, 10_000, 'three watchdog pings');

  // The node process is the sandbox script's child (unshare, setpriv and python exec into it).
  const pid = nodePid();
  t.true(pid > 0);
  t.regex(fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /main\.js/);
  const sentAt = Date.now();
  process.kill(pid, 'SIGTERM');
  const code = await exited;
  const tookMs = Date.now() - sentAt;
  t.is(code, 0, stderr.slice(-3000));
  t.true(tookMs < 2000, `exit took ${tookMs} ms`);
  t.true(listener.messages.some((m) => m.text.startsWith('STOPPING=1')));
  t.false(/"level":(50|60)/.test(stderr), stderr.slice(-3000));
  t.log(`READY ${(listener.messages.find((m) => m.text.startsWith('READY=1'))?.at ?? 0) - startedAt} ms after the start; exit ${tookMs} ms after SIGTERM`);
});
