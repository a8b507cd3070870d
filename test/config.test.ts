import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { loadConfig, settings } from '../src/config/load.js';
import { parseArgs } from '../src/cli/args.js';
import { EmotiondError } from '../src/errors.js';

function tmpFile(content: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emotiond-cfg-'));
  const f = path.join(dir, 'config.json');
  fs.writeFileSync(f, content);
  return f;
}

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof EmotiondError) return `${err.code} ${err.message}`;
    throw err;
  }
  throw new Error('expected an error');
}

test('defaults load without a file', (t) => {
  const { config } = loadConfig({ file: undefined, env: {} });
  t.is(config.mqtt.url, 'mqtt://localhost:1883');
  t.is(config.tracker.confirm_hits, 3);
});

test('precedence: default < file < env < flag', (t) => {
  const f = tmpFile(JSON.stringify({ mqtt: { url: 'mqtt://file:1883', qos: 0 }, device: { id: 'fromfile' } }));
  const env = { EMOTIOND_MQTT_URL: 'mqtt://env:1883', EMOTIOND_DEVICE_ID: 'fromenv' };
  const { config, origin } = loadConfig({ file: f, env, flags: { 'device.id': 'fromflag' } });
  t.is(config.mqtt.url, 'mqtt://env:1883');
  t.is(config.mqtt.qos, 0);
  t.is(config.device.id, 'fromflag');
  t.is(origin.get('mqtt.qos'), `file ${f}`);
});

test('every setting has an EMOTIOND_ variable and it is applied', (t) => {
  const all = settings();
  t.true(all.length > 40);
  t.true(all.every((s) => /^EMOTIOND_[A-Z0-9_]+$/.test(s.env)));
  const { config } = loadConfig({ env: { EMOTIOND_DETECTOR_SCALE_FACTOR: '1.2', EMOTIOND_SOURCE_LOOP: 'true', EMOTIOND_EVENTS_PRINT: '1' } });
  t.is(config.detector.scale_factor, 1.2);
  t.true(config.source.loop);
  t.true(config.events.print);
});

test('unknown keys in the file are rejected, naming the key and the file', (t) => {
  const f = tmpFile(JSON.stringify({ mqtt: { urll: 'mqtt://x:1' } }));
  const msg = failure(() => loadConfig({ file: f, env: {} }));
  t.regex(msg, /EMD_CONFIG_INVALID/);
  t.regex(msg, /mqtt\.urll: unknown key/);
  t.true(msg.includes(f));
});

const bad: Array<[string, Record<string, string>, RegExp]> = [
  [
    'out of range number',
    { EMOTIOND_DETECTOR_SCALE_FACTOR: '5' },
    /detector\.scale_factor = 5 \(from env EMOTIOND_DETECTOR_SCALE_FACTOR\): must be a number from 1\.01 to 2/,
  ],
  ['not a number', { EMOTIOND_TRACKER_CONFIRM_HITS: 'three' }, /tracker\.confirm_hits = "three"/],
  ['non-integer where an integer is needed', { EMOTIOND_TRACKER_MAX_MISSES: '2.5' }, /tracker\.max_misses = 2\.5.*integer/],
  ['not in enum', { EMOTIOND_MQTT_QOS: '3' }, /mqtt\.qos = 3/],
  ['bad boolean', { EMOTIOND_SOURCE_LOOP: 'maybe' }, /source\.loop = "maybe"/],
  ['bad URL', { EMOTIOND_MQTT_URL: 'localhost:1883' }, /mqtt\.url = "localhost:1883".*mqtt:\/\/host/],
  ['bad device id', { EMOTIOND_DEVICE_ID: 'a b/c' }, /device\.id = "a b\/c"/],
  ['empty source', { EMOTIOND_SOURCE_URI: ' ' }, /source\.uri/],
  ['bad topic', { EMOTIOND_MQTT_BASE_TOPIC: 'a/#' }, /mqtt\.base_topic/],
  ['bad log level', { EMOTIOND_LOG_LEVEL: 'loud' }, /log\.level = "loud"/],
  ['bad fourcc', { EMOTIOND_SOURCE_FOURCC: 'MJPEG' }, /source\.fourcc/],
  ['inconsistent back-off', { EMOTIOND_SOURCE_REOPEN_MIN_S: '10', EMOTIOND_SOURCE_REOPEN_MAX_S: '2' }, /reopen_max_s = 2.*must not be below/],
  [
    'inconsistent MQTT back-off',
    { EMOTIOND_MQTT_RECONNECT_MIN_S: '5', EMOTIOND_MQTT_RECONNECT_MAX_S: '2' },
    /mqtt\.reconnect_max_s = 2 \(from env EMOTIOND_MQTT_RECONNECT_MAX_S\).*must not be below mqtt\.reconnect_min_s/,
  ],
  ['inconsistent face sizes', { EMOTIOND_DETECTOR_MIN_SIZE: '0.5', EMOTIOND_DETECTOR_MAX_SIZE: '0.2' }, /max_size = 0\.2.*must not be below/],
];
for (const [name, env, re] of bad) {
  test(`bad value is rejected with key, value and origin: ${name}`, (t) => {
    t.regex(
      failure(() => loadConfig({ env })),
      re,
    );
  });
}

test('a wrong type in the file names the file', (t) => {
  const f = tmpFile(JSON.stringify({ tracker: { confirm_hits: '3' } }));
  const msg = failure(() => loadConfig({ file: f, env: {} }));
  t.regex(msg, /tracker\.confirm_hits = "3" \(from file .*config\.json\)/);
});

test('a file that is not JSON, or missing, is named', (t) => {
  t.regex(
    failure(() => loadConfig({ file: tmpFile('{ nope'), env: {} })),
    /EMD_CONFIG_FILE .*config\.json: not valid JSON/,
  );
  t.regex(
    failure(() => loadConfig({ file: '/nonexistent/x.json', env: {} })),
    /EMD_CONFIG_FILE .*\/nonexistent\/x\.json/,
  );
  t.regex(
    failure(() => loadConfig({ file: tmpFile('[1,2]'), env: {} })),
    /top level must be a JSON object/,
  );
});

test('command line: documented flags map to settings', (t) => {
  const a = parseArgs([
    'run',
    '--config',
    '/tmp/c.json',
    '--source',
    'clip.avi',
    '--mqtt-url=mqtt://h:1883',
    '--device-id',
    'kiosk',
    '--print',
    '--no-source-loop',
    '--tracker-confirm-hits',
    '4',
  ]);
  t.is(a.command, 'run');
  t.is(a.configFile, '/tmp/c.json');
  t.deepEqual(a.flags, {
    'source.uri': 'clip.avi',
    'mqtt.url': 'mqtt://h:1883',
    'device.id': 'kiosk',
    'events.print': true,
    'source.loop': false,
    'tracker.confirm_hits': '4',
  });
  const { config } = loadConfig({ env: {}, flags: a.flags });
  t.is(config.tracker.confirm_hits, 4);
});

test('command line: unknown options and commands are rejected', (t) => {
  t.regex(
    failure(() => parseArgs(['--bogus'])),
    /unknown option --bogus/,
  );
  t.regex(
    failure(() => parseArgs(['launch'])),
    /unexpected argument "launch"/,
  );
  t.regex(
    failure(() => parseArgs(['--source'])),
    /--source needs a value/,
  );
});

test('redacted config hides URL credentials and keys', (t) => {
  const { redacted } = loadConfig({ env: { EMOTIOND_MQTT_URL: 'mqtts://user:secret@broker:8883', EMOTIOND_MQTT_KEY_FILE: '/k.pem' } });
  const r = redacted();
  t.false(JSON.stringify(r).includes('secret'));
  t.is(r.mqtt.key_file, '[redacted]');
});

test('boolean flags: --flag, --flag true|false, --flag=true|false and --no-flag', (t) => {
  const cases: Array<[string[], boolean]> = [
    [['--source-loop'], true],
    [['--source-loop', 'true'], true],
    [['--source-loop', 'false'], false],
    [['--source-loop', 'FALSE'], false],
    [['--source-loop=true'], true],
    [['--source-loop=false'], false],
    [['--no-source-loop'], false],
  ];
  for (const [argv, want] of cases) {
    const a = parseArgs(['run', ...argv]);
    t.is(a.flags['source.loop'], want, argv.join(' '));
    t.is(loadConfig({ env: {}, flags: a.flags }).config.source.loop, want, argv.join(' '));
  }
  t.deepEqual(parseArgs(['--print', 'false']).flags, { 'events.print': false });
  t.deepEqual(parseArgs(['--print=true']).flags, { 'events.print': true });
  t.deepEqual(parseArgs(['--no-print']).flags, { 'events.print': false });
});

test('boolean flags: a following option or command is not taken as the value', (t) => {
  const a = parseArgs(['--print', '--source-loop', '--source', 'clip.avi', '--mqtt-discovery']);
  t.deepEqual(a.flags, { 'events.print': true, 'source.loop': true, 'source.uri': 'clip.avi', 'mqtt.discovery': true });
  const b = parseArgs(['--print', 'check-config']);
  t.is(b.command, 'check-config');
  t.deepEqual(b.flags, { 'events.print': true });
});

test('boolean flags: a value that is not a boolean is a clear error', (t) => {
  t.regex(
    failure(() => parseArgs(['run', '--source-loop', 'notabool'])),
    /EMD_CONFIG_INVALID .*--source-loop takes true or false, not "notabool"/,
  );
  t.regex(
    failure(() => parseArgs(['--print=maybe'])),
    /--print takes true or false, not "maybe"/,
  );
  t.regex(
    failure(() => parseArgs(['--no-print=true'])),
    /--no-print takes no value/,
  );
});

test('a non-loopback embedded broker needs mqtt.username and mqtt.password_file', (t) => {
  const open = { 'mqtt.embedded': true, 'mqtt.embedded_host': '0.0.0.0' };
  let msg = failure(() => loadConfig({ env: {}, flags: open }));
  t.regex(msg, /EMD_CONFIG_INVALID/);
  t.regex(msg, /mqtt\.embedded_host = "0\.0\.0\.0" \(from flag --mqtt-embedded-host\)/);
  t.regex(msg, /missing: mqtt\.username, mqtt\.password_file/);
  msg = failure(() => loadConfig({ env: { EMOTIOND_MQTT_USERNAME: 'kiosk' }, flags: { ...open, 'mqtt.embedded_host': '192.168.1.5' } }));
  t.regex(msg, /mqtt\.embedded_host = "192\.168\.1\.5".*missing: mqtt\.password_file\)$/m);
  t.regex(
    failure(() => loadConfig({ env: {}, flags: { ...open, 'mqtt.embedded_host': '::' } })),
    /mqtt\.embedded_host = "::"/,
  );
  // With both set it is accepted; loopback stays open without credentials; a broker that is off is not checked.
  t.notThrows(() => loadConfig({ env: {}, flags: { ...open, 'mqtt.username': 'kiosk', 'mqtt.password_file': 'mqtt_password' } }));
  for (const host of ['127.0.0.1', '127.8.9.10', '::1', 'localhost', '0:0:0:0:0:0:0:1']) {
    t.notThrows(() => loadConfig({ env: {}, flags: { ...open, 'mqtt.embedded_host': host } }), host);
  }
  t.notThrows(() => loadConfig({ env: {}, flags: { 'mqtt.embedded_host': '0.0.0.0' } }));
  t.notThrows(() => loadConfig({ env: {}, flags: { ...open, 'mqtt.enabled': false } }));
});

test('http.allowed_hosts takes names and name:port; a bad port or a URL is named', (t) => {
  const ok = loadConfig({ file: tmpFile('{}'), env: { EMOTIOND_HTTP_ALLOWED_HOSTS: 'kiosk-1.lan, localhost:8080 [::1]:8443' } });
  t.is(ok.config.http.allowed_hosts, 'kiosk-1.lan, localhost:8080 [::1]:8443');
  for (const bad of ['localhost:99999', 'localhost:0', 'http://kiosk-1.lan', 'kiosk-1.lan:80:80'])
    t.regex(
      failure(() => loadConfig({ file: tmpFile('{}'), env: { EMOTIOND_HTTP_ALLOWED_HOSTS: bad } })),
      /http\.allowed_hosts.*name:port/,
      bad,
    );
});
