// Dropping root: `emotiond preview` is run with sudo so that it can see which process holds the camera
// (/proc/<pid>/fd of the service's user), and needs nothing of root after that. It becomes the user who ran
// sudo (else nobody), with the video group for the camera, before any camera frame is decoded.
import fs from 'node:fs';
import { EmotiondError } from '../errors.js';

interface Unprivileged {
  uid: number;
  gid: number;
  /** Supplementary groups after the drop (the video group when this system has one). */
  groups: number[];
  /** Who it became, for the log: "pi (sudo)" or "nobody". */
  who: string;
}

/** The user to become: $SUDO_UID/$SUDO_GID when set and not root, else nobody (65534 when not in /etc/passwd). */
export function unprivilegedUser(env: NodeJS.ProcessEnv, passwd = readText('/etc/passwd')): Omit<Unprivileged, 'groups'> {
  const uid = Number(env['SUDO_UID']);
  const gid = Number(env['SUDO_GID']);
  if (Number.isInteger(uid) && uid > 0 && Number.isInteger(gid) && gid > 0) return { uid, gid, who: `${env['SUDO_USER'] || uid} (sudo)` };
  const nobody = passwd
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === 'nobody');
  return { uid: Number(nobody?.[2] ?? 65534), gid: Number(nobody?.[3] ?? 65534), who: 'nobody' };
}

/** The id of `name` in /etc/group, or undefined. */
export function groupId(name: string, group = readText('/etc/group')): number | undefined {
  const f = group
    .split('\n')
    .map((l) => l.split(':'))
    .find((x) => x[0] === name);
  return f?.[2] === undefined ? undefined : Number(f[2]);
}

/**
 * Becomes `to` (groups first, then the group, then the user) and checks that root cannot be taken back.
 * Throws EMD_PRIVILEGES when that fails: running on as root is not an option.
 */
export function dropPrivileges(to: Omit<Unprivileged, 'groups'>, videoGid: number | undefined): Unprivileged {
  const groups = videoGid === undefined ? [] : [videoGid];
  try {
    process.setgroups?.(groups);
    process.setgid?.(to.gid);
    process.setuid?.(to.uid);
  } catch (err) {
    throw new EmotiondError('EMD_PRIVILEGES', `cannot drop root privileges to uid ${to.uid}, gid ${to.gid}: ${(err as Error).message}`);
  }
  let regained = false;
  try {
    process.setuid?.(0);
    regained = true;
  } catch {
    // expected: an unprivileged process cannot become root again
  }
  if (regained || process.getuid?.() === 0) throw new EmotiondError('EMD_PRIVILEGES', 'dropped root privileges but could take them back: refusing to run');
  return { ...to, groups };
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
