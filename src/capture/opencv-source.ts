// Frame sources through OpenCV VideoCapture: V4L2 devices, GStreamer pipelines, files and stream URLs.
// Frames come out as 8-bit gray, the only thing the pipeline needs, decoded as cheaply as the backend allows:
// MJPEG (V4L2 cameras, files, streams) as the JPEG bytes, which libjpeg decodes to gray without the chroma;
// V4L2 YUYV/UYVY as it comes, whose Y plane is the gray; anything else decoded to BGR by the backend and
// converted once. No full-size colour frame is kept, unless colour is asked for (`emotiond preview`).
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
  /** How frames become gray (logged when the source opens). */
  decode?: Decode;
}

/** jpeg-to-gray: the backend hands over the JPEG bytes (MJPEG), decoded to gray; y-plane: V4L2 YUYV/UYVY as it
 * comes, its Y plane taken; bgr-to-gray: the backend's BGR frame, converted once; colour: kept as the backend
 * gives it (asked for by `emotiond preview`). */
type Decode = 'jpeg-to-gray' | 'y-plane' | 'bgr-to-gray' | 'colour';

export interface SourceOptions {
  /** Keep the frames in colour (`emotiond preview` shows them); otherwise they are 8-bit gray. */
  colour?: boolean;
}

/** One opened capture. `read` resolves null at the end of a file or stream. */
export interface FrameSource {
  readonly kind: SourceKind;
  readonly props: SourceProps;
  /** A stalled read ends when the source is closed (it runs in a process that close() ends). */
  readonly cancellable?: boolean;
  read(): Promise<cv.Mat | null>;
  /** Read the next frame and drop it undecoded (the motion gate's idle frames, a pause); false at the end. A source
   * without it has its frames read and released. */
  skip?(): Promise<boolean>;
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

/** How errors name a source: its URI (credentials hidden) and its kind. */
export function sourceWhere(uri: string): string {
  return `source.uri "${describeSource(uri)}" (${sourceKind(uri)})`;
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

  /** The backend's pixel format (the byte order of a V4L2 4:2:2 camera read as it comes). */
  private readonly fourcc: string;

  private constructor(
    private readonly cap: cv.VideoCapture,
    readonly kind: SourceKind,
    readonly props: SourceProps,
  ) {
    this.fourcc = fourccText(cap.get(cv.CAP_PROP_FOURCC));
  }

  /** Open and configure; throws EMD_SOURCE_OPEN naming the source when it cannot deliver. */
  static open(settings: Config['source'], opts: SourceOptions = {}): OpenCvSource {
    const kind = sourceKind(settings.uri);
    const where = sourceWhere(settings.uri);
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
    return new OpenCvSource(cap, kind, { ...props, decode: opts.colour ? 'colour' : chooseDecode(cap, kind) });
  }

  /** The next frame (8-bit gray unless colour was asked for); null at the end. A frame that cannot be decoded
   * comes back empty, for the capture loop to count as bad. */
  async read(): Promise<cv.Mat | null> {
    const mat = await this.inFlight((async () => grayFrame(await this.readRaw(), this.props.decode ?? 'bgr-to-gray', this.fourcc))());
    if (this.closed || mat === null) {
      mat?.release();
      return null;
    }
    return mat;
  }

  async skip(): Promise<boolean> {
    // What the backend hands over undecoded: for MJPEG (files, streams, V4L2 cameras) the JPEG bytes, whose
    // decoding is what a frame costs; a V4L2 4:2:2 frame as it comes.
    const raw = await this.inFlight(this.readRaw());
    const more = !raw.empty && !this.closed;
    raw.release();
    return more;
  }

  /** What the backend read, as it hands it over. */
  private readRaw(): Promise<cv.Mat> {
    return cvCallAsync('read frame', () => this.cap.readAsync(), 'EMD_SOURCE_READ');
  }

  /** `reading` as the read in flight until it settles (close() waits for it). */
  private inFlight<T>(reading: Promise<T>): Promise<T> {
    this.pending = reading;
    return reading.finally(() => {
      if (this.pending === reading) this.pending = null;
    });
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

/**
 * What the backend read, as the pipeline takes it (`raw` is released): 8-bit gray, or unchanged for 'colour';
 * null when `raw` is empty (the end of the source). JPEG bytes (a 1-row Mat, 'jpeg-to-gray') are decoded to
 * gray; a 2-channel frame (V4L2 4:2:2 as it comes) gives its Y plane, in the byte order `fourcc` says; BGR and
 * BGRA are converted. A frame that cannot be decoded comes back as an empty Mat (the capture loop counts it as
 * bad), never as an error.
 */
export async function grayFrame(raw: cv.Mat, decode: Decode, fourcc: string): Promise<cv.Mat | null> {
  if (raw.empty) {
    raw.release();
    return null;
  }
  if (decode === 'colour' || (raw.channels === 1 && raw.rows > 1)) return raw;
  if (decode === 'jpeg-to-gray' && raw.rows === 1) {
    const jpeg = raw.getData();
    raw.release();
    try {
      return await cv.imdecodeAsync(jpeg, cv.IMREAD_GRAYSCALE).catch(() => new cv.Mat());
    } finally {
      // The decoder reads the buffer on a worker thread: it must outlive the call.
      void jpeg.byteLength;
    }
  }
  const code =
    raw.channels === 2
      ? fourcc === 'UYVY'
        ? cv.COLOR_YUV2GRAY_UYVY
        : cv.COLOR_YUV2GRAY_YUYV
      : raw.channels === 4
        ? cv.COLOR_BGRA2GRAY
        : raw.channels === 3
          ? cv.COLOR_BGR2GRAY
          : null;
  if (code === null) return raw;
  try {
    return await raw.cvtColorAsync(code).catch(() => new cv.Mat());
  } finally {
    raw.release();
  }
}

/** A FourCC code as its four characters. */
export function fourccText(code: number): string {
  const c = Math.round(code);
  return String.fromCharCode(c & 255, (c >> 8) & 255, (c >> 16) & 255, (c >>> 24) & 255);
}

/** MJPEG as the FFmpeg and V4L2 backends name it (FFmpeg's "mjpe" is the start of its codec name "mjpeg"). */
export function isJpegFourcc(fourcc: string): boolean {
  return /^(mjpg|mjpe|jpeg|avrn|dmb1|mjpa)$/i.test(fourcc.trim());
}

/** Ask the backend for undecoded frames where gray comes cheaper that way: MJPEG as JPEG bytes (V4L2: without
 * RGB conversion; FFmpeg, for files and streams: the raw stream), V4L2 YUYV/UYVY as it comes. Otherwise, or
 * when the backend refuses, its BGR frames, converted once. */
function chooseDecode(cap: cv.VideoCapture, kind: SourceKind): Decode {
  const fourcc = fourccText(cap.get(cv.CAP_PROP_FOURCC));
  if (isJpegFourcc(fourcc)) {
    if (kind === 'v4l2' && cap.set(cv.CAP_PROP_CONVERT_RGB, 0)) return 'jpeg-to-gray';
    if ((kind === 'file' || kind === 'url') && cap.set(cv.CAP_PROP_FORMAT, -1)) return 'jpeg-to-gray';
  }
  if (kind === 'v4l2' && /^(YUYV|YUY2|UYVY)$/.test(fourcc) && cap.set(cv.CAP_PROP_CONVERT_RGB, 0)) return 'y-plane';
  return 'bgr-to-gray';
}

function configureCamera(cap: cv.VideoCapture, s: Config['source']): void {
  // FOURCC first: many UVC cameras only offer high resolutions and frame rates as MJPG.
  if (s.fourcc) cap.set(cv.CAP_PROP_FOURCC, cv.VideoWriter.fourcc(s.fourcc));
  if (s.width > 0) cap.set(cv.CAP_PROP_FRAME_WIDTH, s.width);
  if (s.height > 0) cap.set(cv.CAP_PROP_FRAME_HEIGHT, s.height);
  if (s.fps > 0) cap.set(cv.CAP_PROP_FPS, s.fps);
}
