/**
 * The WebGPU group norm + affine + ReLU kernels (src/backend/webgpu/group-norm.ts) against the
 * tf-ops form on the cpu backend: value, dx, dγ and dβ, on SwiftShader (.vulkan-sw/).
 * Without an adapter: fails when CI=true (CI installs SwiftShader), is skipped otherwise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { selectWebgpuBackend } from '../src/backend/webgpu/node-gpu.js';
import { registerWebgpuTrainingKernels, restoreStockWebgpuKernels } from '../src/backend/webgpu/kernels.js';
import { planGroupNorm } from '../src/backend/webgpu/group-norm.js';
import { GROUP_NORM_RELU_KERNEL } from '../src/backend/kernel-names.js';
import { groupNormRelu, groupNormReluOps } from '../src/model/group-norm.js';
import { Rng } from '../src/util/rng.js';
import { maxRelativeError } from './helpers/arrays.js';
import { reportMissingAdapter, testAdapter } from './helpers/webgpu.js';

type Shape4 = [number, number, number, number];
interface Case {
  label: string;
  shape: Shape4;
  groups: number;
  /** Added to x: a mean far above σ tests the shifted variance. */
  offset: number;
}

const CASES: Case[] = [
  { label: '16 channels, 8 groups', shape: [2, 5, 7, 16], groups: 8, offset: 0 },
  { label: '3 channels, 3 groups (instance norm)', shape: [1, 9, 9, 3], groups: 3, offset: 0 },
  { label: '8 channels, 2 groups, 6144 rows (several chunks)', shape: [2, 64, 96, 8], groups: 2, offset: 0 },
  { label: '264 channels (two column tiles), 8 groups of 33', shape: [2, 4, 4, 264], groups: 8, offset: 0 },
  { label: 'mean 300 × σ', shape: [2, 6, 6, 4], groups: 2, offset: 300 },
  { label: '2 channels, 131072 rows (8 chunks per image: chunk sum in phases)', shape: [2, 256, 512, 2], groups: 1, offset: 0 },
];
const EPSILON = 1e-5;

test('planGroupNorm: chunks cover every row once, phases fit a workgroup', () => {
  for (const [rows, channels] of [[262_144, 16], [256, 256], [16, 264], [1, 1], [6144, 8]] as const) {
    const p = planGroupNorm({ batch: 2, rows, channels, groups: 1 });
    assert.ok(p.rowsPerChunk * p.chunks >= rows, `${rows}x${channels}: rows covered`);
    assert.ok(p.rowsPerChunk * (p.chunks - 1) < rows, `${rows}x${channels}: no empty chunk`);
    assert.ok(p.phases * p.cols <= 256 && p.cols * p.colTiles >= channels);
    assert.ok(p.chunks <= 64);
  }
  assert.ok(planGroupNorm({ batch: 8, rows: 262_144, channels: 16, groups: 8 }).chunks >= 64, 'a 512² layer fills a large GPU');
});

interface Results {
  z: Float32Array;
  dx: Float32Array;
  dGamma: Float32Array;
  dBeta: Float32Array;
}

/** z and the gradients of Σ r·z for one case, with `f` on tfjs's current backend. */
async function run(f: typeof groupNormRelu, c: Case, data: { x: Float32Array; gamma: Float32Array; beta: Float32Array; r: Float32Array }): Promise<Results> {
  const channels = c.shape[3];
  const [z, dx, dGamma, dBeta] = tf.tidy(() => {
    const x = tf.add(tf.tensor4d(data.x, c.shape), c.offset) as tf.Tensor4D;
    const gamma = tf.tensor1d(data.gamma);
    const beta = tf.tensor1d(data.beta);
    const r = tf.tensor4d(data.r, c.shape);
    const value = f(x, gamma, beta, c.groups, EPSILON);
    const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(f(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, c.groups, EPSILON), r)))([x, gamma, beta]);
    assert.equal(grads[1]!.shape, [channels]);
    return [value, ...grads];
  });
  const read = async (t: tf.Tensor) => {
    const v = (await t.data()) as Float32Array;
    t.dispose();
    return v;
  };
  return { z: await read(z!), dx: await read(dx!), dGamma: await read(dGamma!), dBeta: await read(dBeta!) };
}

const adapter = await testAdapter();
if (!adapter) {
  reportMissingAdapter('the WGSL group-norm kernels');
} else {
  const rng = new Rng(7);
  const random = (n: number, lo: number, hi: number) => Float32Array.from({ length: n }, () => rng.uniform(lo, hi));
  const data = CASES.map((c) => {
    const n = c.shape.reduce((a, b) => a * b, 1);
    return { x: random(n, -2, 2), gamma: random(c.shape[3], 0.5, 1.5), beta: random(c.shape[3], -0.5, 0.5), r: random(n, -1, 1) };
  });
  await tf.setBackend('cpu');
  const reference: Results[] = [];
  for (const [i, c] of CASES.entries()) reference.push(await run(groupNormReluOps, c, data[i]!));

  await selectWebgpuBackend(tf);
  registerWebgpuTrainingKernels();

  CASES.forEach((c, i) => {
    test(`group norm + ReLU kernels match the cpu ops: ${c.label}`, async () => {
      assert.ok(tf.getKernel(GROUP_NORM_RELU_KERNEL, 'webgpu'), 'registered with the training kernels');
      const got = await run(groupNormRelu, c, data[i]!);
      const want = reference[i]!;
      assert.ok(got.z.some((v) => v > 0) && got.z.some((v) => v === 0), 'ReLU active and inactive');
      // The shifted one-pass variance is a little less exact than tf.moments' two passes at mean ≫ σ.
      const tolerance = c.offset ? 2e-3 : 2e-5;
      for (const key of ['z', 'dx', 'dGamma', 'dBeta'] as const) {
        const err = maxRelativeError(got[key], want[key], 1);
        assert.ok(err < tolerance, `${key}: relative error ${err}`);
      }
    });
  });

  test('a NaN in x reaches the output (the trainer must see a diverged step)', async () => {
    const x = tf.tensor4d(Float32Array.from({ length: 2 * 3 * 3 * 4 }, (_, i) => (i === 5 ? NaN : i / 10)), [2, 3, 3, 4]);
    const z = groupNormRelu(x, tf.ones([4]) as tf.Tensor1D, tf.zeros([4]) as tf.Tensor1D, 2, EPSILON);
    const v = (await z.data()) as Float32Array;
    assert.ok(Number.isNaN(v[5]!), 'the NaN element');
    assert.ok(!Number.isNaN(v[40]!), 'the other image is unaffected');
    tf.dispose([x, z]);
  });

  test('no tensors or GPU buffers leak; stock kernels restore without it', async () => {
    const before = tf.memory();
    await run(groupNormRelu, CASES[2]!, data[2]!);
    const after = tf.memory();
    assert.is(after.numTensors, before.numTensors);
    assert.is(after.numDataBuffers, before.numDataBuffers);
    restoreStockWebgpuKernels();
    assert.not.ok(tf.getKernel(GROUP_NORM_RELU_KERNEL, 'webgpu'));
    const fallback = await run(groupNormRelu, CASES[0]!, data[0]!);
    assert.ok(maxRelativeError(fallback.dx, reference[0]!.dx, 1) < 2e-5, 'the tf-ops form on webgpu');
    registerWebgpuTrainingKernels();
  });
}

test.run();
