// Generates deploy/emotiond@.service (one instance per camera) from deploy/emotiond.service, so the two
// units, the same hardened service but for the lines below, never drift apart. Edit emotiond.service and run
// `npx tsx deploy/instance-unit.ts`; `--check` fails when emotiond@.service is out of date (a test runs it).
// Both files stay in deploy/: install.sh, the sandbox, systemd-analyze and the tests read them as they are.
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../src/system/paths.js';

/** What an instance changes: [what the single unit says, what the instance says instead]. Each must match once. */
const INSTANCE: Array<[string, string]> = [
  [
    '# emotiond: camera -> faces -> emotion events on MQTT, as a hardened systemd service.\n',
    [
      '# emotiond@NAME: one instance per camera, configured by /etc/emotiond/NAME.json, e.g.',
      '#   systemctl enable --now emotiond@cam1   (reads /etc/emotiond/cam1.json)',
      '# Give every instance its own device.id in its config file: two instances with the same id',
      '# (the default is the hostname) would share MQTT topics and a client id and keep evicting each other.',
      '# Everything else is as in emotiond.service: this file is generated from it (npx tsx deploy/instance-unit.ts).',
      '',
    ].join('\n'),
  ],
  ['# deploy/emotiond@.service (one instance per camera) is generated from this unit: npx tsx deploy/instance-unit.ts\n', ''],
  ['Local changes belong in a drop-in: systemctl edit emotiond\n', 'Local changes belong in a drop-in: systemctl edit emotiond@NAME\n'],
  ['Description=emotiond camera emotion events to MQTT\n', 'Description=emotiond camera emotion events to MQTT (%i)\n'],
  [' run --config /etc/emotiond/config.json\n', ' run --config /etc/emotiond/%i.json\n'],
  ['Environment=EMOTIOND_SYSTEM_STATE_DIR=%S/emotiond\n', 'Environment=EMOTIOND_SYSTEM_STATE_DIR=%S/emotiond-%i\n'],
  [
    '\nStateDirectory=emotiond\n',
    [
      '',
      '# Not emotiond/%i: under DynamicUser= emotiond.service makes /var/lib/emotiond a link into',
      '# /var/lib/private, which a directory of instances under it collides with (238/STATE_DIRECTORY).',
      'StateDirectory=emotiond-%i',
      '',
    ].join('\n'),
  ],
  [
    '\nDynamicUser=yes\nUser=emotiond\n',
    [
      '',
      '# Its own per instance (the default name would be "emotiond" for all of them): instances cannot read',
      "# each other's state. A user name has at most 31 characters: instance names at most 22, [A-Za-z0-9_-].",
      'DynamicUser=yes',
      'User=emotiond-%i',
      '',
    ].join('\n'),
  ],
];

/** emotiond@.service from the text of emotiond.service; throws naming a line that is no longer there once. */
export function instanceUnit(single: string): string {
  let out = single;
  for (const [from, to] of INSTANCE) {
    const n = out.split(from).length - 1;
    if (n !== 1) throw new Error(`emotiond.service: expected ${JSON.stringify(from.trim())} once, found it ${n} times (update deploy/instance-unit.ts)`);
    out = out.replace(from, () => to);
  }
  return out;
}

export const SINGLE_UNIT = 'deploy/emotiond.service';
export const INSTANCE_UNIT = 'deploy/emotiond@.service';

function main(): void {
  const root = projectRoot();
  const want = instanceUnit(fs.readFileSync(path.join(root, SINGLE_UNIT), 'utf8'));
  const file = path.join(root, INSTANCE_UNIT);
  if (process.argv.includes('--check')) {
    if (fs.readFileSync(file, 'utf8') === want) return;
    process.stderr.write(`out of date: ${INSTANCE_UNIT} (run: npx tsx deploy/instance-unit.ts)\n`);
    process.exit(1);
  }
  fs.writeFileSync(file, want);
}

if (process.argv[1] && import.meta.url.endsWith(path.basename(process.argv[1]))) main();
