/**
 * Adam's fused update on wasm (src/backend/wasm/simd-adam*.ts) against the tf-op Adam: the same
 * bits for variables whose sizes leave a tail of 1–3 floats, with per-variable rate scales and a
 * frozen variable; a model-level training gives the same losses (an x updated in place would be
 * read stale by XNNPACK's filter cache from the second step on); nothing leaks.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../src/backend/index.js';
import { FUSED_ADAM_FLAG } from '../src/backend/flags.js';
import { ADAM_UPDATE_KERNEL } from '../src/backend/kernel-names.js';
import { Adam } from '../src/train/adam.js';
import { Rng } from '../src/util/rng.js';
import { adamStepLosses } from './helpers/adam-steps.js';

const SHAPES = [[7], [16], [3, 3, 4, 8], [5, 5, 3], [1]];
const RATE_SCALES = [1, 1, 0.5, 3, 1];

/** x, m and v of every variable after `steps` updates from seeded values and gradients. */
function run(fused: boolean, steps: number): Float32Array[][] {
  tf.env().set(FUSED_ADAM_FLAG, fused);
  const rng = new Rng(11);
  const random = (shape: number[]) => tf.tensor(Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.uniform(-1, 1)), shape);
  const variables = SHAPES.map((shape) => {
    const initial = random(shape);
    const x = tf.variable(initial);
    initial.dispose();
    return x;
  });
  const adam = new Adam(variables, 0.9, 0.999, 1e-7, RATE_SCALES);
  for (let s = 0; s < steps; s++) {
    const grads = SHAPES.map((shape, i) => (i === 1 && s === 1 ? null : random(shape)));
    adam.apply(grads, 1e-2 * (s + 1));
    tf.dispose(grads.filter((g): g is tf.Tensor => g !== null));
  }
  const { moments } = adam.state();
  const out = variables.map((x, i) => [x, moments[i]!, moments[SHAPES.length + i]!].map((t) => t.dataSync() as Float32Array));
  adam.dispose();
  tf.dispose(variables);
  tf.env().set(FUSED_ADAM_FLAG, true);
  return out;
}

test('wasm registers the fused Adam kernel', async () => {
  await startBackend('wasm');
  assert.ok(tf.getKernel(ADAM_UPDATE_KERNEL, 'wasm'), 'registered');
});

test('fused Adam on wasm gives the tf-op Adam\'s bits: x, m and v, tails, rate scales, a frozen step', async () => {
  await startBackend('wasm');
  const opPath = run(false, 4);
  const before = tf.memory().numTensors;
  const fused = run(true, 4);
  assert.is(tf.memory().numTensors, before, 'no tensors left');
  fused.forEach((parts, i) => parts.forEach((got, k) => {
    assert.equal(Array.from(got), Array.from(opPath[i]![k]!), `variable ${i} (${SHAPES[i]}), ${['x', 'm', 'v'][k]}`);
  }));
});

test('a short training with the fused update repeats the tf-op one loss for loss', async () => {
  await startBackend('wasm');
  const options = { steps: 5, size: 16, batch: 2, seed: 3, learningRate: 1e-2, normalization: 'none' as const };
  tf.env().set(FUSED_ADAM_FLAG, false);
  const opPath = adamStepLosses(options);
  tf.env().set(FUSED_ADAM_FLAG, true);
  const fused = adamStepLosses(options);
  assert.equal(fused, opPath);
  assert.ok(fused[4]! < fused[0]!, `the loss falls: ${fused}`);
});

test.run();
