import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parseStatus, readMemory } from '../src/system/memory.js';

test('readMemory splits the resident set into anonymous and file-backed pages from /proc/PID/status', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-mem-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const status = path.join(dir, 'status');
  fs.writeFileSync(status, 'Name:\tnode\nVmRSS:\t  204800 kB\nRssAnon:\t   61440 kB\nRssFile:\t  141312 kB\nRssShmem:\t    2048 kB\n');
  t.deepEqual(readMemory(status), { rss_mb: 200, anon_mb: 60, file_mb: 140 });
  t.is(parseStatus('Threads:\t12\nRssAnon:\t 5 kB\n')['RssAnon'], 5);
});

test('readMemory of this process agrees with Node within a few MiB', (t) => {
  const m = readMemory();
  const node = process.memoryUsage.rss() / 2 ** 20;
  t.true(Math.abs(m.rss_mb - node) < 8, `${m.rss_mb} vs ${node}`);
  t.true(m.anon_mb > 0 && m.file_mb > 0);
});

test('without a status file the total is still reported', (t) => {
  const m = readMemory('/nonexistent/status');
  t.true(m.rss_mb > 0);
  t.is(m.file_mb, 0);
});
