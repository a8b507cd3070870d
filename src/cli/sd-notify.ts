// systemd notify protocol (sd_notify(3)): READY, STATUS, STOPPING and a progress-gated WATCHDOG.
// Without NOTIFY_SOCKET (not run by systemd, or Type=simple) every call does nothing.
import unixDgram from 'unix-dgram';
import type { Logger } from '../system/logger.js';

interface SdNotifyOptions {
  /** Notify socket; defaults to $NOTIFY_SOCKET. */
  socketPath?: string;
  /** Watchdog timeout in microseconds; defaults to $WATCHDOG_USEC. */
  watchdogUsec?: number;
  logger?: Logger;
  env?: NodeJS.ProcessEnv;
}

/** STATUS is one line of the datagram; a newline would start another assignment. */
function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, ' ');
}

export class SdNotify {
  /** False when there is no notify socket: every call is then a no-op. */
  readonly enabled: boolean;
  /** Half of the watchdog timeout, as systemd recommends; null when the watchdog is off or meant for another process. */
  readonly watchdogIntervalMs: number | null;
  private readonly socketPath: string;
  private readonly log: Logger | undefined;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(opts: SdNotifyOptions = {}) {
    const env = opts.env ?? process.env;
    this.log = opts.logger;
    let path = opts.socketPath ?? env.NOTIFY_SOCKET ?? '';
    if (path.startsWith('@')) {
      // unix-dgram copies the address with strncpy and sends the whole sockaddr, so it cannot reach an abstract name.
      this.log?.warn({ code: 'EMD_NOTIFY', socket: path }, 'abstract NOTIFY_SOCKET names are not supported; systemd notifications are off');
      path = '';
    } else if (path !== '' && !path.startsWith('/')) {
      this.log?.warn({ code: 'EMD_NOTIFY', socket: path }, 'NOTIFY_SOCKET is not an absolute path; systemd notifications are off');
      path = '';
    }
    this.socketPath = path;
    this.enabled = path !== '';

    const usec = opts.watchdogUsec ?? Number(env.WATCHDOG_USEC ?? NaN);
    // WATCHDOG_PID names the process the watchdog is for; a child that inherited the variables must not ping.
    const forPid = opts.watchdogUsec === undefined && env.WATCHDOG_PID !== undefined ? Number(env.WATCHDOG_PID) : process.pid;
    this.watchdogIntervalMs = this.enabled && Number.isFinite(usec) && usec > 0 && forPid === process.pid ? Math.max(1, Math.floor(usec / 2000)) : null;
  }

  /** READY=1: start-up is complete (model loaded, camera delivering, MQTT up or ready_timeout_s passed). */
  ready(status?: string): void {
    this.send(status === undefined ? 'READY=1' : `READY=1\nSTATUS=${oneLine(status)}`);
  }

  /** STATUS=...: the line `systemctl status` shows. */
  status(text: string): void {
    this.send(`STATUS=${oneLine(text)}`);
  }

  /**
   * Ping the watchdog every watchdogIntervalMs, but only while isMakingProgress() says the pipeline moves:
   * a hung camera read then lets WatchdogSec expire and systemd restarts the service.
   */
  startWatchdog(isMakingProgress: () => boolean): void {
    if (this.watchdogIntervalMs === null || this.closed) return;
    this.stopWatchdog();
    let stalled = false;
    this.timer = setInterval(() => {
      let ok: boolean;
      try {
        ok = isMakingProgress();
      } catch (err) {
        this.log?.warn({ code: 'EMD_NOTIFY', err }, 'watchdog progress check threw; counting it as no progress');
        ok = false;
      }
      if (ok) {
        if (stalled) this.log?.info('pipeline is making progress again; watchdog pings resumed');
        stalled = false;
        this.send('WATCHDOG=1');
      } else if (!stalled) {
        stalled = true;
        this.log?.warn({ code: 'EMD_NOTIFY' }, 'pipeline is not making progress; watchdog pings withheld');
      }
    }, this.watchdogIntervalMs);
    this.timer.unref();
  }

  /** Whether the watchdog timer runs (startWatchdog() until stopping() or close()). */
  get watchdogRunning(): boolean {
    return this.timer !== null;
  }

  /** STOPPING=1: shutdown has begun; the watchdog stops too (systemd does not expect pings while stopping). */
  stopping(status?: string): void {
    this.stopWatchdog();
    this.send(status === undefined ? 'STOPPING=1' : `STOPPING=1\nSTATUS=${oneLine(status)}`);
  }

  /** Stop the watchdog timer; later calls send nothing. */
  close(): void {
    this.stopWatchdog();
    this.closed = true;
  }

  private stopWatchdog(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * One short-lived socket per message: unix-dgram keeps a libuv poll handle that cannot be unref'd, so a
   * long-lived socket would hold the event loop open. Messages are a few per minute, so the cost is nil.
   */
  private send(message: string): void {
    if (!this.enabled || this.closed) return;
    const buf = Buffer.from(message);
    let socket: unixDgram.UnixDgramSocket | undefined;
    try {
      socket = unixDgram.createSocket('unix_dgram');
      socket.send(buf, 0, buf.length, this.socketPath, (err) => {
        if (err) this.warn(message, err);
      });
    } catch (err) {
      this.warn(message, err);
    } finally {
      try {
        socket?.close();
      } catch (err) {
        this.warn(message, err);
      }
    }
  }

  private warn(message: string, err: unknown): void {
    this.log?.warn({ code: 'EMD_NOTIFY', err, socket: this.socketPath, notify: message.split('\n')[0] }, 'sd_notify send failed');
  }
}
