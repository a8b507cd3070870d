// The systemd units: `systemd-analyze verify` is clean and the offline security exposure stays <= 2.0.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { instanceUnit } from '../deploy/instance-unit.js';

const DEPLOY = path.resolve('deploy');
const UNITS = ['emotiond.service', 'emotiond@.service'];
const MAX_EXPOSURE = 2.0;

const haveAnalyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;
const analyze = haveAnalyze ? test : test.skip;
if (!haveAnalyze) console.log('systemd-analyze not found: unit verification and security tests skipped');

function run(args: string[]): { status: number | null; out: string } {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8', env: { ...process.env, SYSTEMD_COLORS: '0', SYSTEMD_PAGER: '' } });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** Lines of `systemd-analyze verify` output that are about our files (a real host may warn about others). */
function ourWarnings(out: string): string[] {
  return out.split('\n').filter((l) => l.trim() !== '' && /emotiond/.test(l));
}

/** Key=value lines of a unit, by key (a key may repeat). */
function directives(file: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!m?.[1]) continue;
    map.set(m[1], [...(map.get(m[1]) ?? []), m[2] ?? '']);
  }
  return map;
}

for (const unit of UNITS) {
  analyze(`${unit}: systemd-analyze verify is clean`, (t) => {
    const r = run(['verify', path.join(DEPLOY, unit)]);
    t.is(r.status, 0, r.out);
    t.deepEqual(ourWarnings(r.out), []);
  });

  analyze(`${unit}: systemd-analyze security --offline exposure <= ${MAX_EXPOSURE}`, (t) => {
    const r = run(['security', '--offline=yes', '--no-pager', path.join(DEPLOY, unit)]);
    const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(r.out);
    t.truthy(m, r.out);
    const score = Number(m?.[1]);
    t.log(`${unit}: exposure ${score}`);
    t.true(score <= MAX_EXPOSURE, `exposure ${score} > ${MAX_EXPOSURE}\n${r.out}`);
  });

  test(`${unit}: notify, watchdog, restart policy, credentials and the settings V8 needs`, (t) => {
    const d = directives(path.join(DEPLOY, unit));
    const one = (k: string): string | undefined => d.get(k)?.at(-1);
    t.is(one('Type'), 'notify');
    t.is(one('NotifyAccess'), 'main');
    t.regex(one('WatchdogSec') ?? '', /^\d+s?$/);
    t.is(one('Restart'), 'on-failure');
    t.is(one('RestartPreventExitStatus'), '78');
    t.is(one('DynamicUser'), 'yes');
    t.is(one('SupplementaryGroups'), 'video');
    t.is(one('DevicePolicy'), 'closed');
    t.true(d.get('DeviceAllow')?.includes('char-video4linux rw'));
    t.is(one('CapabilityBoundingSet'), '');
    t.is(one('ProtectSystem'), 'strict');
    t.is(one('UMask'), '0077');
    t.regex(one('LoadCredential') ?? '', /^mqtt_password:\/etc\/emotiond\/mqtt_password$/);
    t.true(d.get('Environment')?.includes('ORT_DISABLE_TELEMETRY=1'));
    // V8's JIT writes code: W^X would kill node at start.
    t.false(d.has('MemoryDenyWriteExecute'));
    t.regex(one('ExecStart') ?? '', /^\/usr\/bin\/node \/opt\/emotiond\/dist\/src\/cli\/main\.js run --config \/etc\/emotiond\/\S+\.json$/);
  });
}

test('emotiond@.service is generated from emotiond.service: they differ only where an instance must', (t) => {
  const single = fs.readFileSync(path.join(DEPLOY, 'emotiond.service'), 'utf8');
  t.is(fs.readFileSync(path.join(DEPLOY, 'emotiond@.service'), 'utf8'), instanceUnit(single), 'run: npx tsx deploy/instance-unit.ts');
  // A line of the single unit that the generator expects and no longer finds is an error, not a silent copy.
  t.throws(() => instanceUnit(single.replace('StateDirectory=emotiond\n', 'StateDirectory=other\n')), { message: /StateDirectory=emotiond/ });
});

test('emotiond@.service: one config, state directory and state_dir per instance', (t) => {
  const d = directives(path.join(DEPLOY, 'emotiond@.service'));
  t.regex(d.get('ExecStart')?.[0] ?? '', /--config \/etc\/emotiond\/%i\.json$/);
  t.deepEqual(d.get('StateDirectory'), ['emotiond-%i']);
  t.true(d.get('Environment')?.includes('EMOTIOND_SYSTEM_STATE_DIR=%S/emotiond-%i'));
});

analyze('an instance of the template (emotiond@cam1) verifies and scores the same', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emd-units-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const instance = path.join(dir, 'emotiond@cam1.service');
  fs.copyFileSync(path.join(DEPLOY, 'emotiond@.service'), instance);
  const v = run(['verify', instance]);
  t.is(v.status, 0, v.out);
  t.deepEqual(ourWarnings(v.out), []);
  const s = run(['security', '--offline=yes', '--no-pager', instance]);
  const score = Number(/Overall exposure level for emotiond@cam1\.service: (\d+(?:\.\d+)?)/.exec(s.out)?.[1]);
  t.true(score <= MAX_EXPOSURE, s.out);
});

/** Key=value lines of one [Section] of a unit, by key. */
function section(file: string, name: string): Map<string, string[]> {
  const map = new Map<string, string[]>();
  let current = '';
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const head = /^\[(\w+)\]$/.exec(line);
    if (head?.[1]) current = head[1];
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (current !== name || !m?.[1]) continue;
    map.set(m[1], [...(map.get(m[1]) ?? []), m[2] ?? '']);
  }
  return map;
}

/** systemd time span ("90", "30s", "5min", "1h") in seconds. */
function seconds(span: string | undefined): number {
  const m = /^(\d+)\s*(s|sec|min|m|h)?$/.exec(span ?? '');
  if (!m) return Number.NaN;
  return Number(m[1]) * ({ min: 60, m: 60, h: 3600 }[m[2] ?? ''] ?? 1);
}

for (const unit of UNITS) {
  test(`${unit}: a failure that repeats reaches the start limit instead of restarting forever`, (t) => {
    const unitSec = section(path.join(DEPLOY, unit), 'Unit');
    const service = section(path.join(DEPLOY, unit), 'Service');
    // systemd's defaults (10 s, 5 starts) are never reached by a restart every RestartSec=5.
    const interval = seconds(unitSec.get('StartLimitIntervalSec')?.at(-1) ?? '10');
    const burst = Number(unitSec.get('StartLimitBurst')?.at(-1) ?? '5');
    const restartSec = seconds(service.get('RestartSec')?.at(-1));
    t.false(service.has('StartLimitIntervalSec'), 'StartLimit*= belong in [Unit]');
    // Starts by hand count too (systemctl restart while editing the config): a few must not hit the limit.
    t.true(burst >= 8, `StartLimitBurst=${burst}`);
    // A daemon that fails within 25 s of each start (model load and first frames on a Pi) reaches it.
    t.true(burst * (restartSec + 25) <= interval, `${burst} x (RestartSec=${restartSec} s + 25 s) must fit in StartLimitIntervalSec=${interval} s`);
  });

  test(`${unit}: /proc/cpuinfo stays visible (onnxruntime's cpuinfo prints errors and loses the CPU model without it)`, (t) => {
    t.not(section(path.join(DEPLOY, unit), 'Service').get('ProcSubset')?.at(-1), 'pid');
  });
}

test('emotiond@.service and emotiond.service: no shared state directory, and a dynamic user of its own per instance', (t) => {
  const single = section(path.join(DEPLOY, 'emotiond.service'), 'Service');
  const template = section(path.join(DEPLOY, 'emotiond@.service'), 'Service');
  const instance = (v: string | undefined, name: string): string => (v ?? '').replaceAll('%i', name);
  const singleState = single.get('StateDirectory')?.at(-1) ?? '';
  const states = ['cam1', 'cam2'].map((n) => instance(template.get('StateDirectory')?.at(-1), n));
  // DynamicUser= makes each state directory a link into /var/lib/private: one must not be inside another.
  for (const s of states) {
    t.false(s.startsWith(`${singleState}/`) || singleState.startsWith(`${s}/`), `${s} vs ${singleState}`);
    t.true(template.get('Environment')?.includes(`EMOTIOND_SYSTEM_STATE_DIR=%S/${template.get('StateDirectory')?.at(-1)}`));
  }
  t.not(states[0], states[1]);
  // Without User= every instance gets the user named after the unit prefix ("emotiond"): one uid for all.
  t.is(template.get('DynamicUser')?.at(-1), 'yes');
  const users = ['cam1', 'cam2'].map((n) => instance(template.get('User')?.at(-1), n));
  t.regex(users[0] ?? '', /^[A-Za-z_][A-Za-z0-9_-]*$/);
  t.not(users[0], users[1]);
  t.false(users.includes(single.get('User')?.at(-1) ?? 'emotiond'));
});
