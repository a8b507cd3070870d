// What the tests with live sources need besides Node: ffmpeg (a camera over HTTP) and GStreamer through OpenCV.
import { execFileSync } from 'node:child_process';
import cv from '../../src/system/opencv.js';

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
