// `emotiond preview`: a real HTTP fetch of the page, the MJPEG stream and a snapshot while it runs on the demo
// clip, and the refusal while another process holds the camera (a character device) open.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import test from 'ava';
import { checkCameraFree, runPreview } from '../src/cli/preview.js';
import { deviceHolders, localDevice } from '../src/capture/device-holders.js';
import { loadConfig } from '../src/config/load.js';
import { EmotiondError } from '../src/errors.js';
import cv from '../src/system/opencv.js';
import { createLogger } from '../src/system/logger.js';
import { projectRoot } from '../src/system/paths.js';
import { freePort } from './helpers/ports.js';
import { missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { sleep, waitUntil } from './helpers/wait.js';

const clip = path.join(projectRoot(), 'deploy/demo/demo-faces.avi');
const noClip = firstMissing(missingModel(), !fs.existsSync(clip) && `${clip} not found`);

function get(port: number, urlPath: string, host = `127.0.0.1:${port}`): Promise<{ status: number; type: string; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
  });
}

/** The first `n` JPEG parts of the MJPEG stream, then the connection is closed. */
function streamParts(port: number, n: number): Promise<{ type: string; parts: Buffer[] }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/stream.mjpg' }, (res) => {
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
  for (let i = 0; i + 2 < data.length; i += 3) if (Math.abs(data[i]! - 80) < 40 && Math.abs(data[i + 1]! - 200) < 40 && Math.abs(data[i + 2]! - 60) < 40) green += 1;
  const out = { width: img.cols, height: img.rows, green };
  img.release();
  return out;
}

testUnless(noClip)('preview on the demo clip serves the page, a live MJPEG stream with face boxes and a snapshot, on 127.0.0.1 only', async (t) => {
  const port = await freePort();
  const loaded = loadConfig({
    env: {},
    flags: { 'source.uri': clip, 'source.loop': true, 'classifier.model': testModel() as string, 'preview.port': String(port), 'preview.duration_s': '120', 'log.level': 'error', 'log.pretty': 'no' },
  });
  let stop!: (why: string) => void;
  const lines: string[] = [];
  const done = runPreview(loaded, createLogger({ level: 'error', pretty: 'no' }), { stop: new Promise<string>((r) => (stop = r)), write: (l) => lines.push(l) });
  t.teardown(() => stop('teardown'));
  await waitUntil(() => lines.length > 0, 30000, 'the preview URL line');
  t.regex(lines[0] ?? '', new RegExp(`http://127\\.0\\.0\\.1:${port}/`));

  const page = await get(port, '/');
  t.is(page.status, 200);
  t.regex(page.type, /text\/html/);
  t.regex(page.body.toString(), /<img src="stream\.mjpg"/);

  const { type, parts } = await streamParts(port, 3);
  t.regex(type, /^multipart\/x-mixed-replace; boundary=/);
  t.is(parts.length, 3);
  for (const p of parts) t.deepEqual([...p.subarray(0, 2)], [0xff, 0xd8], 'each part is a JPEG');

  // The face of the clip is found within the first seconds: its box is drawn in green.
  let snap = { width: 0, height: 0, green: 0 };
  for (const end = Date.now() + 30000; snap.green <= 200 && Date.now() < end; await sleep(250)) {
    const s = await get(port, '/snapshot.jpg');
    if (s.status === 200) snap = greenPixels(s.body);
  }
  t.true(snap.green > 200, `a snapshot with a face box: ${JSON.stringify(snap)}`);
  t.deepEqual([snap.width, snap.height], [640, 480]);

  const rebound = await get(port, '/', `camera.example:${port}`);
  t.is(rebound.status, 403, 'a request for another host name is refused');
  stop('done');
  t.is(await done, 0);
  await t.throwsAsync(get(port, '/'), undefined, 'nothing listens once the preview stopped');
});

test('the source\'s camera: a V4L2 index or a character device path; files and URLs have none', (t) => {
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
  t.true(found.holders.some((p) => p.pid === holder.pid && p.command.startsWith('sleep')), JSON.stringify(found));
  t.false(found.holders.some((p) => p.pid === process.pid), 'this process is never its own holder');
  const err = t.throws(() => checkCameraFree('/dev/full'), { instanceOf: EmotiondError });
  t.is(err?.code, 'EMD_SOURCE_BUSY');
  t.regex(err?.message ?? '', new RegExp(`/dev/full is open in .*pid ${holder.pid} \\(sleep 120\\).*Stop the service first`));
});

test('emotiond preview exits 1, naming the process, while the camera is held', async (t) => {
  const holder = holdOpen('/dev/full');
  t.teardown(() => holder.kill());
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'preview', '--source', '/dev/full', '--log-pretty', 'no'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NOTIFY_SOCKET: '' } });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  t.is(code, 1);
  t.regex(out, new RegExp(`Camera is in use by another process: /dev/full is open in .*pid ${holder.pid}`));
  t.notRegex(out, /emotiond preview: open http/, 'nothing was served');
});
