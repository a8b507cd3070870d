// The log budget that keeps untrusted inputs (MQTT commands) from flooding the journal.
import test from 'ava';
import { LogBudget } from '../src/system/log-budget.js';

test('at most burst lines per window; the first line of the next window reports what was held back', (t) => {
  let now = 0;
  const b = new LogBudget({ burst: 3, windowMs: 1000, now: () => now });
  const first = [b.take(), b.take(), b.take(), b.take(), b.take()];
  t.deepEqual(first, [
    { log: true, suppressed: 0, last: false },
    { log: true, suppressed: 0, last: false },
    { log: true, suppressed: 0, last: true },
    { log: false },
    { log: false },
  ]);
  now = 999;
  t.deepEqual(b.take(), { log: false }, 'still the same window');
  now = 1000;
  t.deepEqual(b.take(), { log: true, suppressed: 3, last: false }, 'new window: three held back');
  t.deepEqual(b.take(), { log: true, suppressed: 0, last: false }, 'the count is reported once');
});

test('a quiet input never loses a line', (t) => {
  let now = 0;
  const b = new LogBudget({ burst: 2, windowMs: 1000, now: () => now });
  for (let i = 0; i < 10; i++, now += 600) t.like(b.take(), { log: true, suppressed: 0 });
});
