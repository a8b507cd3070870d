// `emotiond preview`: for installers only, never the service. Serves on 127.0.0.1, for preview.duration_s, the
// live camera view with the face boxes and labels, to aim the camera and check that faces are found at that
// distance. Refuses to start while another process (the service) holds the same camera open, under a service
// manager or without a terminal (unless --force); started as root, it becomes an unprivileged user of the video
// group once the camera check is done.
import type { LoadedConfig } from '../config/load.js';
import { Daemon } from '../app/daemon.js';
import { deviceHolders, localDevice, type DeviceHolders } from '../capture/device-holders.js';
import { EmotiondError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import { PreviewServer } from '../preview/preview-server.js';
import { PreviewView } from '../preview/preview-view.js';
import { monotonicMs } from '../system/clock.js';
import { dropPrivileges, groupId, unprivilegedUser } from './privileges.js';

interface PreviewOptions {
  /** Where the URL line goes (default stdout). */
  write?: (line: string) => void;
  /** Resolves with a reason to stop early (a signal: see main.ts). */
  stop?: Promise<string>;
  /** --force: run without a terminal or under a service manager. */
  force?: boolean;
  /** Where the service manager's variables are read from (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Whether a person is at a terminal (default: stdin or stdout is a TTY). */
  tty?: boolean;
}

/** Variables a service manager sets (systemd units, systemd-run; NOTIFY_SOCKET for Type=notify). */
const SERVICE_VARIABLES = ['INVOCATION_ID', 'JOURNAL_STREAM', 'NOTIFY_SOCKET'] as const;

/** Throws EMD_CONFIG_INVALID when the preview looks started by a service manager or with nobody at a terminal. */
function checkInteractive(env: NodeJS.ProcessEnv, tty: boolean): void {
  const set = SERVICE_VARIABLES.filter((v) => (env[v] ?? '') !== '');
  if (set.length > 0)
    throw new EmotiondError(
      'EMD_CONFIG_INVALID',
      `preview is for installers at a terminal, not for a service (${set.join(', ')} set: started by systemd or another service manager): the unit must run \`emotiond run\`; add --force to run it anyway`,
    );
  if (!tty)
    throw new EmotiondError(
      'EMD_CONFIG_INVALID',
      'preview is for installers at a terminal, and neither its input nor its output is one: add --force to run it anyway',
    );
}

/** Throws EMD_SOURCE_BUSY when another process holds the source's camera, or may and this user cannot tell. */
export function checkCameraFree(uri: string, find: (device: string) => DeviceHolders = deviceHolders): void {
  const device = localDevice(uri);
  if (device === undefined) return;
  const found = find(device);
  const list = (ps: DeviceHolders['holders']): string => ps.map((p) => `pid ${p.pid} (${p.command})`).join(', ');
  if (found.holders.length > 0) {
    throw new EmotiondError(
      'EMD_SOURCE_BUSY',
      `${device} is open in ${list(found.holders)}. Stop the service first (sudo systemctl stop emotiond, or emotiond@<name>), then run the preview again`,
    );
  }
  if (found.unknown.length > 0) {
    throw new EmotiondError(
      'EMD_SOURCE_BUSY',
      `cannot tell whether ${list(found.unknown)} uses ${device}: this user may not read its open files. Run the preview with sudo, or stop the service first`,
    );
  }
}

export async function runPreview(loaded: LoadedConfig, logger: Logger, opts: PreviewOptions = {}): Promise<number> {
  const { config } = loaded;
  const log = logger.child({ module: 'preview' });
  const env = opts.env ?? process.env;
  if (!opts.force) checkInteractive(env, opts.tty ?? Boolean(process.stdin.isTTY || process.stdout.isTTY));
  checkCameraFree(config.source.uri);
  // Root was needed only to see the service's open files: the camera is decoded as an ordinary user.
  if (process.getuid?.() === 0) {
    const video = groupId('video');
    const now = dropPrivileges(unprivilegedUser(env), video);
    log.info(
      { uid: now.uid, gid: now.gid, groups: now.groups },
      `running as ${now.who}${video === undefined ? ' (this system has no video group)' : ' with the video group'}, not root`,
    );
  }
  // On the monotonic clock: a board without a real-time clock steps its wall clock when NTP syncs.
  const endsAtMs = monotonicMs() + config.preview.duration_s * 1000;
  const view = new PreviewView({ minSize: config.detector.min_size, endsAtMs });
  const server = new PreviewServer({ port: config.preview.port, view, endsAtMs, logger: log });
  // No MQTT, no HTTP dashboard, no stdout events: only the view, which is not an event sink.
  const viewOnly = {
    ...config,
    mqtt: { ...config.mqtt, enabled: false },
    http: { ...config.http, enabled: false },
    events: { ...config.events, print: false },
  };
  const daemon = new Daemon({ config: viewOnly, logger, redactedConfig: loaded.redacted, parts: [server], frameTap: view });
  let timer: NodeJS.Timeout | undefined;
  const stopped = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`${config.preview.duration_s} s are up`), config.preview.duration_s * 1000);
    void daemon.sourceEnded.then(() => resolve('the source ended'));
    void daemon.sourceFailed.then((reason) => resolve(`the source failed: ${reason}`));
    void opts.stop?.then(resolve);
  });
  try {
    await daemon.start();
    (opts.write ?? ((l: string) => process.stdout.write(l)))(
      `emotiond preview: open ${server.url} in a browser on this machine (or through ssh -L ${server.port}:127.0.0.1:${server.port}); it stops in ${config.preview.duration_s} s or on Ctrl-C\n`,
    );
    const why = await stopped;
    log.info({ why, images: view.count }, 'preview stopping');
  } finally {
    clearTimeout(timer);
    await daemon.stop();
  }
  return 0;
}
