// Which processes hold a camera open. `emotiond preview` refuses to run while another process (the service)
// uses the same camera: it looks through /proc/<pid>/fd for a descriptor open on the same character device.
// Processes of other users are readable only by root; those that look like emotiond are reported as unknown,
// so that a preview run without sudo says it cannot tell rather than guess.
import fs from 'node:fs';
import path from 'node:path';

interface ProcessInfo {
  pid: number;
  /** The command line, as /proc/<pid>/cmdline has it (NULs as spaces), cut to 200 characters. */
  command: string;
}

export interface DeviceHolders {
  /** The device node checked (after following links), e.g. /dev/video0. */
  device: string;
  /** Other processes with a descriptor open on it. */
  holders: ProcessInfo[];
  /** emotiond processes whose descriptors this user may not read (run as root to see them). */
  unknown: ProcessInfo[];
}

/**
 * The character device a source reads, or undefined when the source is not a local device (a file, a URL): a
 * V4L2 index (0 = /dev/video0), a path to a character device (/dev/video0, /dev/v4l/by-id/...), or the
 * device= of a GStreamer v4l2src.
 */
export function localDevice(uri: string): string | undefined {
  let candidate: string | undefined;
  if (/^\d+$/.test(uri)) candidate = `/dev/video${uri}`;
  else if (uri.includes('v4l2src')) candidate = /device=("?)([^\s"!]+)\1/.exec(uri)?.[2] ?? '/dev/video0';
  else if (uri.startsWith('/')) candidate = uri;
  if (candidate === undefined) return undefined;
  try {
    const real = fs.realpathSync(candidate);
    return fs.statSync(real).isCharacterDevice() ? real : undefined;
  } catch {
    return undefined;
  }
}

/** Every process but this one that holds `device` (a character device) open. */
export function deviceHolders(device: string, proc = '/proc', self = process.pid): DeviceHolders {
  const rdev = fs.statSync(device).rdev;
  const out: DeviceHolders = { device, holders: [], unknown: [] };
  for (const name of safeList(proc)) {
    if (!/^\d+$/.test(name) || Number(name) === self) continue;
    const pid = Number(name);
    const dir = path.join(proc, name, 'fd');
    let fds: string[];
    try {
      fds = fs.readdirSync(dir);
    } catch (err) {
      // EACCES: another user's process. ENOENT: it has just ended.
      if ((err as NodeJS.ErrnoException).code === 'EACCES') {
        const info = processInfo(proc, pid);
        if (info && /emotiond/.test(info.command)) out.unknown.push(info);
      }
      continue;
    }
    if (fds.some((fd) => holds(path.join(dir, fd), rdev))) {
      const info = processInfo(proc, pid);
      if (info) out.holders.push(info);
    }
  }
  return out;
}

function holds(fdPath: string, rdev: number): boolean {
  try {
    const st = fs.statSync(fdPath);
    return st.isCharacterDevice() && st.rdev === rdev;
  } catch {
    return false;
  }
}

function processInfo(proc: string, pid: number): ProcessInfo | undefined {
  try {
    const raw = fs.readFileSync(path.join(proc, String(pid), 'cmdline'), 'utf8');
    const command = raw.replace(/\0+$/, '').replace(/\0/g, ' ') || `[${fs.readFileSync(path.join(proc, String(pid), 'comm'), 'utf8').trim()}]`;
    return { pid, command: command.slice(0, 200) };
  } catch {
    return undefined;
  }
}

function safeList(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
