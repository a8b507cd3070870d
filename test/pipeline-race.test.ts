// A reset (request/reset_tracks) or a pause lands while a frame is inside the model: every track ends then,
// with face_gone and a cleared faces/<id>, and the frame in flight must publish nothing for those tracks
// afterwards (a faces/<id> state after the clear would be a ghost retained face, re-sent on every reconnect).
// Real detector, tracker, model and event gate on a real photo; the classifier yields at the end of its step.
import test from 'ava';
import cv from '../src/system/opencv.js';
import { EmotionModel } from '../src/classify/emotion-model.js';
import { FaceClassifier } from '../src/classify/face-classifier.js';
import { FaceDetector } from '../src/detect/face-detector.js';
import { resolveCascade } from '../src/detect/cascade-file.js';
import { FaceTracker } from '../src/track/face-tracker.js';
import { EmotionGate } from '../src/events/emotion-gate.js';
import { RoomWindow } from '../src/events/room-window.js';
import { FramePipeline } from '../src/pipeline/frame-pipeline.js';
import { PipelineStats } from '../src/system/stats.js';
import { createLogger } from '../src/system/logger.js';
import { configWith } from './bench/run-clip.js';
import type { ClassifiedFace, EventSink, MovedIn } from '../src/types.js';
import type cvTypes from '../src/system/opencv.js';
import { missingFile, missingModel, testModel } from './helpers/shared-data.js';
import { firstMissing, testUnless } from './helpers/skip.js';

const ASTRONAUT = '/usr/lib/python3/dist-packages/skimage/data/astronaut.png';
const logger = createLogger({ level: 'silent', pretty: 'no' });

/** The real classifier, which can be told to hold its results until released: the frame then waits in
 * classify() as it would in a slow session.run. */
class YieldingClassifier extends FaceClassifier {
  hold: Promise<void> | null = null;
  entered: (() => void) | null = null;

  override async classify<F extends ClassifiedFace>(gray: cvTypes.Mat, faces: readonly F[], nowMs: number, movedIn: MovedIn = null): Promise<F[]> {
    const done = await super.classify(gray, faces, nowMs, movedIn);
    if (this.hold && done.length > 0) {
      this.entered?.();
      await this.hold;
    }
    return done;
  }
}

/** Every sink call, in order. */
function recorder(): { sink: EventSink; log: string[] } {
  const log: string[] = [];
  const sink: EventSink = {
    event: (e) => log.push(`${e.type}#${e.track}`),
    room: () => undefined,
    face: (f) => log.push(`face#${f.track}`),
    faceCleared: (_d, track) => log.push(`cleared#${track}`),
    camera: () => undefined,
  };
  return { sink, log };
}

testUnless(firstMissing(missingModel(), missingFile(ASTRONAUT, 'python3-skimage')))(
  'a reset while a frame awaits the model: that frame publishes nothing for the ended tracks',
  async (t) => {
    const config = configWith({});
    const model = await EmotionModel.load(testModel() as string, { threads: 1 });
    const classifier = new YieldingClassifier(model, 32, logger);
    const { sink, log } = recorder();
    const gate = new EmotionGate(
      { margin: config.events.margin, hold_s: config.events.hold_s, first_steps: config.events.first_label_steps },
      { device: 'test' },
    );
    const pipeline = new FramePipeline({
      device: 'test',
      detector: new FaceDetector(config.detector, resolveCascade('haar')),
      tracker: new FaceTracker(config.tracker),
      classifier,
      gate,
      room: new RoomWindow('test', 0),
      sink,
      stats: new PipelineStats(),
      roomIntervalS: 3600,
    });
    const photo = cv.imread(ASTRONAUT);
    let n = 0;
    const frame = () => ({ mat: photo.copy(), info: { seq: n, timestampMs: n++ * 33 } });
    for (let i = 0; i < 30 && !log.includes('face_appeared#1'); i++) await pipeline.process(frame());
    t.true(log.includes('face_appeared#1'), `the face was announced: ${log.join(' ')}`);

    // The next frames hold in the classifier until released; a reset lands while one waits there.
    let release!: () => void;
    classifier.hold = new Promise<void>((r) => (release = r));
    let inFlight: Promise<void> | null = null;
    for (let i = 0; i < 8 && !inFlight; i++) {
      const entered = new Promise<void>((r) => (classifier.entered = r));
      const p = pipeline.process(frame());
      const which = await Promise.race([entered.then(() => 'held'), p.then(() => 'done')]);
      if (which === 'held') inFlight = p;
    }
    t.truthy(inFlight, 'a frame reached the model and waits there');
    t.is(pipeline.endAll(), 1, 'reset_tracks ended the one face');
    const clearedAt = log.indexOf('cleared#1');
    t.true(clearedAt > log.indexOf('face_gone#1') && log.indexOf('face_gone#1') >= 0, log.join(' '));
    release();
    await inFlight;
    classifier.hold = null;
    // The frames after the reset find the face again, as a new track with a new id.
    const back = (): boolean => log.slice(clearedAt).some((x) => x.startsWith('face_appeared#'));
    for (let i = 0; i < 90 && !back(); i++) await pipeline.process(frame());
    photo.release();
    await model.release();
    const after = log.slice(clearedAt + 1);
    t.false(
      after.some((x) => x.endsWith('#1')),
      `nothing for track 1 after its clear: ${after.join(' ')}`,
    );
    t.true(back(), `the face comes back as a new track: ${after.join(' ')}`);
  },
);
