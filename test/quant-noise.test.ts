/**
 * The counter-based sampling noise (src/quant/noise.ts): its uniforms, their statistics, the
 * transforms on cpu, and the WGSL program (src/backend/webgpu/noise.ts) against the JS reference on
 * SwiftShader (skipped without an adapter, failing under CI as the other WGSL tests).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { counterUniform, noiseKeyFromSeed, noiseTensor, triple32, uniformDraws, type NoiseKey } from '../src/quant/noise.js';
import { selectWebgpuBackend } from '../src/backend/webgpu/node-gpu.js';
import { reportMissingAdapter, testAdapter } from './helpers/webgpu.js';
import { maxRelativeError } from './helpers/arrays.js';

await tf.setBackend('cpu');

const key = noiseKeyFromSeed(7);
const TWO_POW_32 = 4294967296;

test('triple32 matches its published definition on known inputs and is a bijection on a sample', () => {
  // Reference values from the definition in Python's arbitrary-precision integers, masked to 32 bits.
  assert.is(triple32(0), 0);
  assert.is(triple32(1), 0x042741d6);
  assert.is(triple32(2), 0xf1dfe8e9);
  assert.is(triple32(0xdeadbeef), 0x0921725e);
  assert.is(triple32(0xffffffff), 0x127f588f);
  const seen = new Set<number>();
  for (let i = 0; i < 100000; i++) seen.add(triple32(i * 2654435761));
  assert.is(seen.size, 100000);
});

test('uniform draws: odd multiples of 2^-24 strictly inside (0, 1), positions are stable', () => {
  const draws = uniformDraws(key, 0, 50000);
  for (const u of draws) {
    assert.ok(u > 0 && u < 1);
    const scaled = u * 16777216;
    assert.ok(Number.isInteger(scaled) && scaled % 2 === 1, `${u} is not an odd multiple of 2^-24`);
  }
  assert.equal(Array.from(uniformDraws(key, 123, 40)), Array.from(draws.subarray(123, 163)), 'draw i does not depend on where a batch starts');
  assert.not.equal(Array.from(uniformDraws(noiseKeyFromSeed(8), 0, 40)), Array.from(draws.subarray(0, 40)), 'another seed, another stream');
  // The high word of the index enters the hash: draws 2^32 apart differ.
  assert.not.equal(counterUniform(key, 5), counterUniform(key, TWO_POW_32 + 5));
});

test('uniform draws have the moments of U(0, 1) and no lag-1 correlation', () => {
  for (const k of [key, noiseKeyFromSeed(1234), { k0: 0, k1: 0 } as NoiseKey]) {
    const n = 200000;
    const u = uniformDraws(k, 0, n);
    let sum = 0;
    let sumSq = 0;
    let lag = 0;
    for (let i = 0; i < n; i++) {
      sum += u[i]!;
      sumSq += u[i]! * u[i]!;
      if (i > 0) lag += (u[i]! - 0.5) * (u[i - 1]! - 0.5);
    }
    const mean = sum / n;
    const variance = sumSq / n - mean * mean;
    // Standard errors: mean 0.00065, variance 0.00017, lag covariance 0.00019 (n = 2·10^5).
    assert.ok(Math.abs(mean - 0.5) < 0.004, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1 / 12) < 0.001, `variance ${variance}`);
    assert.ok(Math.abs(lag / (n - 1)) < 0.0012, `lag-1 covariance ${lag / (n - 1)}`);
    const bins = new Array<number>(10).fill(0);
    for (const v of u) bins[Math.floor(v * 10)]!++;
    for (const b of bins) assert.ok(Math.abs(b - n / 10) < 5 * Math.sqrt(n / 10), `bin count ${b}`);
  }
});

test('noise tensors on cpu: shape, transforms of the same uniforms, bad start rejected', () => {
  const shape = [2, 3, 4, 1];
  const u = noiseTensor(key, 10, shape, 'uniform');
  assert.equal(u.shape, shape);
  const uv = u.dataSync();
  assert.equal(Array.from(uv), Array.from(uniformDraws(key, 10, 24)));
  const logistic = noiseTensor(key, 10, shape, 'logistic').dataSync();
  const gumbel = noiseTensor(key, 10, shape, 'gumbel').dataSync();
  for (let i = 0; i < 24; i++) {
    const x = uv[i]!;
    assert.ok(Math.abs(logistic[i]! - Math.log(x / (1 - x))) < 1e-5 * Math.max(1, Math.abs(logistic[i]!)));
    assert.ok(Math.abs(gumbel[i]! + Math.log(-Math.log(x))) < 1e-5 * Math.max(1, Math.abs(gumbel[i]!)));
  }
  assert.throws(() => noiseTensor(key, -1, shape, 'uniform'), /start/);
  assert.throws(() => noiseTensor(key, 0.5, shape, 'uniform'), /start/);
});

const adapter = await testAdapter();
if (!adapter) {
  reportMissingAdapter('the WGSL noise program');
} else {
  // Last test of the file: it leaves the webgpu backend selected.
  test('WGSL noise: uniforms bit-identical to the JS reference, transforms within float rounding', async () => {
    // Across the 2^32 boundary of the index, so the carry into the high word is exercised.
    const start = TWO_POW_32 - 700;
    const shape = [3, 20, 30, 1];
    await tf.setBackend('cpu');
    const reference = {
      uniform: noiseTensor(key, start, shape, 'uniform').dataSync(),
      logistic: noiseTensor(key, start, shape, 'logistic').dataSync(),
      gumbel: noiseTensor(key, start, shape, 'gumbel').dataSync(),
    };
    await selectWebgpuBackend(tf);
    assert.is(tf.getBackend(), 'webgpu');
    const before = tf.memory().numTensors;
    for (const transform of ['uniform', 'logistic', 'gumbel'] as const) {
      const t = noiseTensor(key, start, shape, transform);
      assert.equal(t.shape, shape);
      const got = (await t.data()) as Float32Array;
      t.dispose();
      if (transform === 'uniform') assert.equal(Array.from(got), Array.from(reference.uniform));
      else assert.ok(maxRelativeError(got, reference[transform], 1) < 1e-5, transform);
    }
    assert.is(tf.memory().numTensors, before);
  });
}

test.run();
