/** Readout (src/detector/readout.ts): Poisson and electronic noise, the per-channel ADC, the log. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { countsPerCode, digitise, expectedCounts, logNormalise, noisyCounts, poisson, POISSON_NORMAL_ABOVE, type AdcSettings } from '../src/detector/readout.js';
import { quantizeValue } from '../src/quant/hard.js';
import { Rng } from '../src/util/rng.js';

test('expected counts: I0·exp(−p)', () => {
  const c = expectedCounts(Float32Array.from([0, 1, Math.log(4)]), 1000);
  assert.ok(Math.abs(c[0]! - 1000) < 1e-3 && Math.abs(c[1]! - 1000 / Math.E) < 1e-3 && Math.abs(c[2]! - 250) < 1e-3);
});

for (const mean of [0.5, 7, POISSON_NORMAL_ABOVE + 1, 2000]) {
  test(`Poisson(${mean}): sample mean and variance within 4 standard errors of ${mean}`, () => {
    const rng = new Rng(11);
    const n = 20000;
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const k = poisson(rng, mean);
      assert.ok(Number.isInteger(k) && k >= 0);
      sum += k;
      sq += k * k;
    }
    const m = sum / n;
    const variance = sq / n - m * m;
    assert.ok(Math.abs(m - mean) < 4 * Math.sqrt(mean / n), `mean ${m}`);
    // Var of the sample variance ≈ (μ4 − σ⁴)/n with μ4 = λ + 3λ² for Poisson.
    assert.ok(Math.abs(variance - mean) < 4 * Math.sqrt((mean + 2 * mean * mean) / n), `variance ${variance}`);
  });
}

test('noise: the same seed gives the same readings; another seed or image others; each view its own stream', () => {
  const expected = new Float32Array(6 * 5).fill(300);
  const a = noisyCounts(expected, 5, 4, 42, 0);
  assert.equal(a, noisyCounts(expected, 5, 4, 42, 0));
  assert.not.equal(a, noisyCounts(expected, 5, 4, 43, 0));
  assert.not.equal(a, noisyCounts(expected, 5, 4, 42, 1));
  // Counter-based per view: the first two views do not depend on how many views follow.
  assert.equal(noisyCounts(expected.subarray(0, 10), 5, 4, 42, 0), a.subarray(0, 10));
  const spread = Math.max(...a) - Math.min(...a);
  assert.ok(spread > 10, `readings hardly vary (${spread})`);
});

test('electronic noise alone: zero-mean Gaussian of σ_e on zero expected counts (may go negative)', () => {
  const n = 40000;
  const a = noisyCounts(new Float32Array(n), 100, 5, 1);
  let sum = 0;
  let sq = 0;
  for (const v of a) (sum += v), (sq += v * v);
  assert.ok(Math.abs(sum / n) < 4 * (5 / Math.sqrt(n)));
  assert.ok(Math.abs(Math.sqrt(sq / n) - 5) < 0.1);
  assert.ok(a.some((v) => v < 0));
});

const adc: AdcSettings = { nativeBits: 8, fullScaleCounts: 1024, rule: 'floor' }; // 4 counts per code

test('ADC native: clip to [0, full scale], round to the nearest code, top code 2^n − 1', () => {
  assert.is(countsPerCode(adc), 4);
  const out = digitise(Float32Array.from([-3, 0, 5.9, 6.1, 1023, 5000]), [8], adc);
  assert.equal(Array.from(out), [0, 0, 4, 8, 1020, 1020]);
});

for (const rule of ['floor', 'midrise'] as const) {
  test(`ADC per-channel layout (${rule}): channels marked reduced keep k bits at every view (as src/quant/hard.ts), the others stay native`, () => {
    const channels = 6;
    const kept = [8, 3, 8, 5, 8, 3];
    const rng = new Rng(5);
    const analog = Float32Array.from({ length: 40 * channels }, () => rng.uniform(0, 1024));
    const native = digitise(analog, new Array<number>(channels).fill(8), { ...adc, rule });
    const out = digitise(analog, kept, { ...adc, rule });
    for (let i = 0; i < analog.length; i++) {
      const k = kept[i % channels]!;
      const code = native[i]! / 4;
      if (k === 8) {
        assert.is(out[i], native[i]);
        continue;
      }
      assert.is(out[i], quantizeValue(code, 8, k, rule) * 4, `reading ${i}, channel ${i % channels}`);
    }
    // The reduced channels take at most 2^k distinct values.
    const distinct = new Set<number>();
    for (let v = 0; v < 40; v++) distinct.add(out[v * channels + 1]!);
    assert.ok(distinct.size <= 8);
  });
}

test('ADC: kept bits above nativeBits are a programming error', () => {
  assert.throws(() => digitise(new Float32Array(2), [8, 9], adc), /keptBits/);
});

test('log: −log(counts/I0), zero counts go to the floor', () => {
  const p = logNormalise(Float32Array.from([1000, 0, 100]), 1000, 0.5);
  assert.ok(Math.abs(p[0]!) < 1e-7);
  assert.ok(Math.abs(p[1]! - Math.log(2000)) < 1e-5);
  assert.ok(Math.abs(p[2]! - Math.log(10)) < 1e-6);
  assert.throws(() => logNormalise(new Float32Array(1), 1, 0), /floorCounts/);
});

test.run();
