// Health tells the truth: frames are read but the pipeline stops making progress. The real daemon (real
// detector, tracker, model, HTTP server) on a real photo from a camera-like source at 15 fps; its classifier (the
// real one) is told to stop in two ways: it skips every face (frames are processed, faces are present, nothing is
// classified) and it hangs (frames are read, none is processed). Each time /healthz turns 503 with the stage named,
// the daemon logs it once, and the systemd watchdog (a real notify socket) is no longer fed; each time it recovers.
import { setTimeout as delay } from 'node:timers/promises';
import test from 'ava';
import cv from '../src/system/opencv.js';
import { Daemon } from '../src/app/daemon.js';
import { FaceClassifier } from '../src/classify/face-classifier.js';
import type { FrameSource } from '../src/capture/opencv-source.js';
import { loadConfig } from '../src/config/load.js';
import { createLogger } from '../src/system/logger.js';
import { SdNotify } from '../src/cli/sd-notify.js';
import { MemorySink } from '../src/sinks/memory-sink.js';
import { PayloadValidator } from '../src/contract/validate.js';
import type { ClassifiedFace, MovedIn } from '../src/types.js';
import type cvTypes from '../src/system/opencv.js';
import { notifySocket } from './helpers/notify-socket.js';
import { freePort } from './helpers/ports.js';
import { missingFile, missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';
import { waitUntil } from './helpers/wait.js';

const ASTRONAUT = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';

/** The real classifier, which the test can make skip every face or hang until released. */
class StoppableClassifier extends FaceClassifier {
  mode: 'normal' | 'skip' | 'hang' = 'normal';
  private release: (() => void) | null = null;

  override async classify<F extends ClassifiedFace>(gray: cvTypes.Mat, faces: readonly F[], nowMs: number, movedIn: MovedIn = null): Promise<F[]> {
    if (this.mode === 'skip') return [];
    if (this.mode === 'hang') await new Promise<void>((r) => (this.release = r));
    return super.classify(gray, faces, nowMs, movedIn);
  }

  resume(): void {
    this.mode = 'normal';
    this.release?.();
    this.release = null;
  }
}

/** A camera-like source: the photo at 15 frames per second, for ever. */
function photoCamera(photo: cvTypes.Mat): FrameSource {
  return {
    kind: 'v4l2',
    props: { width: photo.cols, height: photo.rows, fps: 15 },
    read: async () => {
      await delay(66);
      return photo.copy();
    },
    rewind: () => false,
    close: () => undefined,
  };
}

testUnless(firstMissing(missingModel(), missingFile(ASTRONAUT, 'python3-skimage')), { serial: true })(
  'a stage that stops making progress: /healthz 503 naming it, logged once, the watchdog unfed; all back when it moves again',
  async (t) => {
    t.timeout(150_000);
    const photo = cv.imread(ASTRONAUT);
    t.teardown(() => photo.release());
    const port = await freePort();
    const loaded = loadConfig({
      env: {},
      flags: {
        'classifier.model': testModel() ?? '',
        'mqtt.enabled': false,
        'http.enabled': true,
        'http.port': String(port),
        'source.uri': '0',
        'log.level': 'warn',
        'log.pretty': 'no',
      },
    });
    const lines: Array<Record<string, unknown>> = [];
    const logger = createLogger({
      level: 'warn',
      pretty: 'no',
      destination: { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
    });
    let classifier: StoppableClassifier | undefined;
    const daemon = new Daemon({
      config: loaded.config,
      logger,
      redactedConfig: loaded.redacted,
      sinks: [new MemorySink()],
      openSource: () => photoCamera(photo),
      classifier: (m, n, l, still) => (classifier = new StoppableClassifier(m, n, l, still)),
    });
    const notify = await notifySocket(t);
    const sd = new SdNotify({ socketPath: notify.path, watchdogUsec: 400_000 });
    await daemon.start();
    t.teardown(async () => {
      sd.close();
      classifier?.resume();
      await daemon.stop();
    });
    sd.startWatchdog(() => daemon.makingProgress());
    const validator = new PayloadValidator();
    const health = async (): Promise<{ code: number; body: { status: string; stalled: string[] } }> => {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      const body = (await res.json()) as { status: string; stalled: string[] };
      t.true(validator.validate('healthz', body).ok, JSON.stringify(body));
      return { code: res.status, body };
    };
    let last = { code: 0, body: { status: '', stalled: [] as string[] } };
    const until = async (pred: () => boolean, ms: number, what: string): Promise<number> => {
      const t0 = performance.now();
      await waitUntil(
        () => pred(),
        ms,
        what,
        () => JSON.stringify(last),
      );
      return (performance.now() - t0) / 1000;
    };
    const poll = setInterval(
      () =>
        void health().then(
          (h) => (last = h),
          () => undefined,
        ),
      250,
    );
    t.teardown(() => clearInterval(poll));
    const pings = (): number => notify.notes.filter((n) => n.text === 'WATCHDOG=1').length;

    await until(() => daemon.stats.facesClassified > 10 && last.code === 200 && last.body.status === 'ok', 30_000, 'faces classified, /healthz ok');
    await until(() => pings() >= 2, 5000, 'the watchdog fed');

    for (const mode of ['skip', 'hang'] as const) {
      const stallsLogged = lines.filter((l) => Array.isArray(l['stalled'])).length;
      (classifier as StoppableClassifier).mode = mode;
      const took = await until(() => last.code === 503, 25_000, `/healthz 503 with the classifier set to ${mode}`);
      t.log(`${mode}: /healthz 503 after ${took.toFixed(1)} s: ${JSON.stringify(last.body.stalled)}`);
      t.deepEqual(last.body.stalled, ['classify'], `${mode}: the stalled stage named`);
      t.is(last.body.status, 'failing');
      t.false(daemon.makingProgress());
      if (mode === 'skip') t.true(daemon.stats.framesProcessed > 0 && daemon.stats.activeTracks === 1, 'frames processed, a face present');
      const fed = pings();
      await delay(1500);
      t.is(pings(), fed, `${mode}: no watchdog ping while stalled`);
      const logged = lines.filter((l) => Array.isArray(l['stalled'])).slice(stallsLogged);
      t.is(logged.length, 1, JSON.stringify(logged));
      t.deepEqual(logged[0]?.['stalled'], ['classify']);
      classifier?.resume();
      await until(() => last.code === 200, 10_000, `/healthz 200 after the classifier resumed (${mode})`);
      await until(() => pings() > fed, 5000, 'the watchdog fed again');
    }
  },
);
