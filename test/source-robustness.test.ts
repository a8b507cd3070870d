// Bad frames and failing sources never stop the daemon: they are counted, logged and retried.
import path from 'node:path';
import test from 'ava';
import cv from '../src/system/opencv.js';
import type { FrameSource } from '../src/capture/opencv-source.js';
import { sourceKind } from '../src/capture/opencv-source.js';
import { makeDaemon, until } from './helpers/daemon-harness.js';
import { Daemon } from '../src/app/daemon.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/system/logger.js';
import { MemorySink } from '../src/sinks/memory-sink.js';
import { missingFile, missingModel, testModel } from './helpers/shared-data.js';
import { freePort } from './helpers/ports.js';
import { listeningOn, serveMjpeg } from './helpers/media-tools.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { projectRoot } from '../src/system/paths.js';

const DEMO = path.join(projectRoot(), 'deploy', 'demo', 'demo-faces.avi');
const ASTRONAUT = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';

function modelFlag(): Record<string, string> {
  const m = testModel();
  return m ? { 'classifier.model': m } : {};
}

test('source kinds are recognised', (t) => {
  t.is(sourceKind('/dev/video0'), 'v4l2');
  t.is(sourceKind('2'), 'v4l2');
  t.is(sourceKind('rtsp://cam.local:554/stream'), 'url');
  t.is(sourceKind('http://127.0.0.1:8080/video.mjpg'), 'url');
  t.is(sourceKind('gst:libcamerasrc ! videoconvert ! appsink'), 'gstreamer');
  t.is(sourceKind('nvarguscamerasrc ! nvvidconv ! video/x-raw,format=BGRx ! videoconvert ! appsink'), 'gstreamer');
  t.is(sourceKind('clips/room.mp4'), 'file');
});

testUnless(firstMissing(missingModel(), missingFile(ASTRONAUT, 'python3-skimage')))(
  'bad frames are skipped and counted; good frames around them are processed',
  async (t) => {
    const photo = cv.imread(ASTRONAUT);
    const script: Array<() => cv.Mat> = [];
    for (let i = 0; i < 40; i++) {
      script.push(() => photo.copy());
      if (i % 10 === 5)
        script.push(
          () => new cv.Mat(),
          () => new cv.Mat(4, 4, cv.CV_8UC3, [0, 0, 0]),
          () => new cv.Mat(64, 64, cv.CV_16UC1, 0),
        );
    }
    let i = 0;
    const fake: FrameSource = {
      kind: 'file',
      props: { width: 512, height: 512, fps: 30 },
      read: async () => {
        const make = script[i++];
        if (!make) return null;
        const m = make();
        return m.empty ? (m.release(), new cv.Mat(0, 0, cv.CV_8UC3)) : m;
      },
      rewind: () => false,
      close: () => undefined,
    };
    const { daemon, sink } = makeDaemon({ ...modelFlag(), 'source.uri': 'fake.avi', 'source.pace': 'none' }, { openSource: () => fake });
    await daemon.start();
    await daemon.sourceEnded;
    await daemon.stop();
    photo.release();
    t.is(daemon.stats.framesProcessed, 40);
    // The 12 the script inserts, each unusable as the source gave it (empty, 4x4, 16-bit).
    t.is(daemon.stats.framesBad, 12);
    t.deepEqual(daemon.stats.framesBadBy, { source: 12, pipeline: 0 });
    // face_appeared without a label, the first label from null (events.first_label_steps), face_gone.
    t.deepEqual(
      sink.events.map((e) => e.type),
      ['face_appeared', 'emotion_changed', 'face_gone'],
    );
  },
);

testUnless(missingModel())('a source that cannot be opened is retried with back-off and reported offline', async (t) => {
  const { daemon, sink } = makeDaemon({ ...modelFlag(), 'source.uri': '/nonexistent/clip.avi', 'source.reopen_min_s': '0.05', 'source.reopen_max_s': '0.2' });
  await daemon.start();
  await until(() => daemon.stats.sourceReopens >= 4, 5000, 'four reopen attempts');
  t.is(daemon.stats.framesProcessed, 0);
  t.true(daemon.stats.alive(performance.now(), 15_000), 'waiting to reopen counts as alive for the watchdog');
  t.false(daemon.stats.alive(performance.now() + 16_000, 15_000), 'but only while the retries go on');
  await daemon.stop();
  t.true(sink.cameras.length >= 4);
  t.true(
    sink.cameras.every((c) => c.state === 'offline' && /nonexistent\/clip\.avi/.test(c.error ?? '')),
    JSON.stringify(sink.cameras[0]),
  );
});

testUnless(firstMissing(missingModel(), missingFile(DEMO, 'run deploy/make-demo-clip.sh')))(
  'an MJPEG-over-HTTP stream that is killed and restarted is reopened',
  async (t) => {
    const port = await freePort();
    let server = serveMjpeg(DEMO, port);
    await listeningOn(port);
    const { daemon, sink } = makeDaemon({
      ...modelFlag(),
      'source.uri': `http://127.0.0.1:${port}/cam.mjpg`,
      'source.reopen_min_s': '0.2',
      'source.reopen_max_s': '1',
      'source.stall_timeout_s': '2',
    });
    try {
      await daemon.start();
      await until(() => daemon.stats.framesProcessed > 20, 15000, 'frames from the stream');
      server.kill('SIGKILL');
      await until(() => sink.cameras.some((c) => c.state === 'offline'), 10000, 'camera offline after the server died');
      const before = daemon.stats.framesProcessed;
      server = serveMjpeg(DEMO, port);
      await until(() => daemon.stats.framesProcessed > before + 20, 20000, 'frames after the server came back');
      t.true(daemon.stats.sourceReopens >= 1);
      // ffmpeg may not listen yet when the daemon first tries (a loaded machine): those early retries are offline
      // states before the first online one, and are what the test is about too. From the first online on:
      const all = sink.cameras.map((c) => c.state);
      const states = all.slice(all.indexOf('online')).filter((s, i, list) => s !== list[i - 1]);
      t.deepEqual(states.slice(0, 3), ['online', 'offline', 'online']);
    } finally {
      server.kill('SIGKILL');
      await daemon.stop();
    }
  },
);

testUnless(missingModel())('a source error that echoes the URI is logged and published with the credentials hidden', async (t) => {
  const lines: string[] = [];
  const logger = createLogger({ level: 'warn', pretty: 'no', destination: { write: (s: string) => void lines.push(s) } });
  const uri = 'rtsp://viewer:S3cretCanary@cam.local/stream';
  const loaded = loadConfig({
    env: {},
    flags: { ...modelFlag(), 'mqtt.enabled': false, 'source.uri': uri, 'source.reopen_min_s': '0.05', 'source.reopen_max_s': '0.05' },
  });
  const sink = new MemorySink();
  // What FFmpeg says when a stream cannot be opened, with the URI in it.
  const open = (): FrameSource => {
    throw new Error(`[rtsp @ 0x5581] method DESCRIBE failed: 401 Unauthorized (${uri})`);
  };
  const daemon = new Daemon({ config: loaded.config, logger, redactedConfig: loaded.redacted, sinks: [sink], openSource: open });
  await daemon.start();
  await until(() => sink.cameras.length >= 2, 5000, 'two failed opens');
  await daemon.stop();
  const shown = [...lines, ...sink.cameras.map((c) => JSON.stringify(c))].join('\n');
  t.true(shown.includes('source failed'), shown);
  t.false(shown.includes('S3cretCanary'), shown);
  t.true(shown.includes('rtsp://[redacted]@cam.local/stream'), shown);
});
