// Frame sources through OpenCV VideoCapture: V4L2 devices, GStreamer pipelines, files and stream URLs.
import fs from 'node:fs';
import cv from '../system/opencv.js';
import type { Config } from '../config/schema.js';
import { EmotiondError, asError, cvCallAsync } from '../errors.js';
import { redactText } from '../system/redact.js';

export type SourceKind = 'v4l2' | 'gstreamer' | 'url' | 'file';

export interface SourceProps {
  width: number;
  height: number;
  fps: number;
}

/** One opened capture. `read` resolves null at the end of a file or stream. */
export interface FrameSource {
  readonly kind: SourceKind;
  readonly props: SourceProps;
  /** A stalled read ends when the source is closed (it runs in a process that close() ends). */
  readonly cancellable?: boolean;
  read(): Promise<cv.Mat | null>;
  /** Seek a file back to its first frame; false when the source cannot. */
  rewind(): boolean | Promise<boolean>;
  close(): void;
}

export function sourceKind(uri: string): SourceKind {
  if (/^gst:/i.test(uri) || uri.includes(' ! ')) return 'gstreamer';
  if (/^\d+$/.test(uri) || /^\/dev\/video\d+$/.test(uri)) return 'v4l2';
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) return 'url';
  return 'file';
}

/** The source as it may be logged or published: URL and GStreamer credentials hidden (see system/redact). */
export function describeSource(uri: string): string {
  return redactText(uri);
}

function openCapture(uri: string, kind: SourceKind): cv.VideoCapture {
  switch (kind) {
    case 'v4l2':
      return /^\d+$/.test(uri) ? new cv.VideoCapture(Number(uri), cv.CAP_V4L2) : new cv.VideoCapture(uri, cv.CAP_V4L2);
    case 'gstreamer':
      return new cv.VideoCapture(uri.replace(/^gst:/i, ''), cv.CAP_GSTREAMER);
    case 'url':
      return new cv.VideoCapture(uri, cv.CAP_FFMPEG);
    case 'file':
      if (!fs.existsSync(uri)) throw new Error('no such file');
      return new cv.VideoCapture(uri, cv.CAP_ANY);
  }
}

export class OpenCvSource implements FrameSource {
  /** The read in flight: releasing the capture under it would crash, so close() waits for it. */
  private pending: Promise<unknown> | null = null;
  private closed = false;

  private constructor(
    private readonly cap: cv.VideoCapture,
    readonly kind: SourceKind,
    readonly props: SourceProps,
  ) {}

  /** Open and configure; throws EMD_SOURCE_OPEN naming the source when it cannot deliver. */
  static open(settings: Config['source']): OpenCvSource {
    const kind = sourceKind(settings.uri);
    const where = `source.uri "${describeSource(settings.uri)}" (${kind})`;
    let cap: cv.VideoCapture;
    try {
      cap = openCapture(settings.uri, kind);
    } catch (thrown) {
      // OpenCV's message may echo the URI with its password.
      throw new EmotiondError('EMD_SOURCE_OPEN', `${where}: ${redactText(asError(thrown).message)}`);
    }
    if (kind === 'v4l2') configureCamera(cap, settings);
    const props = { width: cap.get(cv.CAP_PROP_FRAME_WIDTH), height: cap.get(cv.CAP_PROP_FRAME_HEIGHT), fps: cap.get(cv.CAP_PROP_FPS) };
    if (!(props.width > 0 && props.height > 0)) {
      cap.release();
      throw new EmotiondError('EMD_SOURCE_OPEN', `${where}: OpenCV could not open it (no frame size reported)`);
    }
    return new OpenCvSource(cap, kind, props);
  }

  async read(): Promise<cv.Mat | null> {
    const reading = cvCallAsync('read frame', () => this.cap.readAsync(), 'EMD_SOURCE_READ');
    this.pending = reading;
    const mat = await reading.finally(() => {
      if (this.pending === reading) this.pending = null;
    });
    if (this.closed) {
      mat.release();
      return null;
    }
    if (mat.empty) {
      mat.release();
      return null;
    }
    return mat;
  }

  rewind(): boolean {
    return this.kind === 'file' && this.cap.set(cv.CAP_PROP_POS_FRAMES, 0);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pending) void this.pending.catch(() => undefined).then(() => this.cap.release());
    else this.cap.release();
  }
}

function configureCamera(cap: cv.VideoCapture, s: Config['source']): void {
  // FOURCC first: many UVC cameras only offer high resolutions and frame rates as MJPG.
  if (s.fourcc) cap.set(cv.CAP_PROP_FOURCC, cv.VideoWriter.fourcc(s.fourcc));
  if (s.width > 0) cap.set(cv.CAP_PROP_FRAME_WIDTH, s.width);
  if (s.height > 0) cap.set(cv.CAP_PROP_FRAME_HEIGHT, s.height);
  if (s.fps > 0) cap.set(cv.CAP_PROP_FPS, s.fps);
}
