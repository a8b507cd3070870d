// pino logger factory: JSON lines (journald-friendly) by default, pretty on a TTY; secrets redacted.
// Each stage gets a child logger with a `module` field; nothing imports a global logger.
import fs from 'node:fs';
import { pino, type Logger, type DestinationStream, type Level } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

const REDACT_PATHS = ['password', '*.password', 'mqtt.password', 'config.mqtt.password', 'config.mqtt.key_file', 'mqtt.key_file', 'headers.authorization'];

interface LoggerOptions {
  level: string;
  pretty: 'auto' | 'yes' | 'no';
  /** Where JSON lines go; defaults to stderr so that --print keeps stdout for events. */
  destination?: DestinationStream;
  isTTY?: boolean;
  /** Prefix lines with their journald priority; default: when stderr is the journal (onJournal). */
  journal?: boolean;
}

/** pino level -> syslog priority: fatal crit, error err, warn warning, info info, debug and trace debug. */
const JOURNAL_PRIORITY: ReadonlyArray<[Level, number]> = [
  ['trace', 7],
  ['info', 6],
  ['warn', 4],
  ['error', 3],
  ['fatal', 2],
];

/** True when `fd` is the stream systemd connected to the journal (JOURNAL_STREAM=dev:inode, systemd.exec(5)). */
function onJournal(fd = 2, env: NodeJS.ProcessEnv = process.env): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!m?.[1] || !m[2]) return false;
  try {
    const st = fs.fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]) && st.ino === BigInt(m[2]);
  } catch {
    return false;
  }
}

/** Text for stderr at syslog priority N: on the journal each of its lines gets "<N>" (one entry per line). */
export function atPriority(priority: number, text: string): string {
  return onJournal(2) ? text.replace(/^(?=.)/gm, `<${priority}>`) : text;
}

/** sd-daemon(3): journald strips a leading "<N>" and stores N as the line's PRIORITY (SyslogLevelPrefix=). */
function withPriorities(dest: DestinationStream): DestinationStream {
  const streams = JOURNAL_PRIORITY.map(([level, priority]) => ({ level, stream: { write: (line: string) => dest.write(`<${priority}>${line}`) } }));
  // dedupe: each line goes only to the stream of the highest level at or below its own.
  return pino.multistream(streams, { dedupe: true });
}

export function createLogger(opts: LoggerOptions): Logger {
  const tty = opts.isTTY ?? process.stderr.isTTY === true;
  const usePretty = opts.pretty === 'yes' || (opts.pretty === 'auto' && tty);
  const base = { level: opts.level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { pid: process.pid } };
  if (usePretty) {
    return pino(base, pretty({ destination: 2, colorize: tty, sync: true, ignore: 'pid,hostname' }));
  }
  const dest = opts.destination ?? pino.destination({ dest: 2, sync: true });
  return pino(base, (opts.journal ?? (opts.destination === undefined && onJournal(2))) ? withPriorities(dest) : dest);
}
