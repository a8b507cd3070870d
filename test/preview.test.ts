// `emotiond preview` as a process of its own: a real HTTP fetch of the page, the MJPEG stream and a snapshot
// while it runs on the demo clip (under its random path, as an unprivileged user when started as root; foreign
// hosts, cross-site embedding and requests without the token refused), the refusal under a service manager or
// without a terminal, and the refusal while another process holds the camera (a character device) open.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import test from 'ava';
import { checkCameraFree } from '../src/cli/preview.js';
import { deviceHolders, localDevice } from '../src/capture/device-holders.js';
import { EmotiondError } from '../src/errors.js';
import cv from '../src/system/opencv.js';
import { projectRoot } from '../src/system/paths.js';
import { freePort } from './helpers/ports.js';
import { missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { sleep, waitUntil } from './helpers/wait.js';

const clip = path.join(projectRoot(), 'deploy/demo/demo-faces.avi');
const noClip = firstMissing(missingModel(), !fs.existsSync(clip) && `${clip} not found`);

function get(
  port: number,
  urlPath: string,
  host = `127.0.0.1:${port}`,
  headers: Record<string, string> = {},
): Promise<{ status: number; type: string; body: Buffer; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers: { ...headers, host }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks), headers: res.headers }),
      );
    });
    req.on('error', reject);
  });
}

/** The first `n` JPEG parts of the MJPEG stream, then the connection is closed. */
function streamParts(port: number, n: number, urlPath: string): Promise<{ type: string; parts: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath }, (res) => {
      let buf = Buffer.alloc(0);
      let done = false;
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        buf = Buffer.concat([buf, c]);
        for (;;) {
          const head = buf.indexOf('\r\n\r\n');
          const m = /Content-Length: (\d+)/.exec(buf.subarray(0, Math.max(0, head)).toString('latin1'));
          if (head < 0 || !m) break;
          const len = Number(m[1]);
          if (buf.length < head + 4 + len) break;
          parts.push(buf.subarray(head + 4, head + 4 + len));
          buf = buf.subarray(head + 4 + len);
        }
        if (parts.length >= n && !done) {
          done = true;
          req.destroy();
          resolve({ type: String(res.headers['content-type']), parts });
        }
      });
    });
    req.on('error', reject); // after resolve() a rejection changes nothing: destroy() ends the request with an error
  });
}

/** Pixels close to the preview's green (BGR 80, 200, 60): the boxes of found faces. */
function greenPixels(jpeg: Buffer): { width: number; height: number; green: number } {
  const img = cv.imdecode(jpeg);
  const data = img.getData();
  let green = 0;
  for (let i = 0; i + 2 < data.length; i += 3)
    if (Math.abs(data[i]! - 80) < 40 && Math.abs(data[i + 1]! - 200) < 40 && Math.abs(data[i + 2]! - 60) < 40) green += 1;
  const out = { width: img.cols, height: img.rows, green };
  img.release();
  return out;
}

/** The environment of a terminal session: no service manager's variables, no sudo. */
function terminalEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  for (const v of ['INVOCATION_ID', 'JOURNAL_STREAM', 'NOTIFY_SOCKET', 'SUDO_UID', 'SUDO_GID', 'SUDO_USER']) if (!(v in extra)) delete env[v];
  return env;
}

interface Preview {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** `emotiond preview` on the demo clip as a process of its own; with `tty`, inside a pseudo-terminal (script). */
function startPreview(port: number, extraArgs: string[], env: NodeJS.ProcessEnv, tty = false): Preview {
  const args = [
    '--import',
    'tsx',
    'src/cli/main.ts',
    'preview',
    '--source',
    clip,
    '--source-loop',
    '--classifier-model',
    testModel() ?? '',
    '--preview-port',
    String(port),
    '--preview-duration-s',
    '120',
    '--log-pretty',
    'no',
    ...extraArgs,
  ];
  const quoted = [process.execPath, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = tty
    ? spawn('script', ['-qfec', quoted, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
    : spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { child, output: () => out, exited };
}

/** Ends the preview and whatever started it (script). */
function stopPreview(p: Preview, signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
  try {
    process.kill(-(p.child.pid as number), signal);
  } catch {
    // already gone
  }
  return p.exited;
}

function previewUrl(out: string): URL | undefined {
  const m = /emotiond preview: open (http:\/\/\S+) in a browser/.exec(out);
  return m?.[1] ? new URL(m[1]) : undefined;
}

testUnless(noClip)(
  'preview on the demo clip serves the page, a live MJPEG stream with face boxes and a snapshot, under a random path, as an unprivileged user',
  async (t) => {
    const port = await freePort();
    const p = startPreview(port, ['--force'], terminalEnv());
    t.teardown(() => void stopPreview(p, 'SIGKILL'));
    await waitUntil(() => previewUrl(p.output()) !== undefined, 60_000, `the preview URL line\n${p.output().slice(-2000)}`);
    const url = previewUrl(p.output()) as URL;
    t.is(url.host, `127.0.0.1:${port}`);
    const base = url.pathname;
    t.regex(base, /^\/[A-Za-z0-9_-]{22}\/$/, 'a 128-bit token in the path');

    if (process.getuid?.() === 0) {
      const status = fs.readFileSync(`/proc/${p.child.pid}/status`, 'utf8');
      const ids = (key: string) =>
        (new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '')
          .trim()
          .split(/\s+/)
          .filter((x) => x !== '')
          .map(Number);
      t.true(ids('Uid').every((u) => u !== 0) && ids('Gid').every((g) => g !== 0), `started as root, runs as ${ids('Uid').join(',')}:${ids('Gid').join(',')}`);
      const video = /^video:[^:]*:(\d+):/m.exec(fs.readFileSync('/etc/group', 'utf8'))?.[1];
      if (video) t.deepEqual(ids('Groups'), [Number(video)], 'with the video group only');
      t.regex(p.output(), /"msg":"running as nobody with the video group, not root"/);
    } else {
      t.log('not root: the drop of privileges is not checked here');
    }

    const page = await get(port, base);
    t.is(page.status, 200);
    t.regex(page.type, /text\/html/);
    t.regex(page.body.toString(), /<img src="stream\.mjpg"/);
    t.regex(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
    t.regex(String(page.headers['content-security-policy']), /script-src 'nonce-/);
    t.is(page.headers['cross-origin-resource-policy'], 'same-origin');
    t.is(page.headers['referrer-policy'], 'no-referrer');
    // The countdown is what is left of the 120 s, counted on the browser's monotonic clock: neither the browser's wall
    // clock nor this machine's (a Pi without a real-time clock before NTP syncs) may be right.
    const left = Number(/const ends = performance\.now\(\) \+ (\d+);/.exec(page.body.toString())?.[1]);
    t.true(left > 60_000 && left <= 120_000, `the page counts down ${left} ms`);
    t.notRegex(page.body.toString(), /Date\.now/);

    const { type, parts } = await streamParts(port, 3, `${base}stream.mjpg`);
    t.regex(type, /^multipart\/x-mixed-replace; boundary=/);
    t.is(parts.length, 3);
    for (const part of parts) t.deepEqual([...part.subarray(0, 2)], [0xff, 0xd8], 'each part is a JPEG');

    // The face of the clip is found within the first seconds: its box is drawn in green.
    let snap = { width: 0, height: 0, green: 0 };
    for (const end = Date.now() + 30000; snap.green <= 200 && Date.now() < end; await sleep(250)) {
      const s = await get(port, `${base}snapshot.jpg`);
      if (s.status === 200) snap = greenPixels(s.body);
    }
    t.true(snap.green > 200, `a snapshot with a face box: ${JSON.stringify(snap)}`);
    t.deepEqual([snap.width, snap.height], [640, 480]);

    for (const path of ['/', '/snapshot.jpg', '/stream.mjpg', `/${'A'.repeat(22)}/snapshot.jpg`, `${base.slice(0, -2)}/snapshot.jpg`]) {
      t.is((await get(port, path)).status, 404, `without the token: ${path}`);
    }
    t.is((await get(port, `${base}snapshot.jpg`, `camera.example:${port}`)).status, 421, 'a request for another host name is refused');
    // Another site embedding the image (<img src=...> there): the browser says cross-site.
    const embedded = await get(port, `${base}snapshot.jpg`, undefined, {
      'sec-fetch-site': 'cross-site',
      'sec-fetch-mode': 'no-cors',
      'sec-fetch-dest': 'image',
      referer: 'https://evil.example/',
    });
    t.is(embedded.status, 403);
    t.is(embedded.type, 'text/plain; charset=utf-8');
    const snapshot = await get(port, `${base}snapshot.jpg`);
    t.is(snapshot.headers['cross-origin-resource-policy'], 'same-origin', 'a browser will not hand the image to another site');
    t.is(await stopPreview(p), 0, p.output().slice(-2000));
    await t.throwsAsync(get(port, base), undefined, 'nothing listens once the preview stopped');
  },
);

testUnless(noClip)('preview refuses to run under a service manager or without a terminal (exit 78) unless --force; at a terminal it runs', async (t) => {
  const refused = async (env: NodeJS.ProcessEnv, tty: boolean, args: string[] = []): Promise<string> => {
    const p = startPreview(await freePort(), args, env, tty);
    t.teardown(() => void stopPreview(p, 'SIGKILL'));
    t.is(await p.exited, 78, p.output().slice(-1000));
    t.notRegex(p.output(), /emotiond preview: open http/, 'nothing was served');
    return p.output();
  };
  t.regex(await refused(terminalEnv(), false), /preview is for installers at a terminal, and neither its input nor its output is one: add --force/);
  // What a Type=simple unit or systemd-run gives it: INVOCATION_ID and JOURNAL_STREAM, no terminal.
  t.regex(
    await refused(terminalEnv({ INVOCATION_ID: '5f0e6c2d9d1b4a0c8f51e1f1a2b3c4d5', JOURNAL_STREAM: '8:123456' }), false),
    /not for a service \(INVOCATION_ID, JOURNAL_STREAM set/,
  );
  t.regex(
    await refused(terminalEnv({ INVOCATION_ID: '5f0e6c2d9d1b4a0c8f51e1f1a2b3c4d5' }), true),
    /not for a service \(INVOCATION_ID set/,
    'systemd-run --pty: a terminal, but a unit',
  );
  t.regex(await refused(terminalEnv({ NOTIFY_SOCKET: '/run/systemd/notify' }), true), /NOTIFY_SOCKET set/);

  const atTerminal = startPreview(await freePort(), [], terminalEnv(), true);
  t.teardown(() => void stopPreview(atTerminal, 'SIGKILL'));
  await waitUntil(() => previewUrl(atTerminal.output()) !== undefined, 60_000, `the preview at a terminal\n${atTerminal.output().slice(-2000)}`);
  await stopPreview(atTerminal);
  const forced = startPreview(await freePort(), ['--force'], terminalEnv({ INVOCATION_ID: 'x', JOURNAL_STREAM: '8:1' }));
  t.teardown(() => void stopPreview(forced, 'SIGKILL'));
  await waitUntil(() => previewUrl(forced.output()) !== undefined, 60_000, `the forced preview\n${forced.output().slice(-2000)}`);
  t.is(await stopPreview(forced), 0);
});

test("the source's camera: a V4L2 index or a character device path; files and URLs have none", (t) => {
  t.is(localDevice(clip), undefined);
  t.is(localDevice('rtsp://cam.lan/stream'), undefined);
  t.is(localDevice('/dev/full'), '/dev/full');
  t.is(localDevice('gst:v4l2src device=/dev/full ! videoconvert ! appsink'), '/dev/full');
  t.notThrows(() => checkCameraFree(clip), 'a file is never refused');
});

function holdOpen(device: string): ChildProcess {
  const fd = fs.openSync(device, 'r');
  const child = spawn('sleep', ['120'], { stdio: [fd, 'ignore', 'ignore'] });
  fs.closeSync(fd);
  return child;
}

test('a camera held open by another process is found in /proc, and the preview refuses it', async (t) => {
  const holder = holdOpen('/dev/full');
  t.teardown(() => holder.kill());
  await waitUntil(() => fs.existsSync(`/proc/${holder.pid}/fd/0`), 5000, 'the holder');
  const found = deviceHolders('/dev/full');
  t.true(
    found.holders.some((p) => p.pid === holder.pid && p.command.startsWith('sleep')),
    JSON.stringify(found),
  );
  t.false(
    found.holders.some((p) => p.pid === process.pid),
    'this process is never its own holder',
  );
  const err = t.throws(() => checkCameraFree('/dev/full'), { instanceOf: EmotiondError });
  t.is(err?.code, 'EMD_SOURCE_BUSY');
  t.regex(err?.message ?? '', new RegExp(`/dev/full is open in .*pid ${holder.pid} \\(sleep 120\\).*Stop the service first`));
});

test('emotiond preview exits 1, naming the process, while the camera is held', async (t) => {
  const holder = holdOpen('/dev/full');
  t.teardown(() => holder.kill());
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'preview', '--source', '/dev/full', '--log-pretty', 'no', '--force'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: terminalEnv(),
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.is(code, 1);
  t.regex(out, new RegExp(`Camera is in use by another process: /dev/full is open in .*pid ${holder.pid}`));
  t.notRegex(out, /emotiond preview: open http/, 'nothing was served');
});
