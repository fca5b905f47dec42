/**
 * ctquant's wasm group norm + affine + ReLU kernels (src/backend/wasm/simd-group-norm*.ts) against
 * the tf-ops form on the same backend: value, dx, dγ and dβ on shapes with odd H·W, batch 1 and 3,
 * channel counts that the vectors cover, that mix groups within a vector (3 channels a group) or
 * leave a scalar tail, several chunks per image and a mean far above σ. With the flag off,
 * groupNormRelu is exactly the tf-ops form; a short training with the kernels stays close to one
 * without.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../src/backend/index.js';
import { WASM_GROUP_NORM_FLAG } from '../src/backend/flags.js';
import { GROUP_NORM_RELU_GRAD_KERNEL, GROUP_NORM_RELU_KERNEL } from '../src/backend/kernel-names.js';
import { planUnits } from '../src/backend/wasm/simd-group-norm.js';
import { groupNormRelu, groupNormReluOps } from '../src/model/group-norm.js';
import { Adam } from '../src/train/adam.js';
import { Rng } from '../src/util/rng.js';
import { maxRelativeError } from './helpers/arrays.js';
import { adamStepLosses } from './helpers/adam-steps.js';

type Shape4 = [number, number, number, number];
interface Case {
  label: string;
  shape: Shape4;
  groups: number;
  /** Added to x: a mean far above σ tests the shifted variance. */
  offset: number;
}

const CASES: Case[] = [
  { label: '8 channels, 4 groups, batch 1, 5×7', shape: [1, 5, 7, 8], groups: 4, offset: 0 },
  { label: '16 channels, 4 groups, batch 3, 9×3', shape: [3, 9, 3, 16], groups: 4, offset: 0 },
  { label: '12 channels, 4 groups of 3 (groups mix within a vector), batch 3, 7×5', shape: [3, 7, 5, 12], groups: 4, offset: 0 },
  { label: '6 channels, 2 groups (a scalar tail of 2), 3×5', shape: [2, 3, 5, 6], groups: 2, offset: 0 },
  { label: '3 channels, 3 groups (instance norm, all scalar), 9×9', shape: [1, 9, 9, 3], groups: 3, offset: 0 },
  { label: '8 channels, 2 groups, 40×33 (two chunks per image, the second short)', shape: [2, 40, 33, 8], groups: 2, offset: 0 },
  { label: '264 channels, 8 groups of 33', shape: [2, 4, 5, 264], groups: 8, offset: 0 },
  { label: 'mean 300 × σ', shape: [2, 6, 6, 4], groups: 2, offset: 300 },
];
const EPSILON = 1e-5;

interface Results {
  z: Float32Array;
  dx: Float32Array;
  dGamma: Float32Array;
  dBeta: Float32Array;
}

interface Data { x: Float32Array; gamma: Float32Array; beta: Float32Array; r: Float32Array }

/** z and the gradients of Σ r·z for one case, through `f`. */
function run(f: typeof groupNormRelu, c: Case, data: Data): Results {
  const channels = c.shape[3];
  return tf.tidy(() => {
    const x = tf.add(tf.tensor4d(data.x, c.shape), c.offset) as tf.Tensor4D;
    const gamma = tf.tensor1d(data.gamma);
    const beta = tf.tensor1d(data.beta);
    const r = tf.tensor4d(data.r, c.shape);
    const value = f(x, gamma, beta, c.groups, EPSILON);
    const [dx, dGamma, dBeta] = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(f(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, c.groups, EPSILON), r)))([x, gamma, beta]);
    assert.equal(dGamma!.shape, [channels]);
    const read = (t: tf.Tensor) => t.dataSync() as Float32Array;
    return { z: read(value), dx: read(dx!), dGamma: read(dGamma!), dBeta: read(dBeta!) };
  });
}

function withFlag<T>(on: boolean, f: () => T): T {
  const before = tf.env().getBool(WASM_GROUP_NORM_FLAG);
  tf.env().set(WASM_GROUP_NORM_FLAG, on);
  try {
    return f();
  } finally {
    tf.env().set(WASM_GROUP_NORM_FLAG, before);
  }
}

await startBackend('wasm', () => {});
const rng = new Rng(7);
const random = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => rng.uniform(lo, hi));
const data: Data[] = CASES.map((c) => {
  const n = c.shape.reduce((a, b) => a * b, 1);
  return { x: random(n, -2, 2), gamma: random(c.shape[3], 0.5, 1.5), beta: random(c.shape[3], -0.5, 0.5), r: random(n, -1, 1) };
});

test('planUnits: chunks cover every pixel once; several per image where the image is large', () => {
  for (const [pixels, channels] of [[35, 8], [1320, 8], [20, 264], [65_536, 16], [1, 1]] as const) {
    const p = planUnits(3, pixels, channels);
    assert.ok(p.chunkPixels * p.chunksPerImage >= pixels && p.chunkPixels * (p.chunksPerImage - 1) < pixels, `${pixels}×${channels}`);
    assert.is(p.units, 3 * p.chunksPerImage);
  }
  assert.is(planUnits(1, 1320, 8).chunksPerImage, 2);
});

/** Names of the kernels one forward + backward of groupNormRelu runs, with the flag on or off. */
async function kernelsRun(on: boolean): Promise<string[]> {
  const c = CASES[0]!;
  const before = tf.env().getBool(WASM_GROUP_NORM_FLAG);
  tf.env().set(WASM_GROUP_NORM_FLAG, on);
  try {
    const profile = await tf.profile(() => {
      const dx = tf.tidy(() => {
        const g = tf.tensor1d(data[0]!.gamma);
        const b = tf.tensor1d(data[0]!.beta);
        return tf.grad((a: tf.Tensor) => groupNormRelu(a as tf.Tensor4D, g, b, c.groups, EPSILON))(tf.tensor4d(data[0]!.x, c.shape));
      });
      dx.dispose();
    });
    return profile.kernelNames;
  } finally {
    tf.env().set(WASM_GROUP_NORM_FLAG, before);
  }
}

test('the kernels are registered on wasm and groupNormRelu runs them unless the flag is off', async () => {
  assert.ok(tf.getKernel(GROUP_NORM_RELU_KERNEL, 'wasm') && tf.getKernel(GROUP_NORM_RELU_GRAD_KERNEL, 'wasm'));
  assert.ok(tf.env().getBool(WASM_GROUP_NORM_FLAG), 'on by default');
  const on = await kernelsRun(true);
  const off = await kernelsRun(false);
  assert.ok(on.includes(GROUP_NORM_RELU_KERNEL) && on.includes(GROUP_NORM_RELU_GRAD_KERNEL), `flag on: ${on}`);
  assert.not.ok(off.includes(GROUP_NORM_RELU_KERNEL) || off.includes(GROUP_NORM_RELU_GRAD_KERNEL), `flag off: ${off}`);
  assert.ok(off.includes('Rsqrt') && !on.includes('Rsqrt'), `flag off: the tf-ops form (${off}), on: ${on}`);
});

CASES.forEach((c, i) => {
  test(`wasm group norm + ReLU kernels match the tf ops: ${c.label}`, () => {
    const want = run(groupNormReluOps, c, data[i]!);
    const got = withFlag(true, () => run(groupNormRelu, c, data[i]!));
    assert.ok(got.z.some((v) => v > 0) && got.z.some((v) => v === 0), 'ReLU active and inactive');
    // tf.moments' two passes against one shifted pass summed in float64: at mean ≫ σ the float32
    // (x − μ) of both forms loses the same digits, and they round differently.
    const tolerance = c.offset ? 2e-4 : 1e-5;
    for (const key of ['z', 'dx', 'dGamma', 'dBeta'] as const) {
      const err = maxRelativeError(got[key], want[key], 1);
      assert.ok(err < tolerance, `${key}: relative error ${err}`);
    }
  });
});

test('with the flag off, groupNormRelu is exactly the tf-ops form', () => {
  for (const [i, c] of CASES.entries()) {
    const want = run(groupNormReluOps, c, data[i]!);
    const got = withFlag(false, () => run(groupNormRelu, c, data[i]!));
    assert.equal(got, want, c.label);
  }
});

test('a NaN in x reaches the output; the other image is unaffected', () => {
  const x = tf.tensor4d(Float32Array.from({ length: 2 * 3 * 3 * 4 }, (_, i) => (i === 5 ? NaN : i / 10)), [2, 3, 3, 4]);
  const z = withFlag(true, () => groupNormRelu(x, tf.ones([4]) as tf.Tensor1D, tf.zeros([4]) as tf.Tensor1D, 2, EPSILON));
  const v = z.dataSync();
  assert.ok(Number.isNaN(v[5]!), 'the NaN element');
  assert.ok(!Number.isNaN(v[40]!), 'the other image is unaffected');
  tf.dispose([x, z]);
});

test('no tensors leak', () => {
  const before = tf.memory();
  withFlag(true, () => run(groupNormRelu, CASES[5]!, data[5]!));
  const after = tf.memory();
  assert.is(after.numTensors, before.numTensors);
  assert.is(after.numBytes, before.numBytes);
});

/** Losses of a few Adam steps of a small joint model with a group-norm U-Net, from a fixed seed. */
function trainLosses(steps: number): number[] {
  return adamStepLosses({ steps, size: 24, batch: 3, seed: 5, learningRate: 1e-2, normalization: 'group' });
}

test('a short training with the kernels follows the one without, and repeats itself exactly', () => {
  const steps = 5;
  const off = withFlag(false, () => trainLosses(steps));
  const on = withFlag(true, () => trainLosses(steps));
  const again = withFlag(true, () => trainLosses(steps));
  assert.ok(on.every(Number.isFinite));
  assert.ok(on[steps - 1]! < on[0]!, `the loss falls: ${on}`);
  // Adam's first steps move each weight by about lr·sign(g), so a last-bit difference in a near-zero
  // gradient becomes a whole step: with the Winograd F(4×4) convolutions (this 24², batch-3 model has
  // 108 of its tiles, so it takes them since they run from 4 tiles) the two trajectories drift apart
  // by up to 1.4e-3 within 5 steps at lr 1e-2; the first step agrees to 1e-7. A wrong kernel is off
  // by far more, from the first step on.
  assert.ok(maxRelativeError(on.slice(0, 1), off.slice(0, 1), 1) < 1e-5, `first loss ${on[0]} vs ${off[0]}`);
  assert.ok(maxRelativeError(on, off, 1) < 3e-3, `losses ${on} vs ${off}`);
  assert.equal(again, on);
});

test.run();
