// `emotiond devices`: the V4L2 cameras this machine has, from sysfs, with their formats when v4l2-ctl
// (Debian package v4l-utils) is installed. Helps choosing source.uri on a headless box.
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';

interface FrameSize {
  width: number;
  height: number;
  /** Frame rates offered at this size (empty when the driver does not list them). */
  fps: number[];
  /** A stepwise or continuous range: width and height are its maximum. */
  range?: boolean;
}

interface DeviceFormat {
  fourcc: string;
  description: string;
  sizes: FrameSize[];
}

interface DeviceInfo {
  /** N of /dev/videoN: what OpenCV takes as a camera index. */
  index: number;
  /** /dev/videoN */
  path: string;
  /** The name the driver reports (sysfs `name`). */
  name: string;
  /** Kernel driver, e.g. uvcvideo, unicam, bcm2835-v4l2. */
  driver?: string;
  /** A /dev/v4l/by-id (or by-path) link to this node, which survives reboots and replugging. */
  stablePath?: string;
  /** Capture formats; null when they could not be listed (no v4l2-ctl, or it failed). */
  formats: DeviceFormat[] | null;
  /** Why formats is null. */
  formatsError?: string;
}

interface ListDevicesOptions {
  /** Default /sys/class/video4linux. */
  sysClassDir?: string;
  /** Default /dev. */
  devDir?: string;
  /** v4l2-ctl executable; null to skip formats. Default "v4l2-ctl" from PATH. */
  v4l2ctl?: string | null;
}

const FOURCC = /^\s*\[\d+\]:\s*'(.{1,4})'\s*\((.*)\)\s*$/;
const DISCRETE = /^\s*Size:\s*Discrete\s+(\d+)x(\d+)/;
const RANGE = /^\s*Size:\s*(?:Stepwise|Continuous)\s+\d+x\d+\s*-\s*(\d+)x(\d+)/;
const INTERVAL = /^\s*Interval:.*\(([\d.]+)\s*fps\)/;

/** Parse `v4l2-ctl --list-formats-ext` output. */
export function parseFormats(text: string): DeviceFormat[] {
  const formats: DeviceFormat[] = [];
  let format: DeviceFormat | undefined;
  let size: FrameSize | undefined;
  for (const line of text.split('\n')) {
    let m = FOURCC.exec(line);
    if (m?.[1] !== undefined) {
      format = { fourcc: m[1].trim(), description: (m[2] ?? '').trim(), sizes: [] };
      formats.push(format);
      size = undefined;
      continue;
    }
    if (!format) continue;
    m = DISCRETE.exec(line) ?? RANGE.exec(line);
    if (m) {
      size = { width: Number(m[1]), height: Number(m[2]), fps: [] };
      if (RANGE.test(line)) size.range = true;
      format.sizes.push(size);
      continue;
    }
    m = INTERVAL.exec(line);
    if (m && size) {
      const fps = Math.round(Number(m[1]) * 100) / 100;
      if (!size.fps.includes(fps)) size.fps.push(fps);
    }
  }
  return formats;
}

function runV4l2ctl(bin: string, device: string): Promise<{ formats: DeviceFormat[] } | { error: string }> {
  return new Promise((resolve) => {
    execFile(bin, ['--list-formats-ext', '-d', device], { timeout: 5000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) {
        const code = (err as NodeJS.ErrnoException).code;
        resolve({ error: code === 'ENOENT' ? `${bin} not found (install v4l-utils)` : ((stderr.trim() || err.message).split('\n')[0] ?? 'failed') });
        return;
      }
      resolve({ formats: parseFormats(stdout) });
    });
  });
}

async function readTrimmed(file: string): Promise<string | undefined> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** Map each /dev node to its first stable link in /dev/v4l/by-id, then by-path. */
async function stableLinks(devDir: string): Promise<Map<string, string>> {
  const links = new Map<string, string>();
  for (const sub of ['by-id', 'by-path']) {
    const dir = path.join(devDir, 'v4l', sub);
    let names: string[];
    try {
      names = (await fs.readdir(dir)).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      try {
        const target = await fs.realpath(path.join(dir, name));
        if (!links.has(target)) links.set(target, path.join(dir, name));
      } catch {
        // a dangling link: the device went away
      }
    }
  }
  return links;
}

/** The V4L2 device nodes, sorted by index; an empty list when there are none (or no sysfs). */
export async function listDevices(opts: ListDevicesOptions = {}): Promise<DeviceInfo[]> {
  const sysClassDir = opts.sysClassDir ?? '/sys/class/video4linux';
  const devDir = opts.devDir ?? '/dev';
  const v4l2ctl = opts.v4l2ctl === undefined ? 'v4l2-ctl' : opts.v4l2ctl;
  let entries: string[];
  try {
    entries = await fs.readdir(sysClassDir);
  } catch {
    return [];
  }
  const links = await stableLinks(devDir);
  const nodes = entries
    .map((entry) => ({ entry, m: /^video(\d+)$/.exec(entry) }))
    .filter((x): x is { entry: string; m: RegExpExecArray } => x.m !== null)
    .map(({ entry, m }) => ({ entry, index: Number(m[1]) }))
    .sort((a, b) => a.index - b.index);

  return Promise.all(
    nodes.map(async ({ entry, index }): Promise<DeviceInfo> => {
      const sys = path.join(sysClassDir, entry);
      const devPath = path.join(devDir, entry);
      const info: DeviceInfo = { index, path: devPath, name: (await readTrimmed(path.join(sys, 'name'))) ?? entry, formats: null };
      try {
        info.driver = path.basename(await fs.readlink(path.join(sys, 'device', 'driver')));
      } catch {
        // virtual devices (v4l2loopback) may have no driver link
      }
      const stable = links.get(devPath);
      if (stable !== undefined) info.stablePath = stable;
      if (v4l2ctl === null) {
        info.formatsError = 'not listed';
      } else {
        const result = await runV4l2ctl(v4l2ctl, devPath);
        if ('formats' in result) info.formats = result.formats;
        else info.formatsError = result.error;
      }
      return info;
    }),
  );
}

function describeSize(s: FrameSize): string {
  const dims = `${s.range ? 'up to ' : ''}${s.width}x${s.height}`;
  return s.fps.length > 0 ? `${dims}@${s.fps.join(',')}` : dims;
}

// Drivers whose nodes are raw sensor or ISP nodes that need libcamera rather than plain V4L2 capture.
const LIBCAMERA_DRIVERS = /^(unicam|rp1-cfe|bcm2835-isp|pispbe|rkisp1|imx7-csi)/;

/** The text `emotiond devices` prints. */
export function formatDevices(list: DeviceInfo[]): string {
  if (list.length === 0) return 'no V4L2 devices found (nothing in /sys/class/video4linux; is a camera connected and its driver loaded?)';
  const out: string[] = [];
  let missingTool: string | undefined;
  for (const d of list) {
    out.push(`${d.path}  (index ${d.index})  ${d.name}${d.driver ? `  [${d.driver}]` : ''}`);
    if (d.stablePath) out.push(`  stable path: ${d.stablePath}`);
    if (d.formats === null) {
      if (d.formatsError?.includes('not found')) missingTool = d.formatsError;
      else out.push(`  formats: unknown (${d.formatsError ?? 'not listed'})`);
    } else if (d.formats.length === 0) {
      out.push('  no capture formats (a metadata or output node, not a camera)');
    } else {
      for (const f of d.formats) {
        out.push(`  ${f.fourcc.padEnd(4)}  ${f.description}: ${f.sizes.map(describeSize).join('  ') || 'sizes not listed'}`);
      }
    }
    if (d.driver && LIBCAMERA_DRIVERS.test(d.driver)) {
      out.push('  a libcamera camera: use a GStreamer source, e.g. "libcamerasrc ! video/x-raw,width=640,height=480 ! videoconvert ! appsink"');
    }
  }
  if (missingTool) out.push('', `formats not listed: ${missingTool}`);
  out.push('', 'Set source.uri (or --source) to a capture device, preferably its stable path.');
  return out.join('\n');
}
