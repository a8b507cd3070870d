// What the tests with live sources need besides Node: ffmpeg (a camera over HTTP) and GStreamer through OpenCV.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import cv from '../../src/system/opencv.js';
import { waitUntil } from './wait.js';

export function missingFfmpeg(): string | undefined {
  try {
    execFileSync('ffmpeg', ['-version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'ffmpeg not found (apt-get install ffmpeg)';
  }
}

/** OpenCV built with GStreamer and the base plugins (videotestsrc, videoconvert, appsink; tcp and rawparse ship with them). */
export function missingGstreamer(): string | undefined {
  if (!/GStreamer:\s+YES/.test(cv.getBuildInformation())) return 'OpenCV is built without GStreamer';
  const cap = new cv.VideoCapture('videotestsrc num-buffers=1 ! videoconvert ! appsink', cv.CAP_GSTREAMER);
  const ok = cap.get(cv.CAP_PROP_FRAME_WIDTH) > 0;
  cap.release();
  return ok ? undefined : 'GStreamer base plugins missing (apt install gstreamer1.0-plugins-base)';
}

/** The ffmpeg arguments that serve a clip as an MJPEG-over-HTTP camera on 127.0.0.1:port/cam.mjpg, paced in real time
 * (`-re`), in a loop. ffmpeg is the HTTP server (`-listen 1`): it serves one client and exits when it leaves. A still
 * photo is served as a 15 fps camera that sees it. */
export function mjpegArgs(clip: string, port: number): string[] {
  const input = /\.(png|jpe?g)$/i.test(clip) ? ['-loop', '1', '-framerate', '15', '-i', clip] : ['-stream_loop', '-1', '-i', clip];
  return ['-loglevel', 'error', '-re', ...input, '-an', '-c:v', 'mjpeg', '-q:v', '5', '-f', 'mpjpeg', '-listen', '1', `http://127.0.0.1:${port}/cam.mjpg`];
}

/** ffmpeg serving `clip` as an MJPEG camera (see mjpegArgs); wait for it with listeningOn(port). */
export function serveMjpeg(clip: string, port: number): ChildProcess {
  return spawn('ffmpeg', mjpegArgs(clip, port), { stdio: 'ignore' });
}

/** Resolves once something listens on the local TCP port, read from the kernel's socket table: a test connection
 * would take ffmpeg's only client slot. */
export async function listeningOn(port: number, timeoutMs = 30_000): Promise<void> {
  await waitUntil(() => isListening(port), timeoutMs, `a server listening on 127.0.0.1:${port}`);
}

/** A TCP socket in state LISTEN on this local port (/proc/net/tcp: hex port, state 0A). */
export function isListening(port: number): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[1]?.endsWith(`:${hex}`) && cols[3] === '0A') return true;
    }
  }
  return false;
}
