// `emotiond preview`: for installers only, never the service. Serves on 127.0.0.1, for preview.duration_s, the
// live camera view with the face boxes and labels, to aim the camera and check that faces are found at that
// distance. Refuses to start while another process (the service) holds the same camera open.
import type { LoadedConfig } from '../config/load.js';
import { Daemon } from '../app/daemon.js';
import { deviceHolders, localDevice, type DeviceHolders } from '../capture/device-holders.js';
import { EmotiondError } from '../errors.js';
import type { Logger } from '../system/logger.js';
import { PreviewServer } from '../preview/preview-server.js';
import { PreviewView } from '../preview/preview-view.js';

export interface PreviewOptions {
  /** Where the URL line goes (default stdout). */
  write?: (line: string) => void;
  /** Resolves with a reason to stop early (a signal: see main.ts). */
  stop?: Promise<string>;
}

/** Throws EMD_SOURCE_BUSY when another process holds the source's camera, or may and this user cannot tell. */
export function checkCameraFree(uri: string, find: (device: string) => DeviceHolders = deviceHolders): void {
  const device = localDevice(uri);
  if (device === undefined) return;
  const found = find(device);
  const list = (ps: DeviceHolders['holders']): string => ps.map((p) => `pid ${p.pid} (${p.command})`).join(', ');
  if (found.holders.length > 0) {
    throw new EmotiondError('EMD_SOURCE_BUSY', `${device} is open in ${list(found.holders)}. Stop the service first (sudo systemctl stop emotiond, or emotiond@<name>), then run the preview again`);
  }
  if (found.unknown.length > 0) {
    throw new EmotiondError('EMD_SOURCE_BUSY', `cannot tell whether ${list(found.unknown)} uses ${device}: this user may not read its open files. Run the preview with sudo, or stop the service first`);
  }
}

export async function runPreview(loaded: LoadedConfig, logger: Logger, opts: PreviewOptions = {}): Promise<number> {
  const { config } = loaded;
  const log = logger.child({ module: 'preview' });
  if (process.env['NOTIFY_SOCKET']) throw new EmotiondError('EMD_CONFIG_INVALID', 'preview is for installers at a terminal, not for a service: the unit must run `emotiond run`');
  checkCameraFree(config.source.uri);
  const endsAtMs = Date.now() + config.preview.duration_s * 1000;
  const view = new PreviewView({ minSize: config.detector.min_size, endsAtMs });
  const server = new PreviewServer({ port: config.preview.port, view, endsAtMs, logger: log });
  // No MQTT, no HTTP dashboard, no stdout events: only the view, which is not an event sink.
  const daemon = new Daemon({ config, logger, redactedConfig: loaded.redacted, parts: [server], frameTap: view });
  let timer: NodeJS.Timeout | undefined;
  const stopped = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`${config.preview.duration_s} s are up`), config.preview.duration_s * 1000);
    void daemon.sourceEnded.then(() => resolve('the source ended'));
    void daemon.sourceFailed.then((reason) => resolve(`the source failed: ${reason}`));
    void opts.stop?.then(resolve);
  });
  try {
    await daemon.start();
    (opts.write ?? ((l: string) => process.stdout.write(l)))(`emotiond preview: open ${server.url} in a browser on this machine (or through ssh -L ${server.port}:127.0.0.1:${server.port}); it stops in ${config.preview.duration_s} s or on Ctrl-C\n`);
    const why = await stopped;
    log.info({ why, images: view.count }, 'preview stopping');
  } finally {
    clearTimeout(timer);
    await daemon.stop();
  }
  return 0;
}
