// Log lines on the journal carry their priority: systemd sets JOURNAL_STREAM=dev:inode for the stream it
// connected, and journald reads a leading "<N>" (sd-daemon(3)) as the PRIORITY of the line. Anywhere else
// the lines stay plain JSON. Checked in a real child process whose stderr is a real file.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';

const LOGGER = path.resolve('src/system/logger.ts');
const SCRIPT = `
import { createLogger } from ${JSON.stringify(LOGGER)};
const log = createLogger({ level: 'trace', pretty: 'no' }).child({ module: 'test' });
log.trace('t'); log.debug('d'); log.info('i'); log.warn('w'); log.error('e'); log.fatal('f');
`;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'emd-logger-'));
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs SCRIPT with stderr on a file; `journal` sets JOURNAL_STREAM to that file (or to another one). */
function logLines(name: string, journal: 'this-file' | 'other-file' | 'unset'): string[] {
  const file = path.join(tmp, `${name}.log`);
  const fd = fs.openSync(file, 'w');
  const st = fs.fstatSync(fd, { bigint: true });
  const env: Record<string, string | undefined> = { ...process.env, JOURNAL_STREAM: undefined };
  if (journal === 'this-file') env.JOURNAL_STREAM = `${st.dev}:${st.ino}`;
  if (journal === 'other-file') env.JOURNAL_STREAM = `${st.dev}:${st.ino + 1n}`;
  const r = spawnSync(process.execPath, ['--import=tsx', '--input-type=module', '-e', SCRIPT], { env, stdio: ['ignore', 'pipe', fd], encoding: 'utf8' });
  fs.closeSync(fd);
  const lines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '');
  if (r.status !== 0) throw new Error(`child exited ${r.status}: ${lines.join('\n')}`);
  return lines;
}

test('on the journal every line starts with the journald priority of its pino level', (t) => {
  const lines = logLines('journal', 'this-file');
  t.is(lines.length, 6, lines.join('\n'));
  const byMsg = new Map(lines.map((l) => [(JSON.parse(l.replace(/^<\d>/, '')) as { msg: string }).msg, l.slice(0, 3)]));
  // crit, err, warning, info, debug (journalctl -p warning shows fatal, error and warn lines)
  t.deepEqual(Object.fromEntries(byMsg), { t: '<7>', d: '<7>', i: '<6>', w: '<4>', e: '<3>', f: '<2>' });
});

test('off the journal (no JOURNAL_STREAM, or it names another stream) the lines are plain JSON', (t) => {
  for (const mode of ['unset', 'other-file'] as const) {
    const lines = logLines(mode, mode);
    t.is(lines.length, 6, lines.join('\n'));
    for (const l of lines) t.notThrows(() => JSON.parse(l), `${mode}: ${l}`);
  }
});

test('the last word of a failed start (a bad config, exit 78) is stored as an error on the journal', (t) => {
  const file = path.join(tmp, 'fail.log');
  fs.writeFileSync(path.join(tmp, 'bad.json'), '{"source": {"fps": "fast"}}');
  const fd = fs.openSync(file, 'w');
  const st = fs.fstatSync(fd, { bigint: true });
  const r = spawnSync(process.execPath, ['--import=tsx', path.resolve('src/cli/main.ts'), 'check-config', '--config', path.join(tmp, 'bad.json')], {
    env: { ...process.env, JOURNAL_STREAM: `${st.dev}:${st.ino}` },
    stdio: ['ignore', 'pipe', fd],
  });
  fs.closeSync(fd);
  const text = fs.readFileSync(file, 'utf8');
  t.is(r.status, 78, text);
  // The reason is on a line of its own: every line is an entry of its own for journald.
  t.regex(text, /^<3>emotiond: Invalid configuration/, text);
  t.regex(text, /^<3>.*source\.fps/m, text);
  t.deepEqual(
    text.split('\n').filter((l) => l !== '' && !l.startsWith('<3>')),
    [],
  );
});
