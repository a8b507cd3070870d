import test from 'ava';
import { JitteredStream, rng, sampleIndices } from '../src/tools/eval/streams.js';
import { cropStill } from '../src/tools/eval/stills.js';

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
