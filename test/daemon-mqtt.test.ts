// The whole daemon on a real clip against a real in-process broker: the messages a dashboard sees.
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { Daemon } from '../src/app/daemon.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/system/logger.js';
import { EmbeddedBroker } from '../src/broker/embedded-broker.js';
import { kindOfTopic, PayloadValidator } from '../src/contract/validate.js';
import { EMOTIONS, type EmotionEvent } from '../src/types.js';
import { projectRoot } from '../src/system/paths.js';
import { dataFile, missingModel, testModel } from './helpers/shared-data.js';
import { connectClient } from './helpers/mqtt-client.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { until } from './helpers/daemon-harness.js';

interface Received {
  topic: string;
  payload: string;
  retain: boolean;
}

function pickClip(): string | null {
  return (
    dataFile('facetest/clips/clip1.avi') ??
    (fs.existsSync(path.join(projectRoot(), 'deploy/demo/demo-faces.avi')) ? path.join(projectRoot(), 'deploy/demo/demo-faces.avi') : null)
  );
}

const model = testModel();
const clip = pickClip();
const noRun = firstMissing(missingModel(), !clip && 'no clip: neither facetest/clips/clip1.avi in the shared data nor deploy/demo/demo-faces.avi');

testUnless(noRun)('daemon on a clip publishes valid, ordered events and state to the broker', async (t) => {
  const logger = createLogger({ level: 'warn', pretty: 'no' });
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0, wsPort: 0, logger });
  await broker.start();
  const received: Received[] = [];
  const sub = await connectClient(`mqtt://127.0.0.1:${broker.port}`, { protocolVersion: 4, clientId: 'test-sub' });
  sub.on('message', (topic, payload, packet) => received.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await sub.subscribeAsync(['emotiond/#', 'homeassistant/#'], { qos: 1 });

  const loaded = loadConfig({
    env: {},
    flags: {
      'source.uri': clip as string,
      'source.pace': 'none',
      'classifier.model': model as string,
      'device.id': 'itest',
      'mqtt.url': `mqtt://127.0.0.1:${broker.port}`,
      'mqtt.protocol_version': '4',
      'events.room_interval_s': '1',
      'mqtt.face_interval_s': '0.2',
    },
  });
  const daemon = new Daemon({ config: loaded.config, logger, redactedConfig: loaded.redacted });
  try {
    await daemon.start();
    await daemon.sourceEnded;
    await daemon.stop();
    await until(() => received.some((m) => m.topic === 'emotiond/itest/availability' && m.payload.includes('offline')), 5000, 'offline on shutdown');
  } finally {
    await sub.endAsync();
    await broker.stop();
  }

  const validator = new PayloadValidator();
  for (const m of received) {
    const kind = kindOfTopic(m.topic, 'emotiond/itest', 'homeassistant');
    if (!kind || m.payload === '') continue;
    const v = validator.validate(kind, JSON.parse(m.payload));
    t.true(v.ok, `${m.topic}: ${v.error} in ${m.payload.slice(0, 200)}`);
  }
  const events = received.filter((m) => m.topic === 'emotiond/itest/events').map((m) => JSON.parse(m.payload) as EmotionEvent);
  const appeared = events.filter((e) => e.type === 'face_appeared');
  const gone = events.filter((e) => e.type === 'face_gone');
  t.is(appeared.length, 1, `one face in the clip, one track: ${JSON.stringify(appeared.map((e) => e.track))}`);
  t.is(gone.length, 1);
  t.is(events[0]?.type, 'face_appeared');
  t.is(events.at(-1)?.type, 'face_gone');
  t.is(new Set(events.map((e) => e.id)).size, events.length, 'event ids are unique');
  const counters = events.map((e) => Number(e.id.split('-').at(-1)));
  t.deepEqual(
    counters,
    [...counters].sort((a, b) => a - b),
    'events arrive in the order they were made',
  );
  for (const e of events) {
    t.is(e.device, 'itest');
    if (e.type === 'emotion_changed') t.true(EMOTIONS.includes(e.after) && e.before !== e.after);
  }
  const face = appeared[0];
  // Announced on its first model step without a label (events.first_label_steps); the label follows from null.
  t.true(face !== undefined && face.emotion === null && face.scores !== null);
  const first = events.find((e) => e.type === 'emotion_changed' && e.track === face?.track);
  t.true(first?.type === 'emotion_changed' && first.before === null && EMOTIONS.includes(first.after), JSON.stringify(first));
  const faceTopic = `emotiond/itest/faces/${face?.track}`;
  const faceMsgs = received.filter((m) => m.topic === faceTopic);
  t.true(faceMsgs.length >= 2, 'face state published while present');
  t.is(faceMsgs.at(-1)?.payload, '', 'face state cleared when the face is gone');
  t.true(
    received.some((m) => m.topic === 'emotiond/itest/room'),
    'room summary published',
  );
  const avail = received.filter((m) => m.topic === 'emotiond/itest/availability').map((m) => JSON.parse(m.payload).state);
  t.is(avail[0], 'online');
  t.is(avail.at(-1), 'offline');
  t.true(
    received.some((m) => m.topic.startsWith('homeassistant/sensor/')),
    'Home Assistant discovery published',
  );
});
