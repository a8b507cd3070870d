// One definition of the room's mood (src/events/room-window.ts): the share of face-time per emotion over
// events.room_interval_s. The real daemon on the demo clip, with a real broker and the dashboard's live feed: the
// page's mood goes through the same values as the MQTT room topic's `dominant` (what Home Assistant's mood sensor
// reads), in the same order, and every bar of the page's timeline is a room summary published on MQTT.
import { Daemon } from '../src/app/daemon.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/system/logger.js';
import { EMOTIONS, type Emotion, type RoomSummary } from '../src/types.js';
import { DEMO_CLIP } from './helpers/clips/reference.js';
import { readStates } from './helpers/http-daemon.js';
import { freePort } from './helpers/ports.js';
import { missingFile, missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { startBroker, subscribe } from './publish-helpers.js';

interface PageState {
  time: string;
  mood: Emotion | null;
  mood_source: string;
  timeline: Array<{ time: string; shares: Record<Emotion, number> }>;
}

/** The values in order, each run of equal neighbours once. */
function changes<T>(xs: readonly T[]): T[] {
  return xs.filter((x, i) => i === 0 || x !== xs[i - 1]);
}

testUnless(firstMissing(missingModel(), missingFile(DEMO_CLIP, 'deploy/setup.sh makes it')))(
  'on the demo clip the page shows the mood MQTT publishes: the same values in the same order, and its timeline is the room summaries',
  async (t) => {
    t.timeout(120_000);
    const broker = await startBroker();
    t.teardown(() => broker.stop());
    const sub = await subscribe(broker.url, ['emotiond/moodcam/room']);
    t.teardown(() => sub.end());
    const port = await freePort();
    const loaded = loadConfig({
      env: {},
      flags: {
        'source.uri': DEMO_CLIP,
        'source.pace': 'realtime',
        'classifier.model': testModel() as string,
        'device.id': 'moodcam',
        'mqtt.url': broker.url,
        'mqtt.protocol_version': '4',
        'mqtt.discovery': false,
        'events.room_interval_s': '2',
        'http.enabled': true,
        'http.port': String(port),
        'log.level': 'warn',
        'log.pretty': 'no',
      },
    });
    const daemon = new Daemon({ config: loaded.config, logger: createLogger({ level: 'warn', pretty: 'no' }), redactedConfig: loaded.redacted });
    // Paused until the page's feed is open, so that it sees every summary of the clip.
    daemon.setPaused(true);
    await daemon.start();
    t.teardown(() => daemon.stop());
    let endedAt = Infinity;
    const feed = readStates(`http://127.0.0.1:${port}/events`, (s) => s.some((m) => Date.parse((m as PageState).time) > endedAt), 90_000);
    await sub.waitFor((m) => m.length > 0, 10_000, 'the empty room of the start on MQTT');
    daemon.setPaused(false);
    await daemon.sourceEnded;
    endedAt = Date.now();
    // Every summary of the clip on MQTT (the last one is made as the clip ends), and a page state made after it.
    await sub.settle();
    const states = (await feed) as PageState[];
    await daemon.stop();

    const rooms = sub.json('emotiond/moodcam/room') as RoomSummary[];
    const mqttMoods = changes(rooms.map((r) => r.dominant));
    const pageMoods = changes(states.map((s) => s.mood));
    t.log(
      `MQTT: ${rooms.length} summaries, moods ${mqttMoods.map((m) => m ?? 'none').join(' → ')}; page: ${states.length} states, moods ${pageMoods.map((m) => m ?? 'none').join(' → ')}`,
    );
    t.true(
      mqttMoods.some((m) => m !== null && EMOTIONS.includes(m)),
      'the clip has a mood',
    );
    t.deepEqual(pageMoods, mqttMoods, 'the page goes through the moods MQTT publishes, in order');
    t.is(states.at(-1)?.mood, rooms.at(-1)?.dominant, 'and ends on the same one');
    t.is(states.at(-1)?.mood_source, 'room');
    const published = new Map(rooms.map((r) => [r.time, r]));
    const bars = states.at(-1)?.timeline ?? [];
    t.true(bars.length >= 1, "the timeline has the clip's moods");
    for (const bar of bars) t.deepEqual(bar.shares, published.get(bar.time)?.shares, `the timeline's bar of ${bar.time} is the room summary published then`);
  },
);
