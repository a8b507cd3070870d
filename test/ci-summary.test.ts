// .ci/run's last line, "N passed, N failed, N skipped", counted by .ci/summary from the TAP of a real ava
// run with a passing, a skipped and a failing test; and a test broker left running is a failure.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { projectRoot } from '../src/system/paths.js';
import { mosquittoMissing, startHolder } from './helpers/mosquitto.js';
import { testUnless } from './helpers/skip.js';

const ROOT = projectRoot();
const SAMPLE = `import test from 'ava';
test('passes', (t) => t.is(1, 1));
test.skip('is skipped (skipped: on purpose)', (t) => t.fail());
test('fails', (t) => t.is(1, 2));
`;

/** A throw-away ava project with the three sample tests; returns its TAP output. */
async function sampleTap(t: { teardown(fn: () => void): void }): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-ci-sample-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module', ava: { files: ['*.test.mjs'] } }));
  fs.writeFileSync(path.join(dir, 'sample.test.mjs'), SAMPLE);
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  const ava = path.join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
  const err = await promisify(execFile)(process.execPath, [ava, '--tap'], { cwd: dir, env: { ...process.env, CI: 'true' }, timeout: 60_000 }).then(
    () => undefined,
    (e: Error & { stdout?: string }) => e,
  );
  if (!err?.stdout) throw new Error(`the sample run should fail (one test fails) and print TAP: ${String(err)}`);
  const log = path.join(dir, 'tap.log');
  fs.writeFileSync(log, err.stdout);
  return log;
}

function summary(log: string, runDir?: string): string[] {
  return execFileSync('bash', [path.join(ROOT, '.ci', 'summary'), log, ...(runDir ? [runDir] : [])], { encoding: 'utf8' })
    .trim()
    .split('\n');
}

test('.ci/summary counts a real ava run: 1 passed, 1 failed, 1 skipped', async (t) => {
  const log = await sampleTap(t);
  t.deepEqual(summary(log), ['1 passed, 1 failed, 1 skipped'], fs.readFileSync(log, 'utf8'));
});

testUnless(mosquittoMissing())('.ci/summary names, kills and counts a test mosquitto still running in the run folder', async (t) => {
  const log = await sampleTap(t);
  const runDir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-ci-run-'));
  t.teardown(() => fs.rmSync(runDir, { recursive: true, force: true }));
  const holder = await startHolder({ ...process.env, EMOTIOND_TEST_RUN_DIR: runDir });
  t.teardown(() => holder.kill('SIGKILL'));
  const lines = summary(log, runDir);
  t.is(lines.length, 2, lines.join('\n'));
  t.regex(lines[0] ?? '', /^not ok - mosquitto left running by the tests \(pids \d+\): killed now$/);
  t.is(lines[1], '1 passed, 2 failed, 1 skipped');
  t.deepEqual(summary(log, runDir), ['1 passed, 1 failed, 1 skipped'], 'the leftover was killed');
});
