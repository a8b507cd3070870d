// A full card (issue #33 item 2): the state directory is a small tmpfs that the test fills until the kernel says
// ENOSPC, while the broker is away. The real publisher keeps running, keeps events in memory within
// mqtt.queue_max (the oldest dropped and counted), says so once in the log and in its stats, never leaves a damaged
// or partial queue file or a temp file behind, writes the file again when space returns, and delivers everything
// it kept, in order, when the broker comes back.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { MqttPublisher } from '../src/mqtt/mqtt-publisher.js';
import { parseQueue } from '../src/outbox/queue-file.js';
import { captureLogger, eventIds, gate, makeEvent, sleep, startBroker, subscribe, testConfig, waitUntil } from './publish-helpers.js';
import { fill, mountTmpfs, tmpfsMissing } from './helpers/tmpfs.js';
import { testUnless } from './helpers/skip.js';

const FAST = { minMs: 100, maxMs: 200 };
const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);
const idsOf = (lines: string[]): number[] => lines.map((l) => Number((JSON.parse(l) as { id: string }).id.split('-').at(-1)));

testUnless(tmpfsMissing(), { serial: true })(
  'a full file system with the broker away: events kept in memory within queue_max, said once, nothing on disk damaged, written again when space returns',
  async (t) => {
    t.timeout(60_000);
    const fsys = mountTmpfs(256);
    t.teardown(() => fsys.unmount());
    const broker = await startBroker();
    t.teardown(() => broker.stop());
    const door = gate(broker);
    const sub = await subscribe(broker.url, ['emotiond/testcam/events']);
    t.teardown(() => sub.end());
    const config = testConfig(broker.url, { queue_file: 'outbox.jsonl', queue_max: 500 });
    config.system.state_dir = fsys.dir;
    const file = path.join(fsys.dir, 'outbox.jsonl');
    const log = captureLogger();
    const pub = new MqttPublisher({ config, logger: log.logger, version: '1', reconnect: FAST });
    t.teardown(() => pub.stop(100));
    await pub.start();
    await waitUntil(() => door.refused() >= 1, 3000, 'the broker refusing the publisher');

    for (let i = 0; i < 100; i++) pub.event(makeEvent(i));
    await waitUntil(() => fs.existsSync(file) && parseQueue(fs.readFileSync(file, 'utf8')).live.length === 100, 5000, '100 events in the file');
    const filler = fill(fsys.dir);
    // Events keep coming, a few per frame as the pipeline makes them, each batch flushed (and failing) on its own.
    // The first appends may still fit in the slack of the file's last page; once a write fails the file must not
    // change until space returns.
    const checks: Array<{ bad: number; torn: boolean; ids: number[]; full: boolean }> = [];
    for (let i = 100; i < 800; i += 10) {
      for (let j = i; j < i + 10; j++) pub.event(makeEvent(j));
      await sleep(20);
      const parsed = parseQueue(fs.readFileSync(file, 'utf8'));
      checks.push({ bad: parsed.bad, torn: parsed.torn, ids: idsOf(parsed.live), full: pub.health().queue_disk_full });
    }
    await sleep(1500);
    const health = pub.health();
    t.like(health, { connected: false, queue_length: 500, queue_dropped: 300, queue_disk_full: true });
    t.true(health.queue_disk_full_s > 1, `disk full for ${health.queue_disk_full_s} s`);
    t.is(log.lines.filter((l) => l['code'] === 'EMD_DISK_FULL').length, 1, 'said once');
    t.is(log.count('error'), 0);
    // Every read of the file while full: parses, no partial line, exactly the first 100 events (what it had).
    t.true(
      checks.every((c) => c.bad === 0 && !c.torn),
      JSON.stringify(checks.filter((c) => c.bad > 0 || c.torn)),
    );
    const whenFull = checks.find((c) => c.full)?.ids ?? [];
    t.true(
      whenFull.length >= 100 && whenFull.join() === range(0, whenFull.length).join(),
      `the file had events 0 to ${whenFull.length - 1} when the disk was found full`,
    );
    t.true(
      checks.every((c) => c.ids.join() === range(0, c.ids.length).join()),
      'only ever the oldest events, in order',
    );
    t.true(
      checks.filter((c) => c.full).every((c) => c.ids.join() === whenFull.join()),
      'the file keeps what it had while full',
    );
    t.deepEqual(fs.readdirSync(fsys.dir).sort(), ['filler', 'outbox.jsonl'], 'no temp file left taking space');

    fs.rmSync(filler);
    await waitUntil(() => !pub.health().queue_disk_full, 10_000, 'the file written again once space returned');
    const after = parseQueue(fs.readFileSync(file, 'utf8'));
    t.deepEqual([after.bad, after.torn], [0, false]);
    t.deepEqual(idsOf(after.live), range(300, 800), 'the file holds the queue: the 500 newest');
    t.is(log.lines.filter((l) => /space again/.test(String(l['msg']))).length, 1);

    door.open();
    await sub.waitFor(() => eventIds(sub).length >= 500, 10_000, '500 events');
    await sub.roundTrip('emotiond/testcam'); // everything the publisher sent before has arrived
    t.deepEqual(eventIds(sub), range(300, 800), 'delivered once each, in order');
    t.like(pub.health(), { queue_length: 0, delivered: 500, queue_dropped: 300, queue_disk_full: false });
    t.log(
      `800 events: 500 delivered, 300 dropped (counted) while the disk was full for ${health.queue_disk_full_s} s; the file read ${checks.length} times while full, always whole`,
    );
    await pub.stop();
    t.false(fs.existsSync(file), 'all delivered: no file');
  },
);
