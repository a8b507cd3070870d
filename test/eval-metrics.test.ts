import test from 'ava';
import { accuracy, agreement, argmax, confusion, countFlips, macroF1, perClass, percentile, settleFrame, summarize, wilson } from '../models/eval/metrics.js';
import { spread } from '../models/eval/ckplus-run.js';
import { checkTargets } from '../models/eval/targets.js';

// truth 0 0 0 1 1 2 / pred 0 0 1 1 2 2 -> rows [2 1 0] [0 1 1] [0 0 1]
const truth = [0, 0, 0, 1, 1, 2];
const pred = [0, 0, 1, 1, 2, 2];

test('confusion matrix counts true rows x predicted columns', (t) => {
  t.deepEqual(confusion(truth, pred, 3), [
    [2, 1, 0],
    [0, 1, 1],
    [0, 0, 1],
  ]);
  t.throws(() => confusion([0], [0, 1], 3));
  t.throws(() => confusion([3], [0], 3));
});

test('accuracy, per-class precision/recall/F1 and macro-F1 match hand-computed values', (t) => {
  const cm = confusion(truth, pred, 3);
  t.is(accuracy(cm), 4 / 6);
  const pc = perClass(cm);
  // class 0: P 2/2, R 2/3, F1 0.8; class 1: P 1/2, R 1/2, F1 0.5; class 2: P 1/2, R 1/1, F1 2/3
  t.deepEqual(
    pc.map((c) => c.support),
    [3, 2, 1],
  );
  t.is(pc[0]?.precision, 1);
  t.is(pc[0]?.recall, 2 / 3);
  t.true(Math.abs((pc[0]?.f1 ?? 0) - 0.8) < 1e-12);
  t.is(pc[1]?.f1, 0.5);
  t.true(Math.abs((pc[2]?.f1 ?? 0) - 2 / 3) < 1e-12);
  t.true(Math.abs(macroF1(cm) - (0.8 + 0.5 + 2 / 3) / 3) < 1e-12);
});

test('a class that is never true nor predicted scores 0 and still counts in macro-F1', (t) => {
  const cm = confusion(truth, pred, 4);
  t.deepEqual(perClass(cm)[3], { precision: 0, recall: 0, f1: 0, support: 0 });
  t.true(Math.abs(macroF1(cm) - (0.8 + 0.5 + 2 / 3) / 4) < 1e-12);
  t.is(accuracy(confusion([], [], 6)), 0);
});

test('label flips count changes between consecutive frames', (t) => {
  t.is(countFlips([0, 0, 1, 1, 0, 0, 0]), 2);
  t.is(countFlips([2, 2, 2]), 0);
  t.is(countFlips([1, 2, 1, 2]), 3);
  t.is(countFlips([]), 0);
  t.is(countFlips([5]), 0);
});

test('settle frame: first index from which the apex label holds to the end', (t) => {
  t.is(settleFrame([3, 3, 0, 0, 1, 1], 1), 4);
  t.is(settleFrame([1, 1, 1], 1), 0);
  t.is(settleFrame([1, 0, 1], 1), 2);
  t.is(settleFrame([3, 3, 0, 0, 1, 1], 0), null, 'apex wrong');
  t.is(settleFrame([], 0), null);
});

test('percentile interpolates like numpy; summary; agreement; argmax uses EMOTIONS order', (t) => {
  t.is(percentile([4, 1, 3, 2], 50), 2.5);
  t.true(Math.abs(percentile([1, 2, 3, 4], 95) - 3.85) < 1e-12);
  t.is(percentile([7], 95), 7);
  t.true(Number.isNaN(percentile([], 50)));
  t.like(summarize([0, 0, 0, 4]), { n: 4, mean: 1, median: 0, max: 4, min: 0 });
  t.is(agreement([0, 1, 2, 3], [0, 1, 0, 3]), 0.75);
  t.is(argmax({ Angry: 0.1, Fear: 0.1, Happy: 0.5, Neutral: 0.2, Sad: 0.05, Surprise: 0.05 }), 2);
  t.is(argmax({ Angry: 0, Fear: 0, Happy: 0, Neutral: 0, Sad: 0, Surprise: 0.9 }), 5);
});

test('spread picks k items evenly, all when k is undefined or large', (t) => {
  t.deepEqual(spread([0, 1, 2, 3, 4, 5, 6, 7], 4), [0, 2, 4, 6]);
  t.deepEqual(spread([0, 1, 2], undefined), [0, 1, 2]);
  t.deepEqual(spread([0, 1, 2], 9), [0, 1, 2]);
});

test('targets are judged honestly, n/a without an fp32 model', (t) => {
  const base = { ferAccuracy: 0.71, ckApexAccuracy: 0.96, ckSequences: 22, flipsMean: 0.5, msPerFace: 0.4 };
  t.deepEqual(
    checkTargets({ ...base, diffPoints: -0.4 }).map((c) => c.status),
    ['PASS', 'PASS', 'PASS', 'PASS', 'PASS'],
  );
  t.deepEqual(
    checkTargets({ ...base, ferAccuracy: 0.69, diffPoints: -1.2, flipsMean: 1.01, msPerFace: 1.5, ckApexAccuracy: 0.9 }).map((c) => c.status),
    ['FAIL', 'FAIL', 'FAIL', 'FAIL', 'FAIL'],
  );
  t.is(checkTargets(base)[1]?.status, 'n/a');
});

test('Wilson 95 % interval matches published values and stays inside [0, 1]', (t) => {
  // statsmodels proportion_confint(17, 22, method="wilson") = (0.5656, 0.8988)
  const [lo, hi] = wilson(17, 22);
  t.is(lo.toFixed(4), '0.5656');
  t.is(hi.toFixed(4), '0.8988');
  t.deepEqual(
    wilson(0, 10).map((x) => x.toFixed(4)),
    ['0.0000', '0.2775'],
  );
  t.deepEqual(
    wilson(10, 10).map((x) => x.toFixed(4)),
    ['0.7225', '1.0000'],
  );
  t.deepEqual(wilson(0, 0), [0, 1]);
});
