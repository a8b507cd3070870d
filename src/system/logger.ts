// pino logger factory: JSON lines (journald-friendly) by default, pretty on a TTY; secrets redacted.
// Each stage gets a child logger with a `module` field; nothing imports a global logger.
import { pino, type Logger, type DestinationStream } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export const REDACT_PATHS = [
  'password',
  '*.password',
  'mqtt.password',
  'config.mqtt.password',
  'config.mqtt.key_file',
  'mqtt.key_file',
  'headers.authorization',
];

export interface LoggerOptions {
  level: string;
  pretty: 'auto' | 'yes' | 'no';
  /** Where JSON lines go; defaults to stderr so that --print keeps stdout for events. */
  destination?: DestinationStream;
  isTTY?: boolean;
}

export function createLogger(opts: LoggerOptions): Logger {
  const tty = opts.isTTY ?? process.stderr.isTTY === true;
  const usePretty = opts.pretty === 'yes' || (opts.pretty === 'auto' && tty);
  const base = { level: opts.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { pid: process.pid } };
  if (usePretty) {
    return pino(base, pretty({ destination: 2, colorize: tty, sync: true, ignore: 'pid,hostname' }));
  }
  return pino(base, opts.destination ?? pino.destination({ dest: 2, sync: true }));
}
