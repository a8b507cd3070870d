// Frames come out of OpenCvSource as 8-bit gray, decoded as cheaply as the backend allows: MJPEG files as
// their JPEG bytes decoded to gray, other codecs converted once, colour only when asked (preview). The
// conversions of what a V4L2 camera hands over as it comes (4:2:2 YUYV/UYVY) on made-up frames.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import cv from '../src/system/opencv.js';
import { OpenCvSource, fourccText, grayFrame, isJpegFourcc } from '../src/capture/opencv-source.js';
import { configWith } from './bench/run-clip.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-gray-'));
test.after.always(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A textured 320x240 BGR picture that changes with `i` (a gradient, a moving disc, coloured squares). */
function picture(i: number): cv.Mat {
  const m = new cv.Mat(240, 320, cv.CV_8UC3, [40, 90, 160]);
  m.drawRectangle(new cv.Rect(20, 20, 120, 80), new cv.Vec3(200, 60, 30), -1);
  m.drawRectangle(new cv.Rect(180, 120, 100, 90), new cv.Vec3(30, 220, 90), -1);
  m.drawCircle(new cv.Point2(60 + 8 * i, 160), 30, new cv.Vec3(250, 250, 250), -1);
  return m;
}

function writeClip(name: string, fourcc: string, frames = 12): string {
  const file = path.join(dir, name);
  const w = new cv.VideoWriter(file, cv.VideoWriter.fourcc(fourcc), 15, new cv.Size(320, 240), true);
  for (let i = 0; i < frames; i++) {
    const m = picture(i);
    w.write(m);
    m.release();
  }
  w.release();
  return file;
}

async function readAll(source: OpenCvSource): Promise<cv.Mat[]> {
  const out: cv.Mat[] = [];
  for (let m = await source.read(); m !== null; m = await source.read()) out.push(m);
  return out;
}

function meanAbsDiff(a: cv.Mat, b: cv.Mat): number {
  const d = a.absdiff(b);
  const v = d.mean().w;
  d.release();
  return v;
}

test('an MJPEG file is read as its JPEG bytes and decoded to gray: the same picture as the BGR frame converted', async (t) => {
  const file = writeClip('mjpeg.avi', 'MJPG');
  const gray = OpenCvSource.open(configWith({ 'source.uri': file }).source);
  const colour = OpenCvSource.open(configWith({ 'source.uri': file }).source, { colour: true });
  t.is(gray.props.decode, 'jpeg-to-gray');
  t.is(colour.props.decode, 'colour');
  const g = await readAll(gray);
  const c = await readAll(colour);
  t.is(g.length, 12);
  t.is(c.length, 12);
  for (let i = 0; i < g.length; i++) {
    const a = g[i] as cv.Mat;
    const b = c[i] as cv.Mat;
    t.is(a.channels, 1);
    t.is(b.channels, 3);
    t.deepEqual([a.cols, a.rows], [320, 240]);
    const converted = b.bgrToGray();
    // JPEG's luma against the decoder's BGR turned back to gray: rounding of the two colour conversions only.
    t.true(meanAbsDiff(a, converted) < 2, `frame ${i}: mean difference ${meanAbsDiff(a, converted)}`);
    converted.release();
  }
  // A file read as JPEG bytes still rewinds (source.loop).
  t.true(gray.rewind());
  const again = await gray.read();
  t.truthy(again);
  t.is(meanAbsDiff(again as cv.Mat, g[0] as cv.Mat), 0);
  again?.release();
  for (const m of [...g, ...c]) m.release();
  gray.close();
  colour.close();
});

test('another codec is decoded by the backend and converted to gray once', async (t) => {
  const file = writeClip('mpeg4.avi', 'FMP4');
  const source = OpenCvSource.open(configWith({ 'source.uri': file }).source);
  t.is(source.props.decode, 'bgr-to-gray');
  const frames = await readAll(source);
  t.true(frames.length >= 10, `${frames.length} frames`);
  t.true(frames.every((m) => m.channels === 1 && m.cols === 320 && m.rows === 240));
  for (const m of frames) m.release();
  source.close();
});

test("a V4L2 camera's 4:2:2 frame as it comes gives its Y plane; BGR and BGRA are converted; the end is null", async (t) => {
  const bgr = picture(3);
  const gray = bgr.bgrToGray();
  const y = gray.getData();
  for (const order of ['YUYV', 'UYVY']) {
    // Y U Y V ... or U Y V Y ...: luma at even bytes (YUYV) or odd bytes (UYVY), chroma 128 in between.
    const packed = Buffer.alloc(y.length * 2, 128);
    for (let i = 0; i < y.length; i++) packed[2 * i + (order === 'YUYV' ? 0 : 1)] = y[i] as number;
    const out = (await grayFrame(new cv.Mat(packed, 240, 320, cv.CV_8UC2), 'y-plane', order)) as cv.Mat;
    t.is(out.channels, 1);
    t.is(meanAbsDiff(out, gray), 0, order);
    out.release();
  }
  const fromBgr = (await grayFrame(bgr.copy(), 'bgr-to-gray', 'H264')) as cv.Mat;
  t.is(meanAbsDiff(fromBgr, gray), 0);
  const fromBgra = (await grayFrame(bgr.cvtColor(cv.COLOR_BGR2BGRA), 'bgr-to-gray', 'H264')) as cv.Mat;
  t.is(meanAbsDiff(fromBgra, gray), 0);
  t.is(await grayFrame(new cv.Mat(), 'jpeg-to-gray', 'MJPG'), null);
  for (const m of [bgr, gray, fromBgr, fromBgra]) m.release();
});

test('JPEG bytes that do not decode give an empty frame (counted as bad by the capture loop), not an error', async (t) => {
  const bgr = picture(1);
  const jpeg = cv.imencode('.jpg', bgr);
  const good = (await grayFrame(new cv.Mat(jpeg, 1, jpeg.length, cv.CV_8UC1), 'jpeg-to-gray', 'MJPG')) as cv.Mat;
  t.deepEqual([good.cols, good.rows, good.channels], [320, 240, 1]);
  const broken = Buffer.from(jpeg.subarray(0, 200));
  broken.fill(7, 20);
  const bad = (await grayFrame(new cv.Mat(broken, 1, broken.length, cv.CV_8UC1), 'jpeg-to-gray', 'MJPG')) as cv.Mat;
  t.truthy(bad.empty);
  for (const m of [bgr, good, bad]) m.release();
});

test('FourCC codes: text, and which name MJPEG', (t) => {
  t.is(fourccText(cv.VideoWriter.fourcc('MJPG')), 'MJPG');
  t.is(fourccText(cv.VideoWriter.fourcc('YUYV')), 'YUYV');
  for (const f of ['MJPG', 'mjpe', 'JPEG', 'AVRn']) t.true(isJpegFourcc(f), f);
  for (const f of ['YUYV', 'H264', 'FMP4', '']) t.false(isJpegFourcc(f), f);
});
