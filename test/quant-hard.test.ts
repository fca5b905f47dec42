/** Hard quantizer (src/quant/hard.ts) and random layout (src/quant/random.ts). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { quantizeCounts, quantizeCountsSTE, quantizeValue } from '../src/quant/hard.js';
import { randomLayout } from '../src/quant/random.js';
import { Rng } from '../src/util/rng.js';

await tf.setBackend('cpu');

/** The formulas, written independently of the implementation (integer arithmetic). */
function reference(v: number, nativeBits: number, keptBits: number, rule: 'floor' | 'midrise'): number {
  const k = nativeBits - keptBits;
  const floored = v - (v % 2 ** k);
  if (rule === 'floor' || k === 0) return floored;
  return Math.min(floored + 2 ** (k - 1), 2 ** nativeBits - 1);
}

test('every 8-bit value, every kept depth, both rules: number and tensor versions match the formula', () => {
  const values = Float32Array.from({ length: 256 }, (_, i) => i);
  const x = tf.tensor1d(values);
  for (const rule of ['floor', 'midrise'] as const) {
    for (let kept = 1; kept <= 8; kept++) {
      const q = quantizeCounts(x, 8, kept, rule).dataSync();
      for (let v = 0; v < 256; v++) {
        const want = reference(v, 8, kept, rule);
        assert.is(quantizeValue(v, 8, kept, rule), want, `value ${v} kept ${kept} ${rule}`);
        assert.is(q[v], want, `tensor value ${v} kept ${kept} ${rule}`);
      }
    }
  }
  x.dispose();
});

test('12- and 16-bit samples match the formula', () => {
  const rng = new Rng(3);
  for (const nativeBits of [12, 16]) {
    const sample = Array.from({ length: 2000 }, () => rng.int(2 ** nativeBits));
    sample.push(0, 2 ** nativeBits - 1);
    const x = tf.tensor1d(sample);
    for (const rule of ['floor', 'midrise'] as const) {
      for (let kept = 1; kept <= nativeBits; kept++) {
        const q = quantizeCounts(x, nativeBits, kept, rule).dataSync();
        sample.forEach((v, i) => {
          const want = reference(v, nativeBits, kept, rule);
          assert.is(quantizeValue(v, nativeBits, kept, rule), want);
          assert.is(q[i], want, `${nativeBits}-bit ${v} kept ${kept} ${rule}`);
        });
      }
    }
    x.dispose();
  }
});

test('midrise removes floor bias: mean error over a full range is 0 for midrise, −(2^k−1)/2 for floor', () => {
  const k = 4;
  let floorError = 0;
  let midError = 0;
  for (let v = 0; v < 256; v++) {
    floorError += quantizeValue(v, 8, 8 - k, 'floor') - v;
    midError += quantizeValue(v, 8, 8 - k, 'midrise') - v;
  }
  assert.is(floorError / 256, -(2 ** k - 1) / 2);
  assert.is(midError / 256, 0.5);
});

test('straight-through quantizer: forward quantizes, gradient is the identity', () => {
  const x = tf.tensor1d([0, 17, 100, 255]);
  const weights = tf.tensor1d([1, -2, 3, 0.5]);
  const f = (t: tf.Tensor) => tf.sum(tf.mul(quantizeCountsSTE(t, 8, 3, 'floor'), weights));
  assert.equal(Array.from(quantizeCountsSTE(x, 8, 3, 'floor').dataSync()), [0, 0, 96, 224]);
  assert.equal(Array.from(tf.grad(f)(x).dataSync()), [1, -2, 3, 0.5]);
  // The plain quantizer has no gradient to pass (floor): zero.
  assert.equal(Array.from(tf.grad((t: tf.Tensor) => tf.sum(quantizeCounts(t, 8, 3, 'floor')))(x).dataSync()), [0, 0, 0, 0]);
});

test('invalid bit depths are refused', () => {
  assert.throws(() => quantizeValue(3, 8, 0, 'floor'), /keptBits/);
  assert.throws(() => quantizeValue(3, 8, 9, 'floor'), /keptBits/);
});

test('random layout: exactly round(b·n) ones, deterministic per seed, different across seeds', () => {
  for (const [rows, cols, b] of [[7, 9, 0.33], [16, 16, 0.5], [10, 10, 0.005], [4, 4, 1], [4, 4, 0]] as const) {
    const a = randomLayout(rows, cols, b, 5);
    assert.is(a.reduce((s, v) => s + v, 0), Math.round(b * rows * cols));
    assert.equal(a, randomLayout(rows, cols, b, 5));
  }
  assert.not.equal(randomLayout(16, 16, 0.5, 1), randomLayout(16, 16, 0.5, 2));
});

test.run();
