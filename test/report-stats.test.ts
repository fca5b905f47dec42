import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  bootstrapMeanInterval, columnMeans, mean, pairedDifferences, quantileSorted, sampleStd, studentTCdf, studentTQuantile, tInterval,
} from '../src/report/stats.js';

const close = (a: number, b: number, tol = 1e-6, what = '') => assert.ok(Math.abs(a - b) <= tol, `${what} ${a} ≠ ${b} (±${tol})`);

test('mean and sample standard deviation of a hand-computed list', () => {
  close(mean([2, 4, 4, 4, 5, 5, 7, 9]), 5);
  // Σ(x − 5)² = 32, n − 1 = 7.
  close(sampleStd([2, 4, 4, 4, 5, 5, 7, 9]), Math.sqrt(32 / 7));
  assert.ok(Number.isNaN(mean([])));
  assert.ok(Number.isNaN(sampleStd([3])));
});

test('Student t quantiles match published tables', () => {
  const table: Array<[number, number]> = [[1, 12.7062], [2, 4.3027], [4, 2.7764], [9, 2.2622], [29, 2.0452], [120, 1.9799]];
  for (const [df, t] of table) close(studentTQuantile(0.975, df), t, 1e-4, `df ${df}`);
  close(studentTQuantile(0.95, 5), 2.0150, 1e-4);
  close(studentTQuantile(0.025, 3), -3.1824, 1e-4);
  close(studentTCdf(0, 7), 0.5, 1e-12);
});

test('t-interval of [1, 2, 3, 4] is 2.5 ± 3.1824·sd/2', () => {
  const iv = tInterval([1, 2, 3, 4]);
  const half = 3.182446 * (Math.sqrt(5 / 3) / 2);
  close(iv.estimate, 2.5);
  close(iv.lo, 2.5 - half, 1e-5);
  close(iv.hi, 2.5 + half, 1e-5);
  assert.is(iv.n, 4);
  const single = tInterval([0.7]);
  assert.ok(Number.isNaN(single.lo) && Number.isNaN(single.hi), 'one value has no t-interval');
});

test('bootstrap is deterministic for a seed and differs between seeds', () => {
  const values = [0.1, 0.5, 0.9, 0.3, 0.7, 0.2, 0.8, 0.4, 0.6, 0.95];
  const a = bootstrapMeanInterval(values, { seed: 42 });
  const b = bootstrapMeanInterval(values, { seed: 42 });
  const c = bootstrapMeanInterval(values, { seed: 43 });
  assert.equal(a, b);
  assert.ok(a.lo !== c.lo || a.hi !== c.hi, 'another seed resamples differently');
  assert.ok(a.lo < mean(values) && mean(values) < a.hi);
  // Normal approximation: mean ± 1.96·sd/√n; the percentile interval is close to it for n = 10.
  const se = sampleStd(values) / Math.sqrt(values.length);
  close(a.hi - a.lo, 2 * 1.96 * se, 0.25 * 2 * 1.96 * se, 'width');
});

test('bootstrap of two values: only means 0.7, 0.75, 0.8 are possible', () => {
  // P(all resamples give 0.7) = 1/4 > 2.5%, so the 95% percentile interval is exactly [0.7, 0.8].
  const iv = bootstrapMeanInterval([0.7, 0.8], { seed: 1, resamples: 2000 });
  close(iv.lo, 0.7, 1e-12);
  close(iv.hi, 0.8, 1e-12);
  const constant = bootstrapMeanInterval([0.4, 0.4, 0.4], { seed: 9 });
  close(constant.lo, 0.4, 1e-12);
  close(constant.hi, 0.4, 1e-12);
  assert.throws(() => bootstrapMeanInterval([1], { seed: 0, level: 1 }), /level/);
});

test('type-7 quantiles and column means', () => {
  close(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  close(quantileSorted([1, 2, 3, 4], 0.25), 1.75);
  assert.equal(columnMeans([[1, 2], [3, 6]]), [2, 4]);
  assert.throws(() => columnMeans([[1], [1, 2]]), /length/);
});

test('paired differences keep only keys present in both, in key order', () => {
  const { keys, diffs } = pairedDifferences(new Map([[2, 0.8], [0, 0.7], [5, 0.1]]), new Map([[0, 0.6], [2, 0.65], [3, 0.9]]));
  assert.equal(keys, [0, 2]);
  close(diffs[0]!, 0.1);
  close(diffs[1]!, 0.15);
});

test.run();
