// The suite says what it did not run: no skip disguised as a pass, one locator of the shared data, and
// data-dependent tests that show up as skipped (not passed, not missing) when the data is absent.
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import test from 'ava';
import { projectRoot } from '../src/system/paths.js';

const ROOT = projectRoot();
// Built from parts so that this file does not match its own checks.
const PASS_CALL = ['t', 'pass()'].join('.');
const OLD_DATA_VAR = ['EMOTIOND', 'SHARED', 'DATA'].join('_');
const DATA_PATH_PARTS = ["'shared'", " 'data'"].join(',');

/** Files under `dir` (relative to the root) whose names match `ext`, node_modules aside. */
function filesUnder(dir: string, ext: RegExp): string[] {
  return fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : filesUnder(rel, ext);
    return e.isFile() && ext.test(e.name) ? [rel] : [];
  });
}

/** "file:line: text" for every line of `files` that matches `re`. */
function grepLines(files: string[], re: RegExp, except: (line: string) => boolean = () => false): string[] {
  return files.flatMap((f) =>
    fs
      .readFileSync(path.join(ROOT, f), 'utf8')
      .split('\n')
      .flatMap((line, i) => (re.test(line) && !except(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
  );
}

test(`no test passes by calling ${PASS_CALL} (a skip must be test.skip, chosen at load, saying why)`, (t) => {
  // A deliberate pass needs its reason on the same line: `// pass: why`.
  const found = grepLines(filesUnder('test', /\.ts$/), new RegExp(PASS_CALL.replace(/[.()]/g, '\\$&')), (line) => /\/\/ pass: \S/.test(line));
  t.deepEqual(found, [], `use testUnless(why) from test/helpers/skip.ts instead:\n${found.join('\n')}`);
});

test('one locator of the shared data: one module, one environment variable (EMOTIOND_DATA_DIR)', (t) => {
  const sources = [
    ...filesUnder('src', /\.ts$/),
    ...filesUnder('test', /\.ts$/),
    ...filesUnder('models', /\.(sh|py|ts)$/),
    ...filesUnder('config', /\.ts$/),
    ...filesUnder('deploy', /\.(sh|ts)$/),
    '.ci/run',
    'README.md',
  ];
  t.deepEqual(grepLines(sources, new RegExp(OLD_DATA_VAR)), [], `${OLD_DATA_VAR} is gone: use EMOTIOND_DATA_DIR`);
  const builders = grepLines(sources, new RegExp(DATA_PATH_PARTS));
  t.deepEqual(
    builders.map((l) => l.split(':')[0]),
    ['models/eval/data-root.ts'],
    `only the locator builds the data path:\n${builders.join('\n')}`,
  );
});

test('with the shared data absent, the data tests are reported as skipped, with the reason, and none vanishes', async (t) => {
  const files = ['test/tracking-clips.test.ts', 'test/preprocess-parity.test.ts'];
  const missing = path.join(ROOT, 'no-such-data-dir');
  const ava = path.join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs');
  const { stdout } = await promisify(execFile)(process.execPath, [ava, '--tap', ...files], {
    cwd: ROOT,
    env: { ...process.env, EMOTIOND_DATA_DIR: missing },
    maxBuffer: 16 << 20,
    timeout: 150_000,
  });
  const expected = [
    'tracking-clips › facetest clips: the one face is one track, appeared then gone',
    'tracking-clips › three faces side by side',
    'tracking-clips › every CK+ subject in turn',
    'tracking-clips › the face-free photo',
    'preprocess-parity › normalisation matches the training code',
    'preprocess-parity › face crops match the 48x48 Haar crops',
  ];
  const lines = stdout.split('\n');
  for (const title of expected) {
    const line = lines.find((l) => l.includes(`- ${title}`));
    t.truthy(line, `"${title}" is reported:\n${stdout}`);
    t.regex(line ?? '', /^ok \d+ - .*\(skipped: .*no-such-data-dir.*\) # SKIP$/, `"${title}" is skipped, naming the missing data`);
  }
  t.regex(stdout, /^# fail 0$/m);
});
