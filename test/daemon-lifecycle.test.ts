// The composition root's start and stop (src/app/daemon.ts): a stop during the start ends it at its next step —
// while the model loads, or while a part does not answer — and stops what was started, in reverse; the camera is
// never opened and nothing is left listening.
import net from 'node:net';
import { Daemon } from '../src/app/daemon.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/system/logger.js';
import { MemorySink } from '../src/sinks/memory-sink.js';
import type { Part } from '../src/types.js';
import { DEMO_CLIP } from './helpers/clips/reference.js';
import { makeDaemon, until } from './helpers/daemon-harness.js';
import { freePort } from './helpers/ports.js';
import { missingFile, missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';

const missing = firstMissing(missingModel(), missingFile(DEMO_CLIP, 'deploy/setup.sh makes it'));

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

testUnless(missing)(
  'a stop while the model loads ends the start (AbortError): the camera is never opened, and the stop leaves the daemon stopped',
  async (t) => {
    const { daemon, sink } = makeDaemon({ 'source.uri': DEMO_CLIP, 'classifier.model': testModel() as string });
    const started = daemon.start();
    t.is(daemon.state, 'starting');
    await daemon.stop();
    const err = await t.throwsAsync(started);
    t.is(err?.name, 'AbortError', String(err));
    t.is(daemon.state, 'stopped');
    t.is(daemon.stats.framesIn, 0, 'no frame was read');
    t.deepEqual(sink.cameras, [], 'the source was never opened (no camera state)');
    await daemon.stop(); // a second stop is the first one's
  },
);

testUnless(missing)(
  'a stop while a part does not answer: the start ends, the part that hangs and every part before it (embedded broker, MQTT, HTTP) are stopped, nothing listens',
  async (t) => {
    const [mqttPort, httpPort] = [await freePort(), await freePort()];
    const loaded = loadConfig({
      env: {},
      flags: {
        'source.uri': DEMO_CLIP,
        'classifier.model': testModel() as string,
        'device.id': 'lifecycle',
        'mqtt.embedded': true,
        'mqtt.embedded_port': String(mqttPort),
        'mqtt.discovery': false,
        'http.enabled': true,
        'http.port': String(httpPort),
        'log.level': 'error',
        'log.pretty': 'no',
      },
    });
    const order: string[] = [];
    let startSignal: AbortSignal | undefined;
    // Its start answers only to the abort, as a part waiting for a server that never replies would.
    const hanging: Part = {
      name: 'a part that does not answer',
      start: (signal) =>
        new Promise<void>((_resolve, reject) => {
          startSignal = signal;
          signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
        }),
      stop: async () => void order.push('hanging stopped'),
    };
    const sink = new MemorySink();
    const daemon = new Daemon({
      config: loaded.config,
      logger: createLogger({ level: 'error', pretty: 'no' }),
      redactedConfig: loaded.redacted,
      sinks: [sink],
      parts: [hanging],
    });
    const started = daemon.start();
    await until(() => startSignal !== undefined, 30_000, "the hanging part's start");
    t.true(await listening(mqttPort), 'the embedded broker was started before it');
    t.true(await listening(httpPort), 'the HTTP server was started before it');
    await daemon.stop();
    const err = await t.throwsAsync(started);
    t.is(err?.name, 'AbortError', String(err));
    t.true(startSignal?.aborted, "the part's start was told");
    t.deepEqual(order, ['hanging stopped'], 'the part whose start did not finish is stopped too');
    t.false(await listening(httpPort), 'the HTTP server is stopped');
    t.false(await listening(mqttPort), 'the embedded broker is stopped');
    t.is(daemon.state, 'stopped');
    t.is(daemon.stats.framesIn, 0, 'the camera was never opened');
    t.deepEqual(sink.cameras, []);
  },
);

testUnless(missing)('a stop of a daemon that was never started, and a start after a stop, do nothing', async (t) => {
  const { daemon } = makeDaemon({ 'source.uri': DEMO_CLIP, 'classifier.model': testModel() as string });
  await daemon.stop();
  t.is(daemon.state, 'stopped');
  const err = await t.throwsAsync(daemon.start());
  t.is(err?.name, 'AbortError');
  t.is(daemon.stats.framesIn, 0);
});

testUnless(missing)("the caller's AbortSignal ends the start like a stop does; the stop after it stops what was started", async (t) => {
  const { daemon, sink } = makeDaemon({ 'source.uri': DEMO_CLIP, 'classifier.model': testModel() as string });
  const ac = new AbortController();
  const started = daemon.start(ac.signal);
  t.is(daemon.state, 'starting');
  ac.abort(Object.assign(new Error('the caller gave up'), { name: 'AbortError' }));
  const err = await t.throwsAsync(started);
  t.is(err?.name, 'AbortError', String(err));
  t.is(err?.message, 'the caller gave up');
  await daemon.stop();
  t.is(daemon.state, 'stopped');
  t.is(daemon.stats.framesIn, 0, 'no frame was read');
  t.deepEqual(sink.cameras, [], 'the source was never opened');
});

testUnless(missing)('a start that finishes runs the real pipeline on the demo clip; a stop then ends every face and leaves the daemon stopped', async (t) => {
  const { daemon, sink } = makeDaemon({ 'source.uri': DEMO_CLIP, 'classifier.model': testModel() as string, 'source.pace': 'realtime' });
  await daemon.start(new AbortController().signal);
  t.is(daemon.state, 'running');
  await until(() => sink.events.some((e) => e.type === 'face_appeared'), 30_000, 'a face');
  await daemon.stop();
  t.is(daemon.state, 'stopped');
  const appeared = sink.events.filter((e) => e.type === 'face_appeared').length;
  t.is(sink.events.filter((e) => e.type === 'face_gone').length, appeared, 'every face that appeared is gone');
  t.is(daemon.stats.activeTracks, 0, 'no face left tracked');
});
