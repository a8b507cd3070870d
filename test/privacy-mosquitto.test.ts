// privacy.per_face=false on a real Debian mosquitto: the whole daemon on the demo clip publishes no per-face
// message (no faces/<id> topic, no event), while room summaries with the room's mood still arrive.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { Daemon } from '../src/app/daemon.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/system/logger.js';
import { projectRoot } from '../src/system/paths.js';
import type { RoomSummary } from '../src/types.js';
import { Mosquitto, freePort, mosquittoMissing } from './helpers/mosquitto.js';
import { missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { assertSchema, subscribe, waitUntil } from './publish-helpers.js';

const clip = path.join(projectRoot(), 'deploy/demo/demo-faces.avi');
const noRun = firstMissing(mosquittoMissing(), missingModel(), !fs.existsSync(clip) && `${clip} not found`);

testUnless(noRun)('per_face false: no per-face message on a real mosquitto, room summaries still arrive', async (t) => {
  const port = await freePort();
  const broker = new Mosquitto([{ port }]);
  await broker.start();
  t.teardown(() => broker.stop());
  const url = `mqtt://127.0.0.1:${port}`;
  // Everything on the broker: the daemon's topics, Home Assistant discovery, anything else.
  const sub = await subscribe(url, ['#'], { protocolVersion: 5 });
  t.teardown(() => sub.end());

  const logger = createLogger({ level: 'warn', pretty: 'no' });
  const loaded = loadConfig({
    env: {},
    flags: {
      'source.uri': clip,
      'source.pace': 'none',
      'classifier.model': testModel() as string,
      'device.id': 'private',
      'mqtt.url': url,
      'mqtt.face_interval_s': '0',
      'events.room_interval_s': '1',
      'privacy.per_face': false,
    },
  });
  const daemon = new Daemon({ config: loaded.config, logger, redactedConfig: loaded.redacted });
  await daemon.start();
  await waitUntil(() => sub.messages.some((m) => m.topic === 'emotiond/private/availability'), 10000, 'the daemon online on the broker');
  await daemon.sourceEnded;
  await daemon.stop();
  await sub.waitFor((msgs) => msgs.some((m) => m.topic === 'emotiond/private/availability' && m.text.includes('offline')), 5000, 'offline on shutdown');

  t.true(daemon.stats.facesClassified > 0, "the clip's face was found and classified");
  const topics = [...new Set(sub.messages.map((m) => m.topic))];
  t.deepEqual(
    topics.filter((x) => x.startsWith('emotiond/private/faces/')),
    [],
    'no faces/<id> topic',
  );
  t.deepEqual(
    topics.filter((x) => x.endsWith('/events')),
    [],
    'no event (each carries a track id and a box)',
  );
  for (const m of sub.messages) {
    // A track id is a number ("track": 3); stats' stage_ms.track is a timing object.
    t.false(/"track"\s*:\s*\d|"box"\s*:/.test(m.text), `${m.topic} carries a track id or a box: ${m.text.slice(0, 200)}`);
    assertSchema(t, m, 'emotiond/private');
  }
  const rooms = sub.json('emotiond/private/room') as RoomSummary[];
  t.true(rooms.length >= 2, `room summaries arrive: ${rooms.length}`);
  t.true(
    rooms.some((r) => r.faces === 1 && r.dominant !== null && !r.withheld),
    "with min_faces 1 the room's mood is published",
  );
  t.true(
    topics.some((x) => x.startsWith('homeassistant/sensor/emotiond_private/mood/')),
    'discovery of the room sensors is published',
  );
  const cameras = sub.json('emotiond/private/camera') as Array<{ notice: string | null }>;
  t.true(cameras.length > 0 && cameras.every((c) => c.notice === 'Emotion recognition is in use in this area.'), 'the default notice is in the camera state');
});
