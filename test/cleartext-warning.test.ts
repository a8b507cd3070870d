// A password that would cross the network in clear text is named at start (#28): `emotiond run`, a process of
// its own, with a broker beyond loopback over mqtt:// and a password warns; mqtts:// and loopback do not.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { spawnDaemon } from './helpers/daemon-process.js';
import { freePort } from './helpers/ports.js';
import { missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { waitUntil } from './helpers/wait.js';

const clip = path.resolve('deploy/demo/demo-faces.avi');
const noRun = firstMissing(missingModel(), !fs.existsSync(clip) && `${clip} not found (deploy/setup.sh makes it)`);
const WARNING = /in clear text/;

/** Runs the daemon until it logged `running`; returns its warn lines. */
async function warnings(t: ExecutionContext, args: string[]): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-cleartext-'));
  const pw = path.join(dir, 'mqtt_password');
  fs.writeFileSync(pw, 'pw-that-must-not-show\n');
  const d = spawnDaemon([
    '--source',
    clip,
    '--source-loop',
    '--classifier-model',
    testModel() ?? '',
    '--system-state-dir',
    dir,
    '--mqtt-username',
    'emotiond',
    '--mqtt-password-file',
    pw,
    ...args,
  ]);
  t.teardown(() => void d.child.kill('SIGKILL'));
  await waitUntil(() => d.logs().some((l) => l['msg'] === 'running'), 60_000, `the running line\n${d.stderr().slice(-2000)}`);
  await d.stop();
  t.false(d.stderr().includes('pw-that-must-not-show'));
  return d
    .logs()
    .filter((l) => l['level'] === 40)
    .map((l) => String(l['msg']));
}

testUnless(noRun)('a password over plain mqtt:// or ws:// to a broker beyond loopback is warned about at start', async (t) => {
  const plain = await warnings(t, ['--mqtt-url', 'mqtt://192.0.2.10:1883']);
  t.true(
    plain.some((w) => /^mqtt\.url mqtt:\/\/192\.0\.2\.10:1883: the MQTT password goes to 192\.0\.2\.10 in clear text; use mqtts:\/\//.test(w)),
    plain.join('\n'),
  );
  const ws = await warnings(t, ['--mqtt-url', 'ws://broker.example:8080/mqtt']);
  t.true(
    ws.some((w) => /the MQTT password goes to broker\.example in clear text; use wss:\/\//.test(w)),
    ws.join('\n'),
  );
  const embedded = await warnings(t, ['--mqtt-embedded', '--mqtt-embedded-host', '0.0.0.0', '--mqtt-embedded-port', String(await freePort())]);
  t.true(
    embedded.some((w) => /^mqtt\.embedded_host 0\.0\.0\.0: clients send the embedded broker their password in clear text/.test(w)),
    embedded.join('\n'),
  );
});

testUnless(noRun)('no warning over TLS, or to a broker on this machine', async (t) => {
  for (const url of ['mqtts://192.0.2.10:8883', 'wss://broker.example/mqtt', 'mqtt://127.0.0.1:1', 'mqtt://localhost:1']) {
    const w = await warnings(t, ['--mqtt-url', url]);
    t.false(
      w.some((x) => WARNING.test(x)),
      `${url}: ${w.join('\n')}`,
    );
  }
});
