// The pause kept across restarts (state_dir/paused.json, src/app/paused-file.ts): what a first start leaves, what
// an unreadable record means, and a pause set on a full card (a real tmpfs filled to ENOSPC, as root), which
// must still land on the card: the record is replaced in place.
import test from 'ava';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PausedFile } from '../src/app/paused-file.js';
import { createLogger } from '../src/system/logger.js';
import { fill, mountTmpfs, tmpfsMissing } from './helpers/tmpfs.js';
import { testUnless } from './helpers/skip.js';

const logger = createLogger({ level: 'silent', pretty: 'no' });

function tempDir(t: { teardown: (fn: () => void) => void }): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-paused-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const saved = (file: string): unknown => (JSON.parse(fs.readFileSync(file, 'utf8')) as { paused: unknown }).paused;

test('a first start is unpaused and leaves a record to overwrite later; a pause written is read back by the next run', (t) => {
  const file = path.join(tempDir(t), 'state', 'paused.json');
  t.false(new PausedFile(file, logger).read());
  t.is(saved(file), false);
  const size = fs.statSync(file).size;
  new PausedFile(file, logger).write(true);
  t.is(fs.statSync(file).size, size, 'every record has the same length');
  t.true(new PausedFile(file, logger).read());
  new PausedFile(file, logger).write(false);
  t.false(new PausedFile(file, logger).read());
});

test('a record that is not {"paused":true|false} keeps the daemon paused and is left for a command to replace', (t) => {
  const file = path.join(tempDir(t), 'paused.json');
  fs.writeFileSync(file, '{"paused":"yes"');
  t.true(new PausedFile(file, logger).read());
  t.is(fs.readFileSync(file, 'utf8'), '{"paused":"yes"', 'not overwritten by the read');
});

test('a record of an earlier length (an older version) is rewritten at start with its value', (t) => {
  const file = path.join(tempDir(t), 'paused.json');
  fs.writeFileSync(file, '{"paused":true,"time":"2026-12-01T00:00:00.000Z"}\n');
  t.true(new PausedFile(file, logger).read());
  t.true(saved(file) === true);
  t.not(fs.statSync(file).size, '{"paused":true,"time":"2026-12-01T00:00:00.000Z"}\n'.length);
});

testUnless(tmpfsMissing(), { serial: true })('on a full card a pause still lands: the record is replaced in place, and the next run starts paused', (t) => {
  const fsys = mountTmpfs(64);
  t.teardown(() => fsys.unmount());
  const file = path.join(fsys.dir, 'paused.json');
  t.false(new PausedFile(file, logger).read(), 'first start');
  fill(fsys.dir);
  t.throws(() => fs.writeFileSync(path.join(fsys.dir, 'probe'), 'x'.repeat(8192)), { code: 'ENOSPC' }, 'the card is full');
  new PausedFile(file, logger).write(true);
  t.true(new PausedFile(file, logger).read(), 'paused after a restart');
  new PausedFile(file, logger).write(false);
  t.false(new PausedFile(file, logger).read(), 'and resumed');
});
