// privacy.min_faces and the live face count (#28): while a room summary would be withheld (1 to min_faces - 1
// faces present), the count itself is withheld too — on MQTT (room, stats), /metrics and the dashboard alike —
// since exact counts with the shares before and after would tell one person's mood. The real daemon on the demo
// clip (one face), a real broker, the real HTTP server.
import fs from 'node:fs';
import test from 'ava';
import { Daemon } from '../src/app/daemon.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/system/logger.js';
import { PayloadValidator } from '../src/contract/validate.js';
import type { RoomSummary } from '../src/types.js';
import { DEMO_CLIP } from './helpers/clips/reference.js';
import { readStates } from './helpers/http-daemon.js';
import { freePort } from './helpers/ports.js';
import { parsePrometheusText } from './helpers/prom-text.js';
import { missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { startBroker, subscribe, tmpDir, waitUntil } from './publish-helpers.js';

const noClip = firstMissing(missingModel(), !fs.existsSync(DEMO_CLIP) && `${DEMO_CLIP} not found (deploy/setup.sh makes it)`);

testUnless(noClip)('min_faces 2 with one face present: no count of it on MQTT room and stats, /metrics or the page', async (t) => {
  const broker = await startBroker();
  t.teardown(() => broker.stop());
  const sub = await subscribe(broker.url, ['emotiond/counted/#']);
  t.teardown(() => sub.end());
  const port = await freePort();
  const loaded = loadConfig({
    env: {},
    flags: {
      'source.uri': DEMO_CLIP,
      'source.pace': 'realtime',
      'classifier.model': testModel() as string,
      'device.id': 'counted',
      'mqtt.url': broker.url,
      'mqtt.protocol_version': '4',
      'mqtt.discovery': false,
      'mqtt.stats_interval_s': '1',
      'events.room_interval_s': '1',
      'privacy.per_face': false,
      'privacy.min_faces': '2',
      'http.enabled': true,
      'http.port': String(port),
      'system.state_dir': tmpDir(),
      'log.level': 'warn',
      'log.pretty': 'no',
    },
  });
  const logger = createLogger({ level: 'warn', pretty: 'no' });
  const daemon = new Daemon({ config: loaded.config, logger, redactedConfig: loaded.redacted });
  await daemon.start();
  t.teardown(() => daemon.stop());
  const url = `http://127.0.0.1:${port}`;

  // /metrics every 300 ms while the page's feed is read for 8 s.
  const gauges: number[] = [];
  let scraping = true;
  const scraper = (async () => {
    while (scraping) {
      const text = await (await fetch(`${url}/metrics`)).text();
      const v = parsePrometheusText(text).get('emotiond_faces')?.samples[0]?.value;
      if (v !== undefined) gauges.push(v);
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  const states = (await readStates(`${url}/events`, () => false, 8000)) as Array<{ faces_present: number | null }>;
  scraping = false;
  await scraper;
  await waitUntil(() => daemon.stats.facesClassified > 0, 10_000, 'the face to be classified');

  const validator = new PayloadValidator();
  const rooms = sub.json('emotiond/counted/room') as RoomSummary[];
  const stats = sub.json('emotiond/counted/stats') as Array<{ active_tracks: number | null; classify: { faces: number | null } | null }>;
  for (const m of sub.messages.filter((x) => x.payload.length > 0 && /\/(room|stats)$/.test(x.topic))) {
    const v = validator.validate(m.topic.endsWith('room') ? 'room' : 'stats', JSON.parse(m.text));
    t.true(v.ok, `${m.topic}: ${v.error}`);
  }
  for (const s of states) t.true(validator.validate('dashboard', s).ok);

  t.true(
    rooms.some((r) => r.withheld && r.faces === null),
    `withheld summaries with no count: ${JSON.stringify(rooms.map((r) => r.faces))}`,
  );
  t.false(
    rooms.some((r) => r.faces === 1),
    'no room summary says one face',
  );
  t.true(
    stats.some((s) => s.active_tracks === null),
    `stats: ${JSON.stringify(stats.map((s) => s.active_tracks))}`,
  );
  t.false(
    stats.some((s) => s.active_tracks === 1 || s.classify?.faces === 1),
    'no stats message says one face',
  );
  t.true(
    gauges.some((g) => Number.isNaN(g)),
    `emotiond_faces: ${gauges.join(' ')}`,
  );
  t.false(gauges.includes(1), 'the gauge never says one face');
  t.true(
    states.some((s) => s.faces_present === null),
    `the page: ${JSON.stringify(states.map((s) => s.faces_present))}`,
  );
  t.false(
    states.some((s) => s.faces_present === 1),
    'the page never says one face',
  );
});
