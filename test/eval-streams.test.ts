import test from 'ava';
import { JitteredStream, defaultHysteresis, gatedLabels, rng, sampleIndices } from '../models/eval/streams.js';
import { argmax, countFlips } from '../models/eval/metrics.js';
import { EMOTIONS, zeroScores, type Emotion, type EmotionScores } from '../src/types.js';
import { cropStill } from '../models/eval/stills.js';
import { switchPairs } from '../models/eval/switches.js';

const face = (): Uint8Array => {
  const px = new Uint8Array(48 * 48);
  for (let y = 0; y < 48; y++) for (let x = 0; x < 48; x++) px[y * 48 + x] = 60 + ((x * 3 + y * 2) % 120);
  return px;
};
const meanAbsDiff = (a: Uint8Array, b: Uint8Array): number => a.reduce((s, v, i) => s + Math.abs(v - (b[i] as number)), 0) / a.length;

test('seeded sampling is reproducible, distinct and in range', (t) => {
  const a = sampleIndices(1000, 300, 7);
  t.deepEqual(a, sampleIndices(1000, 300, 7));
  t.notDeepEqual(a, sampleIndices(1000, 300, 8));
  t.is(new Set(a).size, 300);
  t.true(a.every((i) => i >= 0 && i < 1000));
  t.deepEqual(sampleIndices(5, 10, 1), [0, 1, 2, 3, 4]);
  const r = rng(3);
  const v = Array.from({ length: 1000 }, () => r());
  t.true(v.every((x) => x >= 0 && x < 1));
});

test('a still through cropStill is the identity at 48 px and resized otherwise', (t) => {
  const px = face();
  t.deepEqual(cropStill(px, 48, 48), px);
  t.is(cropStill(px, 48, 64).length, 64 * 64);
});

test('jittered frames are reproducible, differ frame to frame, and stay close to the face', (t) => {
  const px = face();
  const a = new JitteredStream(px, 48, rng(11));
  const b = new JitteredStream(px, 48, rng(11));
  try {
    const fa = Array.from({ length: 5 }, () => a.nextCrop(48));
    const fb = Array.from({ length: 5 }, () => b.nextCrop(48));
    t.deepEqual(fa, fb, 'same seed, same frames');
    t.notDeepEqual(fa[0], fa[1], 'each frame gets its own jitter');
    for (const f of fa) {
      t.is(f.length, 48 * 48);
      const d = meanAbsDiff(f, px);
      t.true(d > 0.5 && d < 25, `mean abs difference ${d.toFixed(2)} is camera-jitter sized`);
    }
  } finally {
    a.release();
    b.release();
  }
});

const scores = (a: Emotion, pa: number, b: Emotion, pb: number): EmotionScores => ({ ...zeroScores(), [a]: pa, [b]: pb });

test('the hysteresis row uses the daemon defaults: a near tie never flips, a clear change commits after hold_s', (t) => {
  const gate = defaultHysteresis();
  t.deepEqual(gate, { margin: 0.15, hold_s: 0.5, first_steps: 5 });
  const tie = Array.from({ length: 30 }, (_, i) => (i % 2 ? scores('Happy', 0.45, 'Neutral', 0.4) : scores('Neutral', 0.45, 'Happy', 0.4)));
  t.is(countFlips(tie.map(argmax)), 29, 'argmax flips every frame');
  const g = gatedLabels(tie, { ...gate, fps: 15 });
  t.is(countFlips(g), 0);
  t.deepEqual(g.slice(0, 5), [-1, -1, -1, -1, EMOTIONS.indexOf('Neutral')], 'no label until the fifth step, then its leader');
  const change = [...Array.from({ length: 10 }, () => scores('Sad', 0.7, 'Happy', 0.2)), ...Array.from({ length: 20 }, () => scores('Happy', 0.7, 'Sad', 0.2))];
  const h = gatedLabels(change, { ...gate, fps: 15 });
  t.is(countFlips(h), 1);
  // Happy leads from frame 10 (0.667 s at 15 fps); 0.5 s later is frame 17.5, so frame 18 commits.
  t.is(h.indexOf(EMOTIONS.indexOf('Happy')), 18);
});

test('switch pairs are seeded, in range, and always change the label', (t) => {
  const labels = Array.from({ length: 500 }, (_, i) => (i * 7) % 6);
  const pairs = switchPairs(labels, 100, 42);
  t.deepEqual(pairs, switchPairs(labels, 100, 42));
  t.notDeepEqual(pairs, switchPairs(labels, 100, 43));
  t.is(pairs.length, 100);
  for (const [a, b] of pairs) {
    t.true(a >= 0 && a < 500 && b >= 0 && b < 500);
    t.not(labels[a], labels[b]);
  }
  t.is(new Set(pairs.map(([a]) => a)).size, 100, 'first images are distinct');
  t.deepEqual(switchPairs([3, 3, 3], 2, 42), [], 'one label only: no pair (and no endless search for one)');
});
