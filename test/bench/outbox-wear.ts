// `npm run outbox-wear`: how many bytes the MQTT queue file costs per event during a broker outage.
// A real publisher with `mqtt.queue_file` connects to an in-process broker, the broker goes away, and real
// event objects are produced at a steady rate for the outage; the bytes this process wrote meanwhile are
// read from /proc/self/io (wchar: bytes handed to write(2); write_bytes: bytes the page cache sent to
// storage). Logging is off, so the queue file is what writes.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { EmbeddedBroker } from '../../src/broker/embedded-broker.js';
import { MqttPublisher } from '../../src/mqtt/mqtt-publisher.js';
import { PayloadValidator } from '../../src/contract/validate.js';
import { zeroScores, type EmotionEvent } from '../../src/types.js';

const USAGE = `usage: npm run outbox-wear -- [--seconds 60] [--rate 5] [--dir DIR]
  --seconds S  length of the outage (default 60)
  --rate R     events per second during it (default 5)
  --dir DIR    state directory for the queue file (default: a new directory under /var/tmp; use a disk,
               not a tmpfs, or write_bytes stays 0)`;

interface Io {
  wchar: number;
  write_bytes: number;
}

function readIo(): Io {
  const text = fs.readFileSync('/proc/self/io', 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { wchar: field('wchar'), write_bytes: field('write_bytes') };
}

/** Event number i, cycling through the three event types, as the daemon makes them. */
function makeEvent(i: number): EmotionEvent {
  const base = {
    id: `weartest-1700000000-${i}`,
    device: 'weartest',
    track: 1 + (i % 3),
    time: new Date().toISOString(),
    box: { x: 120 + (i % 50), y: 80, width: 96, height: 96 },
  };
  const scores = { ...zeroScores(), Happy: 0.61, Neutral: 0.27, Surprise: 0.12 };
  if (i % 3 === 0) return { ...base, type: 'face_appeared', emotion: 'Happy', scores };
  if (i % 3 === 1) return { ...base, type: 'emotion_changed', before: 'Neutral', after: 'Happy', scores };
  return { ...base, type: 'face_gone', duration_s: 12.4, dominant: 'Happy', shares: { ...zeroScores(), Happy: 0.7, Neutral: 0.3 } };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '60' }, rate: { type: 'string', default: '5' }, dir: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help) return void process.stdout.write(`${USAGE}\n`);
  const seconds = Number(values.seconds);
  const rate = Number(values.rate);
  if (!(seconds > 0 && rate > 0)) throw new Error(`--seconds and --rate must be positive numbers\n${USAGE}`);
  const dir = values.dir ?? fs.mkdtempSync(path.join(fs.existsSync('/var/tmp') ? '/var/tmp' : os.tmpdir(), 'emotiond-wear-'));
  const check = new PayloadValidator().validate('event', makeEvent(0));
  if (!check.ok) throw new Error(`the synthetic event does not match the event schema: ${check.error ?? ''}`);

  const logger = pino({ level: 'silent' });
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0, wsPort: 0, logger });
  await broker.start();
  const { config } = loadConfig({
    env: {},
    flags: {
      'device.id': 'weartest',
      'system.state_dir': dir,
      'mqtt.url': broker.url,
      'mqtt.protocol_version': '4',
      'mqtt.discovery': false,
      'mqtt.queue_file': 'outbox.jsonl',
    },
  });
  const publisher = new MqttPublisher({ config, logger, version: 'wear' });
  await publisher.start();
  await publisher.whenConnected();
  await broker.stop();
  while (publisher.connected) await sleep(10);

  const before = readIo();
  let produced = 0;
  let payloadBytes = 0;
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * rate);
    for (; produced < due; produced++) {
      const e = makeEvent(produced);
      payloadBytes += Buffer.byteLength(JSON.stringify(e)) + 1;
      publisher.event(e);
    }
    await sleep(Math.max(5, 1000 / rate / 2));
  }
  await sleep(1500); // the last batch reaches the file (it is written at most 1 s after a change)
  const during = readIo();
  await publisher.stop(100);
  const after = readIo();
  const fileBytes = fs.statSync(path.join(dir, 'outbox.jsonl'), { throwIfNoEntry: false })?.size ?? 0;
  fs.rmSync(dir, { recursive: true, force: true });

  const per = (n: number): string => (n / produced).toFixed(0);
  const lines = [
    `outage ${seconds} s, ${produced} events at ${rate}/s, ${per(payloadBytes)} bytes per event line`,
    `during the outage: wchar ${during.wchar - before.wchar} B (${per(during.wchar - before.wchar)} B/event, ${((during.wchar - before.wchar) / payloadBytes).toFixed(2)}x the events), write_bytes ${during.write_bytes - before.write_bytes} B (${per(during.write_bytes - before.write_bytes)} B/event)`,
    `at the clean stop: wchar ${after.wchar - during.wchar} B, write_bytes ${after.write_bytes - during.write_bytes} B; queue file left: ${fileBytes} B`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`outbox-wear: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
