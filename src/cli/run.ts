// `emotiond run`: builds the daemon and its parts, talks to systemd, and stops cleanly on a signal
// or when a file source ends. Returns the exit code.
import path from 'node:path';
import { cleartextPasswordWarnings, type LoadedConfig } from '../config/load.js';
import type { Logger } from '../system/logger.js';
import { Daemon } from '../app/daemon.js';
import { PAUSED_FILE } from '../app/paused-file.js';
import { SdNotify } from './sd-notify.js';
import { redactText } from '../system/redact.js';
import { exitCodeFor, isConfigError } from '../errors.js';
import { shownFaceCount } from '../events/privacy-filter.js';

/** How often STATUS= tells systemd the frame rate and faces. */
const STATUS_INTERVAL_MS = 5000;
/** Exit status when the frame source cannot be recovered in this process (sysexits EX_IOERR): not 0, so
 * that Restart=on-failure restarts the service. */
const EXIT_SOURCE_FAILED = 74;

export async function runDaemon(loaded: LoadedConfig, logger: Logger): Promise<number> {
  const { config } = loaded;
  const log = logger.child({ module: 'main' });
  const notify = new SdNotify({ logger: logger.child({ module: 'sd-notify' }) });
  const daemon: Daemon = new Daemon({
    config,
    logger,
    redactedConfig: loaded.redacted,
    onReady: () => notify.ready(statusLine(daemon, config.privacy.min_faces)),
    pausedFile: path.resolve(config.system.state_dir, PAUSED_FILE),
  });

  let exited!: (code: number) => void;
  const exitCode = new Promise<number>((resolve) => (exited = resolve));
  let stopping: Promise<void> | null = null;
  const stop = (why: string, code = 0): Promise<void> => {
    stopping ??= (async () => {
      log.info({ why }, 'stopping');
      notify.stopping(`stopping: ${why}`);
      clearInterval(statusTimer);
      await daemon.stop();
      notify.close();
      if (daemon.stuckReads > 0) endPastStuckReads(log, daemon.stuckReads, code);
      exited(code);
    })();
    return stopping;
  };
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal: sig }, 'second signal: exiting now');
      process.exit(1);
    }
    void stop(sig);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  for (const warning of cleartextPasswordWarnings(config)) log.warn(redactText(warning));
  const statusTimer = setInterval(() => notify.status(statusLine(daemon, config.privacy.min_faces)), STATUS_INTERVAL_MS);
  statusTimer.unref();
  try {
    await daemon.start();
  } catch (err) {
    // A signal during the start: the stop it began ends the run.
    if (stopping) return exitCode;
    // A missing model, a bad cascade, an unreadable credential: the message names the file and the reason, and a
    // stack would only suggest a bug. Anything else is unexpected and keeps its stack.
    if (isConfigError(err)) log.fatal({ code: err.code }, redactText(err.message));
    else log.fatal({ err }, 'start-up failed');
    await daemon.stop();
    notify.close();
    return exitCodeFor(err);
  }
  // Fed only while every stage makes progress (PipelineStats.stalled: frames come, are processed, faces present are
  // classified; opening or waiting to reopen the source counts) or the daemon is paused; a stuck event loop stops it.
  notify.startWatchdog(() => daemon.makingProgress());
  log.info({ device: config.device.id, source: redactText(config.source.uri) }, 'running');
  // A signal or the end of a file source (no loop) stops the daemon; both resolve to the exit code.
  void daemon.sourceEnded.then(() => stop('source ended'));
  void daemon.sourceFailed.then((reason) => stop(`source given up: ${reason}`, EXIT_SOURCE_FAILED));
  return exitCode;
}

/**
 * Node joins its worker threads at exit, and a source read stuck in OpenCV holds one for good, so a normal
 * exit would hang (until systemd's stop timeout). Everything is stopped and written by now: end at once.
 * Killed by SIGKILL counts as a failure for Restart=on-failure, so systemd restarts the service.
 */
function endPastStuckReads(log: Logger, stuckReads: number, code: number): never {
  log.warn(
    { stuck_reads: stuckReads, exit_code: code },
    'source reads are still stuck, so a normal exit would wait for them for ever: ending the process with SIGKILL',
  );
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable: SIGKILL did not end the process');
}

/** systemctl status shows it to every local user: the face count as privacy.min_faces lets it out. */
function statusLine(d: Daemon, minFaces: number): string {
  const s = d.stats.snapshot();
  const faces = shownFaceCount(s.active_tracks, minFaces);
  return `${s.fps} fps, ${faces ?? `fewer than ${minFaces}`} faces, ${s.frames_processed} frames, ${s.frames_dropped} dropped`;
}
