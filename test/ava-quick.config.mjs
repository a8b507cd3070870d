// The fast tier (`npm run test:quick`, under 2 minutes on the 2-core development machine): package.json's ava
// settings, without the tests that boot containers or sandboxes, soak, train a model, open a browser, start the
// CLI as a process of its own or wait out real-time timeouts. `npm test` (the README's command, what CI runs) still runs everything.
import fs from 'node:fs';

const base = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')).ava;

/** Left to `npm test`, each with why. */
export const SLOW = {
  'deploy-live': 'boots a systemd container',
  'deploy-sandbox': 'runs the daemon under the unit sandbox',
  'deploy-install': 'installs into a staging root and runs the daemon from it',
  'deploy-package': 'builds the Debian package and installs it on a fresh root',
  'deploy-units': 'systemd-analyze over the units',
  soak: 'soak',
  'power-loss': 'SIGKILLs of the built daemon',
  memory: 'memory over a long run',
  'outbox-wear': 'write volume over a long outage',
  'model-recipe': 'trains a model',
  'model-distill': 'trains a model',
  'eval-integration': 'the whole evaluation',
  'http-dashboard': 'a real browser',
  preview: 'a real browser and the CLI',
  'ci-summary': 'a nested ava run',
  'tracking-clips': 'every frame of the reference clips',
  'camera-wedge': 'wedged camera: tens of seconds of real time',
  'watchdog-stuck-source': 'wedged source under a watchdog: real time',
  'source-stuck': 'abandoned reads: real time',
  'clock-jump': 'libfaketime and a live stream: real time',
  'deploy-daemon': 'the daemon as systemd runs it: stalls in real time',
  'restart-state': 'the CLI started and stopped several times',
  'credentials-canary': 'the CLI against live sources',
  'health-stall': 'a stall of 15 s',
  'http-guard': 'hostile clients: header timeouts, hundreds of streams',
  'startup-errors': 'the CLI started once per bad file',
  'cleartext-warning': 'the CLI started once per URL',
  'cli-print': 'the CLI to the end of the clip',
  logger: 'the CLI on and off the journal',
  'broker-helpers': 'brokers that never answer, killed workers',
  'suite-honesty': 'a nested ava run without the shared data',
  mood: 'the demo clip in real time',
  'daemon-camera-state': 'the demo clip in real time to its end',
  'privacy-counts': 'the demo clip in real time',
  'privacy-mosquitto': 'the demo clip in real time on mosquitto',
  'publish-outage': 'a broker outage in real time',
};

export default {
  ...base,
  files: [...base.files, ...Object.keys(SLOW).map((name) => `!test/${name}.test.ts`)],
};
