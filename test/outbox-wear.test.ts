// The queue file must not wear an SD card during an outage: each event should be written about once, not
// the whole queue again at every flush. Measured as the bytes this process hands to write(2)
// (/proc/self/io wchar) while an outbox with a file takes 60 flushes' worth of events. This file holds
// only this test, so no other test's writes are counted.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { Outbox } from '../src/outbox/outbox.js';
import { captureLogger, makeEvent, tmpDir } from './publish-helpers.js';

const haveProcIo = fs.existsSync('/proc/self/io');
if (!haveProcIo) console.log('outbox wear test skipped: /proc/self/io is Linux only');
const wearTest = haveProcIo ? test : test.skip;

function wchar(): number {
  return Number(/^wchar: (\d+)$/m.exec(fs.readFileSync('/proc/self/io', 'utf8'))?.[1]);
}

wearTest('a 60-flush outage writes each queued event about once (append), not the whole queue every flush', async (t) => {
  const file = path.join(tmpDir(), 'queue.jsonl');
  const box = new Outbox({ max: 10_000, file, logger: captureLogger().logger, persistDelayMs: 60_000 });
  box.load();
  const FLUSHES = 60;
  const PER_FLUSH = 10;
  let payloadBytes = 0;
  const start = wchar();
  for (let s = 0; s < FLUSHES; s++) {
    for (let i = 0; i < PER_FLUSH; i++) {
      const payload = JSON.stringify(makeEvent(s * PER_FLUSH + i));
      payloadBytes += payload.length + 1;
      box.push(payload);
    }
    // What the 1 s persist timer does once a second during the outage.
    await box.persist();
  }
  const written = wchar() - start;
  const events = FLUSHES * PER_FLUSH;
  t.log(
    `${events} events of ${Math.round(payloadBytes / events)} B: ${written} B written, ${(written / events).toFixed(0)} B/event, ${(written / payloadBytes).toFixed(2)}x the events`,
  );
  t.is(box.length, events);
  t.true(written >= payloadBytes, 'every event reached the file');
  t.true(written < 1.5 * payloadBytes, `${(written / payloadBytes).toFixed(2)}x the event bytes written`);
  await box.close();
});
