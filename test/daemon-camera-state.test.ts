// The retained `camera` topic after a clean stop: a dashboard that subscribes later must read `offline`,
// not the `online` of a camera that is no longer read. The real daemon on a real clip, a real broker.
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import mqtt from 'mqtt';
import { Daemon } from '../src/app/daemon.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/system/logger.js';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import { PayloadValidator } from '../src/contract/validate.js';
import { projectRoot } from '../src/system/paths.js';
import type { CameraState } from '../src/types.js';
import { missingFile, missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { until } from './helpers/daemon-harness.js';

const CLIP = path.join(projectRoot(), 'deploy/demo/demo-faces.avi');
const clipTest = testUnless(firstMissing(missingModel(), missingFile(CLIP, 'deploy/make-demo-clip.sh')));

async function withDaemon(
  t: ExecutionContext,
  flags: Record<string, string>,
  whileRunning: (daemon: Daemon, seen: CameraState[]) => Promise<void>,
): Promise<CameraState> {
  const logger = createLogger({ level: 'warn', pretty: 'no' });
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0, wsPort: 0, logger });
  await broker.start();
  t.teardown(() => broker.stop());
  const url = `mqtt://127.0.0.1:${broker.port}`;
  const topic = 'emotiond/camtest/camera';
  const live = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'camtest-live' });
  t.teardown(() => live.endAsync());
  const seen: CameraState[] = [];
  live.on('message', (_topic, payload) => seen.push(JSON.parse(payload.toString()) as CameraState));
  await live.subscribeAsync(topic, { qos: 1 });

  const loaded = loadConfig({
    env: {},
    flags: {
      'source.uri': CLIP,
      'classifier.model': testModel() ?? '',
      'device.id': 'camtest',
      'mqtt.url': url,
      'mqtt.protocol_version': '4',
      'mqtt.discovery': false,
      ...flags,
    },
  });
  const daemon = new Daemon({ config: loaded.config, logger, redactedConfig: loaded.redacted });
  await daemon.start();
  await whileRunning(daemon, seen);
  await daemon.stop();

  // A subscriber that comes later gets only what the broker retained.
  const late = await mqtt.connectAsync(url, { protocolVersion: 4, clientId: 'camtest-late' });
  t.teardown(() => late.endAsync());
  const retained: Array<{ state: CameraState; retain: boolean }> = [];
  late.on('message', (_topic, payload, packet) => retained.push({ state: JSON.parse(payload.toString()) as CameraState, retain: packet.retain }));
  await late.subscribeAsync(topic, { qos: 1 });
  await until(() => retained.length > 0, 3000, 'the retained camera state');
  t.is(retained.length, 1);
  t.true(retained[0]?.retain);
  const state = retained[0]!.state;
  const v = new PayloadValidator().validate('camera', state);
  t.true(v.ok, v.error);
  return state;
}

clipTest('a file source that ended leaves the retained camera state offline', async (t) => {
  const state = await withDaemon(t, { 'source.pace': 'none' }, async (daemon, seen) => {
    await daemon.sourceEnded;
    t.true(
      seen.some((c) => c.state === 'online'),
      'the camera was online while the clip was read',
    );
  });
  t.like(state, { device: 'camtest', state: 'offline', width: null, height: null, fps: null });
});

clipTest('a stop while the camera is delivering (SIGTERM) leaves the retained camera state offline', async (t) => {
  const state = await withDaemon(t, { 'source.pace': 'realtime', 'source.loop': 'true' }, async (daemon, seen) => {
    await until(() => seen.some((c) => c.state === 'online') && daemon.stats.framesProcessed > 5, 20_000, 'camera online and frames flowing');
  });
  t.like(state, { device: 'camtest', state: 'offline', error: null });
});
