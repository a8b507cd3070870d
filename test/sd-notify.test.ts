// SdNotify against a real unix datagram socket bound in a temp directory, as systemd's notify socket is.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { createLogger, type Logger } from '../src/system/logger.js';
import { SdNotify } from '../src/cli/sd-notify.js';
import { notifySocket, type Note } from './helpers/notify-socket.js';
import { sleep, waitUntil } from './helpers/wait.js';

interface Listener {
  path: string;
  messages: Note[];
  /** Resolves once `count` messages in all have arrived (or rejects after `ms`). */
  waitFor: (count: number, ms?: number) => Promise<void>;
  /** Resolves once everything sent before has arrived (a marker datagram). */
  settle: () => Promise<void>;
}

async function listen(t: { teardown: (fn: () => void) => void }): Promise<Listener> {
  const { path: sockPath, notes: messages, settle } = await notifySocket(t);
  const waitFor = (count: number, ms = 2000): Promise<void> =>
    waitUntil(
      () => messages.length >= count,
      ms,
      `${count} messages`,
      () => `got ${messages.length}: ${JSON.stringify(messages)}`,
    );
  return { path: sockPath, messages, waitFor, settle };
}

function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = createLogger({
    level: 'debug',
    pretty: 'no',
    destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  });
  return { logger, lines };
}

test('READY, STATUS and STOPPING arrive as sd_notify datagrams', async (t) => {
  const l = await listen(t);
  const n = new SdNotify({ env: { NOTIFY_SOCKET: l.path } });
  t.true(n.enabled);
  t.is(n.watchdogIntervalMs, null);
  n.ready('model loaded, camera /dev/video0 delivering');
  n.status('12.5 fps, 2 faces');
  n.status('multi\nline\r\nstatus');
  n.stopping('SIGTERM');
  n.stopping();
  n.ready();
  await l.waitFor(6);
  t.deepEqual(
    l.messages.map((m) => m.text),
    [
      'READY=1\nSTATUS=model loaded, camera /dev/video0 delivering',
      'STATUS=12.5 fps, 2 faces',
      'STATUS=multi line status',
      'STOPPING=1\nSTATUS=SIGTERM',
      'STOPPING=1',
      'READY=1',
    ],
  );
  n.close();
});

test('nothing is sent and nothing fails when NOTIFY_SOCKET is unset', async (t) => {
  const l = await listen(t);
  const { logger, lines } = capturingLogger();
  const n = new SdNotify({ env: { WATCHDOG_USEC: '200000' }, logger });
  t.false(n.enabled);
  t.is(n.watchdogIntervalMs, null);
  t.notThrows(() => {
    n.ready('x');
    n.status('y');
    n.startWatchdog(() => true);
    n.stopping();
    n.close();
  });
  t.false(n.watchdogRunning, 'no watchdog timer');
  await l.settle();
  t.is(l.messages.length, 0);
  t.deepEqual(lines, []);
});

test('the watchdog pings at half of WATCHDOG_USEC only while the pipeline makes progress', async (t) => {
  const l = await listen(t);
  const { logger, lines } = capturingLogger();
  const n = new SdNotify({ env: { NOTIFY_SOCKET: l.path, WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid) }, logger });
  t.teardown(() => n.close());
  t.is(n.watchdogIntervalMs, 100);

  let progressing = true;
  let checks = 0;
  n.startWatchdog(() => {
    checks += 1;
    return progressing;
  });
  await sleep(560);
  const first = l.messages.length;
  t.true(first >= 3 && first <= 7, `pings in 560 ms at 100 ms: ${first}`);
  t.true(l.messages.every((m) => m.text === 'WATCHDOG=1'));
  const gaps = l.messages.slice(1).map((m, i) => m.at - (l.messages[i]?.at ?? 0));
  t.true(
    gaps.every((g) => g >= 50 && g <= 300),
    `gaps ${gaps.join(',')}`,
  );

  progressing = false;
  const before = checks;
  await waitUntil(() => checks > before, 1000, 'a tick that sees the stall');
  await l.settle(); // a ping sent before it has arrived
  const atStall = l.messages.length;
  await waitUntil(() => checks >= before + 5, 2000, 'four more ticks while stalled');
  await l.settle();
  t.is(l.messages.length, atStall, 'no pings while stalled');
  t.is(lines.filter((x) => /not making progress/.test(String(x.msg))).length, 1, 'the stall is logged once');

  progressing = true;
  await l.waitFor(atStall + 2, 1000);
  t.true(lines.some((x) => /progress again/.test(String(x.msg))));

  n.stopping();
  await l.waitFor(atStall + 3, 1000);
  t.is(l.messages.at(-1)?.text, 'STOPPING=1');
  t.false(n.watchdogRunning, 'no pings after STOPPING: the watchdog timer is stopped');
});

test('a progress check that throws counts as no progress and does not escape', async (t) => {
  const l = await listen(t);
  const { logger, lines } = capturingLogger();
  const n = new SdNotify({ socketPath: l.path, watchdogUsec: 100_000, logger });
  t.teardown(() => n.close());
  t.is(n.watchdogIntervalMs, 50);
  let checks = 0;
  n.startWatchdog(() => {
    checks += 1;
    throw new Error('boom');
  });
  await waitUntil(() => checks >= 3, 2000, 'three ticks');
  await l.settle();
  t.is(l.messages.length, 0);
  t.true(lines.some((x) => x.code === 'EMD_NOTIFY' && /threw/.test(String(x.msg))));
});

test('no watchdog when WATCHDOG_PID names another process or WATCHDOG_USEC is unset', (t) => {
  const other = new SdNotify({ env: { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '1' } });
  t.true(other.enabled);
  t.is(other.watchdogIntervalMs, null);
  const unset = new SdNotify({ env: { NOTIFY_SOCKET: '/run/systemd/notify' } });
  t.is(unset.watchdogIntervalMs, null);
  const ours = new SdNotify({ env: { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000' } });
  t.is(ours.watchdogIntervalMs, 15_000);
});

test('a send failure is logged as EMD_NOTIFY, never thrown', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'emd-notify-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { logger, lines } = capturingLogger();
  const n = new SdNotify({ env: { NOTIFY_SOCKET: path.join(dir, 'nobody-listens') }, logger });
  t.notThrows(() => {
    n.ready();
    n.status('s');
    n.stopping();
  });
  const failures = lines.filter((x) => x.code === 'EMD_NOTIFY' && x.msg === 'sd_notify send failed');
  t.is(failures.length, 3);
  t.is(failures[0]?.notify, 'READY=1');
});

test('an abstract socket name turns notifications off with a warning (unix-dgram cannot address it)', async (t) => {
  const { logger, lines } = capturingLogger();
  const n = new SdNotify({ env: { NOTIFY_SOCKET: '@emotiond-test', WATCHDOG_USEC: '200000' }, logger });
  t.false(n.enabled);
  t.is(n.watchdogIntervalMs, null);
  t.notThrows(() => n.ready());
  t.true(lines.some((x) => x.code === 'EMD_NOTIFY' && /abstract/.test(String(x.msg))));
});

test('close() stops the watchdog and later calls send nothing', async (t) => {
  const l = await listen(t);
  const n = new SdNotify({ env: { NOTIFY_SOCKET: l.path, WATCHDOG_USEC: '100000' } });
  n.startWatchdog(() => true);
  await l.waitFor(1);
  n.close();
  t.false(n.watchdogRunning);
  await l.settle();
  const count = l.messages.length;
  n.ready();
  n.status('after close');
  await l.settle();
  t.is(l.messages.length, count);
});
