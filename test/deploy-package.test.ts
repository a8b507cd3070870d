// The Debian package in CI (issue 27): deploy/package/build.sh builds the amd64 package of this machine's release
// (Debian 12 here; --host, with the checkout's node_modules pruned: --reuse-modules), and deploy/package/test.sh
// --quick installs it with apt on a fresh minimal root of that release and runs `emotiond demo` there to its first
// face_appeared. The four packages, the service under systemd, upgrades and the arm64 packages under qemu are
// `npm run check:packages` (by hand: an hour or more cold). About 6-10 minutes with an empty cache, 3 warm.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { firstMissing, testUnless } from './helpers/skip.js';

const SRC = path.resolve('.');
const CACHE = process.env.EMOTIOND_PACKAGE_CACHE ?? '/var/cache/emotiond-package';
const has = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const release = ((): string | undefined => {
  try {
    return /^VERSION_CODENAME=(\S+)$/m.exec(fs.readFileSync('/etc/os-release', 'utf8'))?.[1];
  } catch {
    return undefined;
  }
})();

const why = firstMissing(
  process.getuid?.() !== 0 && 'needs root (debootstrap, chroot, mounts)',
  process.arch !== 'x64' && `builds the amd64 package on an amd64 machine (this is ${process.arch})`,
  release !== 'bookworm' && release !== 'trixie' && `this machine is not Debian 12 or 13 (${release ?? 'no /etc/os-release'})`,
  ...['debootstrap', 'dh_installsystemd', 'lintian', 'patchelf', 'unshare'].map((t) => !has(t) && `${t} not found (deploy/setup.sh --test installs it)`),
  !fs.existsSync(path.join(SRC, 'node_modules/@u4/opencv4nodejs/build/Release/opencv4nodejs.node')) && 'node_modules is not built (deploy/setup.sh)',
  !fs.existsSync(path.join(SRC, 'deploy/demo/demo-faces.avi')) && 'deploy/demo/demo-faces.avi is missing (deploy/setup.sh makes it)',
);
if (why) console.log(`deploy-package test skipped: ${why}`);

/** Runs a script to its end; its output, exit code and last line. */
async function run(args: string[]): Promise<{ code: number | null; out: string; last: string }> {
  const child = spawn('bash', args, { cwd: SRC, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  return { code, out, last: out.trim().split('\n').at(-1) ?? '' };
}

const dpkgDeb = (...args: string[]): string => spawnSync('dpkg-deb', args, { encoding: 'utf8', maxBuffer: 64 << 20 }).stdout;

testUnless(why, { serial: true })(
  `the ${release ?? ''} amd64 package builds lintian-clean, installs with apt on a fresh root and its demo prints face_appeared`,
  async (t) => {
    t.timeout(30 * 60_000);
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'emd-package-'));
    t.teardown(() => fs.rmSync(out, { recursive: true, force: true }));

    const built = await run([
      'deploy/package/build.sh',
      '--release',
      release as string,
      '--arch',
      'amd64',
      '--host',
      '--reuse-modules',
      '--out',
      out,
      '--cache',
      CACHE,
    ]);
    t.log(built.last);
    t.is(built.code, 0, built.out.slice(-3000));
    const deb = /\| (\/\S+\.deb) \|/.exec(built.last)?.[1] ?? '';
    t.true(fs.existsSync(deb), `no .deb in: ${built.last}`);

    // What is in it, and what it asks for.
    t.true(fs.statSync(deb).size <= 60 * 1024 * 1024, `${fs.statSync(deb).size} bytes`);
    const files = dpkgDeb('-c', deb);
    for (const f of [
      './usr/lib/emotiond/node/bin/node',
      './usr/bin/emotiond',
      './etc/emotiond/config.json',
      './usr/lib/emotiond/deploy/demo/demo-faces.avi',
      './usr/lib/emotiond/dist/src/cli/main.js',
    ]) {
      t.true(files.includes(` ${f}\n`), `${f} is in the package`);
    }
    t.regex(files, /\/systemd\/system\/emotiond\.service\n/);
    t.regex(files, /\/systemd\/system\/emotiond@\.service\n/);
    for (const dev of ['typescript', 'tsx', 'ava', 'playwright-core', 'esbuild'])
      t.false(files.includes(`/node_modules/${dev}/`), `${dev} is not in the package`);
    t.false(/onnxruntime-node\/bin\/napi-v6\/(darwin|win32|linux\/arm64)\//.test(files), 'onnxruntime only for linux/x64');
    t.regex(dpkgDeb('-I', deb, 'conffiles'), /^\/etc\/emotiond\/config\.json$/m);
    const depends = dpkgDeb('-f', deb, 'Depends').trim();
    t.log(`Depends: ${depends}`);
    t.regex(depends, /libopencv-core\d/);
    t.notRegex(depends, /-dev\b|python|npm|nodejs|\bgcc\b|g\+\+/);
    for (const script of ['postinst', 'prerm', 'postrm'])
      t.regex(dpkgDeb('-I', deb, script), /deb-systemd-(helper|invoke)/, `${script} has dh_installsystemd's snippet`);
    t.notRegex(fs.readFileSync(deb.replace(/\.deb$/, '.lintian'), 'utf8'), /^[EW]: /m, 'no lintian error or warning');

    const tested = await run(['deploy/package/test.sh', '--deb', deb, '--quick', '--cache', CACHE]);
    t.log(tested.last);
    t.is(tested.code, 0, tested.out.slice(-3000));
    t.regex(tested.last, /: ok \| apt install pulled \d+ packages .*no compiler, -dev, Python or npm/);
    t.regex(tested.last, /first face_appeared: cold [\d.]+ s/);
  },
);
