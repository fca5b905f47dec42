/**
 * The wasm ReLU gradient kernel (src/backend/wasm/simd-relu-gradient.ts) against tf's Step and
 * Multiply, value for value (the sign of zeros, NaN and ±∞ included), whole vectors and a tail.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../src/backend/index.js';
import { RELU_GRADIENT_KERNEL } from '../src/backend/kernel-names.js';
import { reluGradient } from '../src/model/conv-relu.js';
import { Rng } from '../src/util/rng.js';

const SPECIAL = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 3e38];

function values(seed: number, n: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, (_, k) => (k % 5 === 0 ? SPECIAL[(k / 5) % SPECIAL.length]! : rng.uniform(-2, 2)));
}

/** Elements as strings, so −0 and +0 differ and NaN equals NaN. */
const show = (a: ArrayLike<number>) => Array.from(a, (v) => (Object.is(v, -0) ? '-0' : String(v)));

test('dy·step(y) in one kernel equals tf.mul(dy, tf.step(y)) element for element', async () => {
  await startBackend('wasm');
  assert.ok(tf.getKernel(RELU_GRADIENT_KERNEL, 'wasm'), 'registered on wasm');
  for (const shape of [[2, 4, 4, 8], [3, 5, 7, 1], [4]]) {
    const n = shape.reduce((a, b) => a * b, 1);
    tf.tidy(() => {
      // dy's specials meet y's: ±∞·0 and NaN·1 among them.
      const dy = tf.tensor(values(1, n), shape);
      const y = tf.tensor(values(2, n).reverse(), shape);
      const fused = tf.engine().runKernel(RELU_GRADIENT_KERNEL, { dy, y }) as tf.Tensor;
      const ops = tf.mul(dy, tf.step(y));
      assert.equal(show(fused.dataSync()), show(ops.dataSync()), `shape ${shape}`);
      assert.equal(show(reluGradient(dy, y).dataSync()), show(ops.dataSync()), 'the model takes the kernel');
    });
  }
  assert.throws(() => tf.engine().runKernel(RELU_GRADIENT_KERNEL, { dy: tf.zeros([4]), y: tf.zeros([5]) }), /one size/);
});

test.run();
