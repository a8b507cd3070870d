// deploy/install.sh and uninstall.sh against a staging root: every file in place, the config created once
// and never overwritten, a second run harmless, uninstall keeping config and state unless --purge.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { freePort } from './helpers/ports.js';

const SRC = path.resolve('.');
const MAIN_JS = path.join(SRC, 'dist/src/cli/main.js');

/** The scripts install the existing build; make one when there is none (other code may be mid-change). */
function ensureBuild(): string | undefined {
  if (fs.existsSync(MAIN_JS)) return undefined;
  // tsc still emits JavaScript when another part fails to type-check; only a missing output is fatal.
  const r = spawnSync('npx', ['tsc', '-p', 'src/tsconfig.json'], { cwd: SRC, encoding: 'utf8' });
  if (fs.existsSync(MAIN_JS)) return undefined;
  return `no build: ${MAIN_JS} is missing after npx tsc (exit ${r.status}): ${`${r.stdout}${r.stderr}`.slice(0, 500)}`;
}

const noBuild = fs.existsSync(path.join(SRC, 'node_modules')) ? ensureBuild() : 'node_modules is missing';
const withBuild = noBuild === undefined ? test.serial : test.serial.skip;
if (noBuild !== undefined) console.log(`deploy-install tests skipped: ${noBuild}`);

function sh(script: string, args: string[]): { status: number | null; out: string } {
  const r = spawnSync('bash', [path.join(SRC, 'deploy', script), ...args], { cwd: SRC, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'emd-install-'));
const ROOT = path.join(tmp, 'root');
const EXAMPLE = path.join(tmp, 'emotiond.example.json');
test.after.always(() => fs.rmSync(tmp, { recursive: true, force: true }));

const at = (p: string): string => path.join(ROOT, p);
const mode = (p: string): number => fs.statSync(at(p)).mode & 0o777;
const installArgs = ['--root', ROOT, '--skip-deps', '--skip-build', '--no-start', '--config-example', EXAMPLE];
const onnxModels = fs.existsSync(path.join(SRC, 'models')) ? fs.readdirSync(path.join(SRC, 'models')).filter((f) => f.endsWith('.onnx')) : [];

test.serial('the scripts are valid bash (and shellcheck-clean, with what they source, where shellcheck is installed)', (t) => {
  for (const s of ['install.sh', 'uninstall.sh']) {
    const r = spawnSync('bash', ['-n', path.join(SRC, 'deploy', s)], { encoding: 'utf8' });
    t.is(r.status, 0, r.stderr);
  }
  const sc = spawnSync('shellcheck', ['-x', 'deploy/install.sh', 'deploy/uninstall.sh'], { cwd: SRC, encoding: 'utf8' });
  if (sc.error) t.log('shellcheck not installed: skipped');
  else t.is(sc.status, 0, sc.stdout);
});

withBuild('install.sh --root puts every file in place', (t) => {
  // The real example is the lead's config/emotiond.example.json; a tiny one keeps this test independent.
  fs.writeFileSync(EXAMPLE, `${JSON.stringify({ source: { uri: '/dev/video0' }, mqtt: { url: 'mqtt://localhost:1883' } }, null, 2)}\n`);
  const r = sh('install.sh', installArgs);
  t.is(r.status, 0, r.out);
  t.log(r.out.trim());

  for (const unit of ['emotiond.service', 'emotiond@.service']) {
    const text = fs.readFileSync(at(`etc/systemd/system/${unit}`), 'utf8');
    t.is(mode(`etc/systemd/system/${unit}`), 0o644);
    // Paths inside are the final ones, not the staging root's.
    t.regex(text, new RegExp(`^ExecStart=${process.execPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} /opt/emotiond/dist/src/cli/main\\.js run`, 'm'));
    t.false(text.includes(ROOT));
  }
  if (spawnSync('systemctl', ['--version']).status === 0) {
    t.true(fs.lstatSync(at('etc/systemd/system/multi-user.target.wants/emotiond.service')).isSymbolicLink());
  }

  const wrapper = fs.readFileSync(at('usr/local/bin/emotiond'), 'utf8');
  t.is(mode('usr/local/bin/emotiond'), 0o755);
  t.regex(wrapper, /^#!\/bin\/sh\n/);
  t.true(wrapper.includes(`exec "${process.execPath}" "/opt/emotiond/dist/src/cli/main.js" "$@"`));
  t.true(wrapper.includes('export ORT_DISABLE_TELEMETRY=1'));
  t.true(wrapper.includes('export OPENCV4NODEJS_DISABLE_AUTOBUILD=1'));

  t.is(fs.readFileSync(at('etc/emotiond/config.json'), 'utf8'), fs.readFileSync(EXAMPLE, 'utf8'));
  t.is(mode('etc/emotiond/config.json'), 0o644);
  t.is(fs.readFileSync(at('etc/emotiond/mqtt_password'), 'utf8'), '');
  t.is(mode('etc/emotiond/mqtt_password'), 0o600);

  const prefix = at('opt/emotiond');
  t.true(fs.existsSync(path.join(prefix, 'dist/src/cli/main.js')));
  t.false(fs.existsSync(path.join(prefix, 'dist/test')));
  // Only the daemon: the evaluation (models/eval), the bench and the clip helpers (test/) are not installed.
  t.deepEqual(fs.readdirSync(path.join(prefix, 'dist')), ['src'], 'dist/ holds the daemon (dist/src) alone');
  const program = ['dist', 'models'].flatMap((d) => fs.readdirSync(path.join(prefix, d), { recursive: true, encoding: 'utf8' }).map((f) => `${d}/${f}`));
  const tooling = program.filter((f) => /(^|\/)(tools|eval|bench|clips|scripts)(\/|$)|eval-model|config-docs|outbox-wear/.test(f));
  t.deepEqual(tooling, [], `evaluation, bench or clip code installed:\n${tooling.join('\n')}`);
  for (const f of ['index.html', 'dashboard.js', 'dashboard.css']) t.true(fs.existsSync(path.join(prefix, 'dist/src/http/static', f)), `the dashboard's ${f}`);
  t.true(fs.existsSync(path.join(prefix, 'package.json')));
  t.true(fs.existsSync(path.join(prefix, '.emotiond-install')));
  t.true(fs.existsSync(path.join(prefix, 'config/emotiond.example.json')));
  t.true(fs.existsSync(path.join(prefix, 'node_modules/onnxruntime-node')));
  t.true(fs.existsSync(path.join(prefix, 'node_modules/unix-dgram')));
  // Dev dependencies pruned, other platforms' onnxruntime binaries dropped.
  t.false(fs.existsSync(path.join(prefix, 'node_modules/typescript')));
  t.false(fs.existsSync(path.join(prefix, 'node_modules/ava')));
  const ortBins = path.join(prefix, 'node_modules/onnxruntime-node/bin/napi-v6');
  if (fs.existsSync(ortBins)) {
    t.deepEqual(fs.readdirSync(ortBins), ['linux']);
    t.deepEqual(fs.readdirSync(path.join(ortBins, 'linux')), [process.arch]);
  }

  for (const m of onnxModels) t.true(fs.existsSync(path.join(prefix, 'models', m)), m);
  if (onnxModels.length === 0) t.log('no models/*.onnx in the checkout yet: model copy not checked');
  if (fs.existsSync('/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml')) {
    t.true(fs.existsSync(path.join(prefix, 'cascades/haarcascade_frontalface_default.xml')));
    t.true(fs.existsSync(path.join(prefix, 'cascades/lbpcascade_frontalface_improved.xml')));
  }
});

withBuild('the installed program runs: emotiond --version through the wrapper paths', (t) => {
  const r = spawnSync(process.execPath, [at('opt/emotiond/dist/src/cli/main.js'), '--version'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.is(r.stdout.trim(), (JSON.parse(fs.readFileSync('package.json', 'utf8')) as { version: string }).version);
});

const DEMO = path.join(SRC, 'deploy/demo/demo-faces.avi');
const runnable = noBuild === undefined && onnxModels.includes('emotion-cnn-lstm.int8.onnx') && fs.existsSync(DEMO);
(runnable ? test.serial : test.serial.skip)(
  'the installed tree alone runs the daemon: its model, cascades, dashboard files and pruned node_modules',
  async (t) => {
    // Only the install's own files: the default model and cascade are resolved from /opt/emotiond. Run from
    // another directory with the wrapper's environment, as `emotiond run` typed anywhere would be.
    const wrapperEnv = Object.fromEntries(
      [...fs.readFileSync(at('usr/local/bin/emotiond'), 'utf8').matchAll(/^export (\w+)=(\S*)$/gm)].map((m) => [m[1], m[2]]),
    );
    const port = String(await freePort());
    const r = spawnSync(
      process.execPath,
      [
        at('opt/emotiond/dist/src/cli/main.js'),
        'run',
        '--config',
        at('etc/emotiond/config.json'),
        '--source',
        DEMO,
        '--source-pace',
        'none',
        '--no-mqtt-enabled',
        '--print',
        '--log-pretty',
        'no',
        '--http-enabled',
        '--http-port',
        port,
      ],
      {
        cwd: '/',
        encoding: 'utf8',
        timeout: 120_000,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...wrapperEnv, EMOTIOND_SYSTEM_STATE_DIR: path.join(tmp, 'state') },
      },
    );
    t.is(r.status, 0, r.stderr.slice(-3000));
    const logs = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    t.is(logs.find((l) => l.msg === 'model loaded')?.model, at('opt/emotiond/models/emotion-cnn-lstm.int8.onnx'));
    t.is(logs.find((l) => l.msg === 'cascade loaded')?.cascade, at('opt/emotiond/cascades/haarcascade_frontalface_default.xml'));
    t.is(logs.find((l) => String(l.msg).startsWith('dashboard: '))?.url, `http://127.0.0.1:${port}/`, 'the HTTP server found its files');
    const events = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { type?: string });
    t.true(
      events.some((e) => e.type === 'face_appeared'),
      r.stdout.slice(0, 2000),
    );
  },
);
if (!runnable && noBuild === undefined) console.log('installed-tree run skipped: needs models/emotion-cnn-lstm.int8.onnx and deploy/demo/demo-faces.avi');

withBuild('a second run keeps an edited config and the password, and replaces the program', (t) => {
  fs.writeFileSync(at('etc/emotiond/config.json'), '{"source":{"uri":"/dev/video2"}}\n');
  fs.writeFileSync(at('etc/emotiond/mqtt_password'), 'secret\n');
  fs.writeFileSync(at('opt/emotiond/stray-file'), 'from an older version');
  const r = sh('install.sh', installArgs);
  t.is(r.status, 0, r.out);
  t.regex(r.out, /kept \/etc\/emotiond\/config\.json/);
  t.is(fs.readFileSync(at('etc/emotiond/config.json'), 'utf8'), '{"source":{"uri":"/dev/video2"}}\n');
  t.is(fs.readFileSync(at('etc/emotiond/mqtt_password'), 'utf8'), 'secret\n');
  t.false(fs.existsSync(at('opt/emotiond/stray-file')));
  t.true(fs.existsSync(at('opt/emotiond/dist/src/cli/main.js')));
  t.deepEqual(
    fs.readdirSync(at('opt')).filter((f) => f !== 'emotiond'),
    [],
    'no staging leftovers',
  );
});

/** A copy of the checkout's installable parts, owned by another user, as after `git clone` by that user. */
function foreignCheckout(uid: number): string {
  const dir = path.join(tmp, `checkout-${uid}`);
  fs.mkdirSync(path.join(dir, 'deploy'), { recursive: true });
  for (const p of ['dist', 'node_modules', 'package.json', 'package-lock.json', 'models', 'cascades', 'config', 'src/http/static']) {
    if (fs.existsSync(path.join(SRC, p))) fs.cpSync(path.join(SRC, p), path.join(dir, p), { recursive: true, verbatimSymlinks: true });
  }
  for (const f of ['install.sh', 'README-ops.md', 'emotiond.service', 'emotiond@.service'])
    fs.copyFileSync(path.join(SRC, 'deploy', f), path.join(dir, 'deploy', f));
  // What install.sh sources.
  fs.cpSync(path.join(SRC, 'deploy', 'lib'), path.join(dir, 'deploy', 'lib'), { recursive: true });
  // 0664/0775 as with a umask of 002 (a user's own group): group-writable files must not stay so.
  const r = spawnSync('sh', ['-c', `chown -R ${uid}:${uid} "$1" && chmod -R g+w "$1"`, 'sh', dir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return dir;
}

/** Every entry under `dir` (symlinks themselves, not followed) that is not root's or is group/other-writable. */
function notRootOnly(dir: string): string[] {
  const bad: string[] = [];
  const walk = (p: string): void => {
    const st = fs.lstatSync(p);
    if (st.uid !== 0 || st.gid !== 0) bad.push(`${p} owned by ${st.uid}:${st.gid}`);
    else if (!st.isSymbolicLink() && (st.mode & 0o022) !== 0) bad.push(`${p} mode ${(st.mode & 0o7777).toString(8)}`);
    if (st.isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
  };
  walk(dir);
  return bad;
}

const asRoot = noBuild === undefined && process.getuid?.() === 0 ? test.serial : test.serial.skip;
if (noBuild === undefined && process.getuid?.() !== 0) console.log('install from a checkout of another user skipped: needs root (chown)');
asRoot('installed from a checkout owned by another user, the program belongs to root and nobody else can write it', (t) => {
  const checkout = foreignCheckout(1000);
  const root = path.join(tmp, 'root-foreign');
  const r = spawnSync('bash', [path.join(checkout, 'deploy/install.sh'), '--root', root, '--skip-deps', '--skip-build', '--no-start'], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  t.is(r.status, 0, `${r.stdout}${r.stderr}`);
  t.true(fs.existsSync(path.join(root, 'opt/emotiond/dist/src/cli/main.js')));
  // The code runs as the service and, through /usr/local/bin/emotiond, as root: user 1000 must not edit it.
  const bad = [
    ...notRootOnly(path.join(root, 'opt/emotiond')),
    ...notRootOnly(path.join(root, 'usr/local/bin/emotiond')),
    ...notRootOnly(path.join(root, 'etc/systemd/system')),
  ];
  t.deepEqual(bad.slice(0, 20), [], `${bad.length} entries`);
});

withBuild('an update keeps the units the admin chose: instances stay, a disabled emotiond.service is not enabled again', (t) => {
  const root = path.join(tmp, 'root-switch');
  const args = ['--root', root, '--skip-deps', '--skip-build', '--no-start', '--config-example', EXAMPLE];
  const first = sh('install.sh', args);
  t.is(first.status, 0, first.out);
  const wants = path.join(root, 'etc/systemd/system/multi-user.target.wants');
  if (!isLink(path.join(wants, 'emotiond.service'))) {
    t.log('systemctl --root did not enable emotiond.service here (no systemctl): only the instance link is checked');
  }
  // README "Several cameras": systemctl disable emotiond; systemctl enable emotiond@cam1
  fs.rmSync(path.join(wants, 'emotiond.service'), { force: true });
  fs.mkdirSync(wants, { recursive: true });
  fs.symlinkSync('/etc/systemd/system/emotiond@.service', path.join(wants, 'emotiond@cam1.service'));
  // Its state where the previous template put it (StateDirectory=emotiond/cam1 under DynamicUser=).
  fs.mkdirSync(path.join(root, 'var/lib/private/emotiond/cam1'), { recursive: true });
  fs.writeFileSync(path.join(root, 'var/lib/private/emotiond/cam1/queue.jsonl'), '{"queued":1}\n');
  fs.mkdirSync(path.join(root, 'var/lib/emotiond'));
  fs.symlinkSync('../private/emotiond/cam1', path.join(root, 'var/lib/emotiond/cam1'));
  const update = sh('install.sh', args);
  t.is(update.status, 0, update.out);
  t.false(isLink(path.join(wants, 'emotiond.service')), update.out);
  t.true(isLink(path.join(wants, 'emotiond@cam1.service')));
  // Moved to the new place; /var/lib/emotiond is free for emotiond.service's link again.
  t.is(fs.readFileSync(path.join(root, 'var/lib/private/emotiond-cam1/queue.jsonl'), 'utf8'), '{"queued":1}\n');
  t.false(fs.existsSync(path.join(root, 'var/lib/emotiond')) || isLink(path.join(root, 'var/lib/emotiond')), update.out);
  t.false(fs.existsSync(path.join(root, 'var/lib/private/emotiond')));
  t.regex(update.out, /moved the state of emotiond@cam1 to \/var\/lib\/emotiond-cam1/);
});

test.serial('install.sh refuses a shared --prefix and unknown options', (t) => {
  for (const args of [['--prefix', '/usr'], ['--prefix', 'relative/dir'], ['--bogus']]) {
    const r = sh('install.sh', ['--root', path.join(tmp, 'refused'), ...args]);
    t.not(r.status, 0, args.join(' '));
    t.regex(r.out, /error/);
  }
});

withBuild('uninstall.sh removes everything but config and state; --purge removes those too', (t) => {
  fs.mkdirSync(at('var/lib/private/emotiond'), { recursive: true });
  fs.writeFileSync(at('var/lib/private/emotiond/queue.jsonl'), '');
  fs.symlinkSync('private/emotiond', at('var/lib/emotiond'));
  fs.mkdirSync(at('var/lib/private/emotiond-cam1'), { recursive: true });
  fs.symlinkSync('private/emotiond-cam1', at('var/lib/emotiond-cam1'));
  fs.mkdirSync(at('etc/systemd/system/multi-user.target.wants'), { recursive: true });
  fs.symlinkSync('/etc/systemd/system/emotiond@.service', at('etc/systemd/system/multi-user.target.wants/emotiond@cam1.service'));

  const r = sh('uninstall.sh', ['--root', ROOT]);
  t.is(r.status, 0, r.out);
  t.log(r.out.trim());
  for (const gone of [
    'opt/emotiond',
    'usr/local/bin/emotiond',
    'etc/systemd/system/emotiond.service',
    'etc/systemd/system/emotiond@.service',
    'etc/systemd/system/multi-user.target.wants/emotiond.service',
    'etc/systemd/system/multi-user.target.wants/emotiond@cam1.service',
  ]) {
    t.false(fs.existsSync(at(gone)) || isLink(at(gone)), `${gone} should be gone`);
  }
  t.true(fs.existsSync(at('etc/emotiond/config.json')));
  t.true(fs.existsSync(at('etc/emotiond/mqtt_password')));
  t.true(fs.existsSync(at('var/lib/private/emotiond/queue.jsonl')));

  const again = sh('uninstall.sh', ['--root', ROOT]);
  t.is(again.status, 0, again.out);

  const purge = sh('uninstall.sh', ['--root', ROOT, '--purge']);
  t.is(purge.status, 0, purge.out);
  for (const gone of ['etc/emotiond', 'var/lib/emotiond', 'var/lib/private/emotiond', 'var/lib/emotiond-cam1', 'var/lib/private/emotiond-cam1']) {
    t.false(fs.existsSync(at(gone)) || isLink(at(gone)), `${gone} should be gone`);
  }
});

withBuild('uninstall.sh never removes a prefix that install.sh did not make', (t) => {
  const foreign = path.join(tmp, 'foreign');
  fs.mkdirSync(path.join(foreign, 'srv/data'), { recursive: true });
  fs.writeFileSync(path.join(foreign, 'srv/data/keep'), 'x');
  const r = sh('uninstall.sh', ['--root', foreign, '--prefix', '/srv/data']);
  t.not(r.status, 0);
  t.regex(r.out, /not installed by install\.sh/);
  t.true(fs.existsSync(path.join(foreign, 'srv/data/keep')));
});

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
