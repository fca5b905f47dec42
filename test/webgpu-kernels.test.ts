/**
 * The WGSL training kernels (src/backend/webgpu/: filter and input gradients of conv2d, sums over
 * leading axes) against the cpu reference backend, on a software
 * WebGPU adapter (SwiftShader, installed by scripts/setup-swiftshader.sh into .vulkan-sw/).
 * Without an adapter: fails when CI=true (CI installs SwiftShader), is skipped otherwise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { selectWebgpuBackend } from '../src/backend/webgpu/node-gpu.js';
import { reportMissingAdapter, testAdapter } from './helpers/webgpu.js';
import { ROW_FILTER_GRAD_FLAG } from '../src/backend/flags.js';
import {
  registerWebgpuTrainingKernels,
  restoreStockWebgpuKernels,
  webgpuTrainingKernelsActive,
} from '../src/backend/webgpu/kernels.js';
import { planFilterGrad } from '../src/backend/webgpu/conv2d-backprop-filter.js';
import { planColumnSum } from '../src/backend/webgpu/column-sum.js';
import { chunkSumPhases } from '../src/backend/webgpu/chunk-sum.js';
import { planRowFilterGrad } from '../src/backend/webgpu/conv3x3-filter-grad.js';
import { Rng } from '../src/util/rng.js';
import { maxRelativeError } from './helpers/arrays.js';
import { reluGradient } from '../src/model/conv-relu.js';
import { upConv2x2 } from '../src/model/up-conv.js';
import { RELU_GRADIENT_KERNEL } from '../src/backend/kernel-names.js';

const adapter = await testAdapter();

type Shape4 = [number, number, number, number];
interface FilterCase {
  label: string;
  x: Shape4; // [B, H, W, Cin]
  filter: Shape4; // [KH, KW, Cin, Cout]
  stride: 1 | 2;
  pad: 'same' | 'valid';
}

const FILTER_CASES: FilterCase[] = [
  { label: '3x3 same s1, Cin 3 Cout 5', x: [2, 7, 7, 3], filter: [3, 3, 3, 5], stride: 1, pad: 'same' },
  { label: '3x3 same s2, Cin 4 Cout 6', x: [2, 8, 8, 4], filter: [3, 3, 4, 6], stride: 2, pad: 'same' },
  { label: '3x3 valid s1, Cout 17 (two column tiles)', x: [1, 9, 7, 2], filter: [3, 3, 2, 17], stride: 1, pad: 'valid' },
  { label: '3x3 valid s2, Cin 20 (M 180: three row tiles)', x: [1, 7, 6, 20], filter: [3, 3, 20, 3], stride: 2, pad: 'valid' },
  { label: '1x1 head, Cin 8 Cout 1', x: [2, 4, 4, 8], filter: [1, 1, 8, 1], stride: 1, pad: 'same' },
  { label: '3x3 same s1, K 2048 (several chunks)', x: [2, 32, 32, 2], filter: [3, 3, 2, 3], stride: 1, pad: 'same' },
  { label: '3x3 same s1, K 8192 (32 chunks: 8 chunk-sum phases)', x: [2, 64, 64, 1], filter: [3, 3, 1, 2], stride: 1, pad: 'same' },
];

/** 3×3 'same' stride-1 cases for the row-tiled filter gradient (flag CTQUANT_WEBGPU_ROW_FILTER_GRAD). */
const ROW_CASES: FilterCase[] = [
  { label: 'Cin 16 Cout 16 (one full tile, one phase), 40 wide (two segments)', x: [2, 5, 40, 16], filter: [3, 3, 16, 16], stride: 1, pad: 'same' },
  { label: 'Cin 8 Cout 4 (8 phases), 33 wide (a partial segment)', x: [3, 7, 33, 8], filter: [3, 3, 8, 4], stride: 1, pad: 'same' },
  { label: 'Cin 20 Cout 17 (partial second tiles)', x: [1, 6, 33, 20], filter: [3, 3, 20, 17], stride: 1, pad: 'same' },
  { label: 'Cin 8 Cout 3, 64×64 (many chunks)', x: [2, 64, 64, 8], filter: [3, 3, 8, 3], stride: 1, pad: 'same' },
];

function randomArray(rng: Rng, size: number): Float32Array {
  const a = new Float32Array(size);
  for (let i = 0; i < size; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function outShape(c: FilterCase): Shape4 {
  const [b, h, w] = c.x;
  const co = c.filter[3];
  if (c.pad === 'same') return [b, Math.ceil(h / c.stride), Math.ceil(w / c.stride), co];
  return [b, Math.ceil((h - c.filter[0] + 1) / c.stride), Math.ceil((w - c.filter[1] + 1) / c.stride), co];
}

/** Reads a tensor back (webgpu has no synchronous read in Node) and frees it. */
async function readAndDispose(t: tf.Tensor): Promise<Float32Array> {
  const values = (await t.data()) as Float32Array;
  t.dispose();
  return values;
}

function backpropFilter(c: FilterCase, x: Float32Array, dy: Float32Array): Promise<Float32Array> {
  return readAndDispose(tf.tidy(() => {
    const xt = tf.tensor4d(x, c.x);
    const dyt = tf.tensor4d(dy, outShape(c));
    const out = tf.engine().runKernel('Conv2DBackpropFilter', { x: xt, dy: dyt }, {
      strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: c.filter,
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
    return out;
  }));
}

function backpropInput(c: FilterCase, dy: Float32Array, filter: Float32Array): Promise<Float32Array> {
  return readAndDispose(tf.tidy(() => tf.engine().runKernel('Conv2DBackpropInput', {
    dy: tf.tensor4d(dy, outShape(c)), filter: tf.tensor4d(filter, c.filter),
  }, {
    strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined, inputShape: c.x,
  } as unknown as tf.NamedAttrMap) as tf.Tensor));
}

/** Sums over leading axes (the column-sum kernel), inner axes and all axes (stock), keepDims or not. */
const SUM_CASES: { label: string; shape: number[]; axis: number[]; keepDims: boolean }[] = [
  { label: 'bias gradient [2,9,7,5] over 0,1,2', shape: [2, 9, 7, 5], axis: [0, 1, 2], keepDims: false },
  { label: 'bias gradient, 300 channels (two column tiles), keepDims', shape: [3, 5, 4, 300], axis: [0, 1, 2], keepDims: true },
  { label: '[40000,3] over 0 (many chunks, phases)', shape: [40000, 3], axis: [0], keepDims: false },
  { label: '[4,6,6,48] over 1,0 (48 columns: 5 phases, threads left over)', shape: [4, 6, 6, 48], axis: [1, 0], keepDims: false },
  { label: '[600000,5] over 0 (92 chunks: 16 chunk-sum phases, 5 of 16 columns used)', shape: [600000, 5], axis: [0], keepDims: false },
  { label: 'inner axes (stock path)', shape: [3, 4, 5], axis: [1, 2], keepDims: false },
  { label: 'all axes (stock path)', shape: [3, 4, 5], axis: [0, 1, 2], keepDims: false },
];

function sumCase(c: (typeof SUM_CASES)[number], x: Float32Array): Promise<Float32Array> {
  return readAndDispose(tf.tidy(() => tf.sum(tf.tensor(x, c.shape), c.axis, c.keepDims)));
}

/** Gradients of Σ r·conv2dTranspose(x, f) (2×2 stride-2 up-convolution of the U-Net) w.r.t. x and f. */
async function transposedConvGrads(x: Float32Array, f: Float32Array, r: Float32Array): Promise<Float32Array[]> {
  const grads = tf.tidy(() => {
    const xt = tf.tensor4d(x, [2, 4, 4, 6]);
    const ft = tf.tensor4d(f, [2, 2, 3, 6]); // [KH, KW, outChannels, inChannels]
    const rt = tf.tensor4d(r, [2, 8, 8, 3]);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [2, 8, 8, 3], 2, 'same'), rt)));
    return g([xt, ft]);
  });
  return Promise.all(grads.map(readAndDispose));
}

/** Gradients of Σ r·upConv2x2(x, k, b) w.r.t. x, k, b; [2, 32, 32, 16] → [2, 64, 64, 8]: dK's inner dimension is 2048 pixels. */
async function upConvGrads(x: Float32Array, k: Float32Array, r: Float32Array): Promise<Float32Array[]> {
  const grads = tf.tidy(() => {
    const g = tf.grads((a: tf.Tensor, kk: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(upConv2x2(a as tf.Tensor4D, kk as tf.Tensor2D, b as tf.Tensor1D), tf.tensor4d(r, [2, 64, 64, 8]))));
    return g([tf.tensor4d(x, [2, 32, 32, 16]), tf.tensor2d(k, [16, 32]), tf.zeros([8])]);
  });
  return Promise.all(grads.map(readAndDispose));
}

test('planFilterGrad covers the problem in whole steps and splits long pixel axes', () => {
  const unetTop = {
    batch: 8, inHeight: 512, inWidth: 512, inChannels: 16, outHeight: 512, outWidth: 512, outChannels: 16,
    filterHeight: 3, filterWidth: 3, strideHeight: 1, strideWidth: 1, padTop: 1, padLeft: 1,
  };
  const small = { ...unetTop, batch: 2, inHeight: 32, inWidth: 32, inChannels: 2, outHeight: 32, outWidth: 32, outChannels: 3 };
  const tiny = { ...small, batch: 1, inHeight: 4, inWidth: 4, outHeight: 4, outWidth: 4 };
  for (const g of [unetTop, small, tiny]) {
    const plan = planFilterGrad(g);
    const K = g.batch * g.outHeight * g.outWidth;
    assert.is(plan.chunk % 16, 0, 'chunk is whole TK steps');
    assert.ok(plan.chunk * plan.chunks >= K, 'chunks cover every pixel');
    assert.ok(plan.chunk * (plan.chunks - 1) < K, 'no empty chunk');
    assert.ok(plan.tileM * plan.tilesM >= 9 * g.inChannels);
    assert.ok(plan.tileN * plan.tilesN >= g.outChannels);
  }
  assert.is(planFilterGrad(tiny).chunks, 1, 'a 16-pixel problem is one chunk');
  assert.ok(planFilterGrad(small).chunks > 1, 'K 2048 is split');
  const top = planFilterGrad(unetTop);
  assert.ok(top.tilesM * top.tilesN * top.chunks >= 1024, 'the 512² layer fills a large GPU');
});

test('planColumnSum: chunks cover every row once, phases fit a workgroup', () => {
  for (const [outer, inner] of [[2_097_152, 16], [8192, 256], [7, 300], [1, 1], [40000, 3], [288, 48]] as const) {
    const p = planColumnSum(outer, inner);
    assert.ok(p.rowsPerChunk * p.chunks >= outer, `${outer}x${inner}: rows covered`);
    assert.ok(p.rowsPerChunk * (p.chunks - 1) < outer, `${outer}x${inner}: no empty chunk`);
    assert.ok(p.phases * p.cols <= 256 && p.cols * p.colTiles >= inner);
    assert.ok(p.chunks <= 1024);
  }
  assert.ok(planColumnSum(2_097_152, 16).chunks >= 512, 'a 512², batch-8 bias gradient fills a large GPU');
});

test('planRowFilterGrad: tiles cover the channels, phases fill at most a workgroup, chunks cover every row once', () => {
  for (const shape of [
    { batch: 8, height: 256, width: 256, inChannels: 16, outChannels: 16 },
    { batch: 8, height: 256, width: 256, inChannels: 1, outChannels: 16 },
    { batch: 2, height: 6, width: 33, inChannels: 20, outChannels: 17 },
    { batch: 1, height: 1, width: 1, inChannels: 256, outChannels: 256 },
  ]) {
    const p = planRowFilterGrad(shape);
    assert.ok(p.tileC * p.tilesC >= shape.inChannels && p.tileN * p.tilesN >= shape.outChannels);
    assert.ok(p.tileC * p.tileN * p.phases <= 256 && 32 / p.phases >= 2);
    const rows = shape.batch * shape.height;
    assert.ok(p.rowsPerChunk * p.chunks >= rows && p.rowsPerChunk * (p.chunks - 1) < rows);
  }
  assert.is(planRowFilterGrad({ batch: 8, height: 256, width: 256, inChannels: 1, outChannels: 16 }).phases, 16);
});

test('chunkSumPhases: a power of two up to 16, at least 4 chunks per phase', () => {
  assert.equal([1, 3, 7, 8, 15, 16, 31, 32, 63, 64, 700].map(chunkSumPhases), [1, 1, 1, 2, 2, 4, 4, 8, 8, 16, 16]);
});

if (!adapter) {
  reportMissingAdapter('the WGSL kernels');
} else {
  const rng = new Rng(2024);
  const data = FILTER_CASES.map((c) => ({ x: randomArray(rng, size(c.x)), dy: randomArray(rng, size(outShape(c))) }));
  const tx = randomArray(rng, 2 * 4 * 4 * 6);
  const tfilt = randomArray(rng, 2 * 2 * 3 * 6);
  const tr = randomArray(rng, 2 * 8 * 8 * 3);
  const filters = FILTER_CASES.map((c) => randomArray(rng, size(c.filter)));
  const sums = SUM_CASES.map((c) => randomArray(rng, size(c.shape)));
  const rowData = ROW_CASES.map((c) => ({ x: randomArray(rng, size(c.x)), dy: randomArray(rng, size(outShape(c))) }));

  // References first, on cpu.
  await tf.setBackend('cpu');
  const refFilter = await Promise.all(FILTER_CASES.map((c, i) => backpropFilter(c, data[i]!.x, data[i]!.dy)));
  const refTransposed = await transposedConvGrads(tx, tfilt, tr);
  const ux = randomArray(rng, 2 * 32 * 32 * 16);
  const uk = randomArray(rng, 16 * 32);
  const ur = randomArray(rng, 2 * 64 * 64 * 8);
  const refUpConv = await upConvGrads(ux, uk, ur);
  const refInput = await Promise.all(FILTER_CASES.map((c, i) => backpropInput(c, data[i]!.dy, filters[i]!)));
  const refSums = await Promise.all(SUM_CASES.map((c, i) => sumCase(c, sums[i]!)));
  const refRow = await Promise.all(ROW_CASES.map((c, i) => backpropFilter(c, rowData[i]!.x, rowData[i]!.dy)));
  // y with exact zeros, negatives and one NaN (element 0); the reference is tf's step and multiply.
  const reluY = Array.from(randomArray(rng, 210), (v, i) => (i === 0 ? NaN : i % 9 === 0 ? 0 : v));
  const reluDy = randomArray(rng, 210);
  const refRelu = await readAndDispose(tf.mul(tf.tensor1d(reluDy), tf.step(tf.tensor1d(reluY))));

  await selectWebgpuBackend(tf);
  registerWebgpuTrainingKernels();

  test(`adapter is reported (${adapter.vendor} ${adapter.architecture})`, () => {
    assert.ok(adapter.vendor.length + adapter.architecture.length > 0);
    assert.ok(webgpuTrainingKernelsActive());
  });

  FILTER_CASES.forEach((c, i) => {
    test(`Conv2DBackpropFilter matches cpu: ${c.label}`, async () => {
      const got = await backpropFilter(c, data[i]!.x, data[i]!.dy);
      assert.ok(got.some((v) => v !== 0), 'all zeros');
      const err = maxRelativeError(got, refFilter[i]!, 1);
      assert.ok(err < 1e-5, `relative error ${err}`);
    });
  });

  FILTER_CASES.forEach((c, i) => {
    test(`Conv2DBackpropInput matches cpu: ${c.label}`, async () => {
      const got = await backpropInput(c, data[i]!.dy, filters[i]!);
      assert.ok(got.some((v) => v !== 0), 'all zeros');
      const err = maxRelativeError(got, refInput[i]!, 1);
      assert.ok(err < 1e-5, `relative error ${err}`);
    });
  });

  ROW_CASES.forEach((c, i) => {
    test(`row-tiled 3×3 filter gradient (flag on) matches cpu: ${c.label}`, async () => {
      tf.env().set(ROW_FILTER_GRAD_FLAG, true);
      try {
        const got = await backpropFilter(c, rowData[i]!.x, rowData[i]!.dy);
        const err = maxRelativeError(got, refRow[i]!, 1);
        assert.ok(err < 1e-5, `relative error ${err}`);
      } finally {
        tf.env().set(ROW_FILTER_GRAD_FLAG, false);
      }
    });
  });

  SUM_CASES.forEach((c, i) => {
    test(`Sum matches cpu: ${c.label}`, async () => {
      const got = await sumCase(c, sums[i]!);
      const err = maxRelativeError(got, refSums[i]!, 1);
      assert.ok(err < 1e-5, `relative error ${err}`);
    });
  });

  test('conv2dTranspose gradients (filter gradient with swapped roles) match cpu', async () => {
    const [dx, df] = await transposedConvGrads(tx, tfilt, tr);
    assert.ok(maxRelativeError(dx!, refTransposed[0]!, 1) < 1e-5, 'input gradient');
    assert.ok(maxRelativeError(df!, refTransposed[1]!, 1) < 1e-5, 'filter gradient');
  });

  test('ReLU gradient kernel: dy·[y > 0] as cpu, NaN passes through, stock kernels restore without it', async () => {
    assert.ok(tf.getKernel(RELU_GRADIENT_KERNEL, 'webgpu'), 'registered with the training kernels');
    const y = tf.tensor4d(Float32Array.from(reluY), [2, 5, 7, 3]);
    const dy = tf.tensor4d(Float32Array.from(reluDy), [2, 5, 7, 3]);
    const got = await readAndDispose(reluGradient(dy, y));
    assert.equal(Array.from(got.slice(1)), Array.from(refRelu.slice(1)));
    assert.ok(Number.isNaN(got[0]!), 'NaN in y gives NaN');
    tf.dispose([y, dy]);
    restoreStockWebgpuKernels();
    assert.not.ok(tf.getKernel(RELU_GRADIENT_KERNEL, 'webgpu'));
    registerWebgpuTrainingKernels();
  });

  test('upConv2x2 gradients match cpu and repeat bit for bit (kernel gradient in fixed order, no atomics)', async () => {
    const first = await upConvGrads(ux, uk, ur);
    const second = await upConvGrads(ux, uk, ur);
    ['input', 'kernel', 'bias'].forEach((name, i) => {
      const err = maxRelativeError(first[i]!, refUpConv[i]!, 1);
      assert.ok(err < 1e-5, `${name} gradient: relative error ${err}`);
      assert.equal(Array.from(second[i]!), Array.from(first[i]!), `${name} gradient differs between two runs`);
    });
  });

  test('no tensors or GPU buffers leak from the multi-pass kernels', async () => {
    const c = FILTER_CASES[0]!;
    const before = tf.memory();
    await backpropFilter(c, data[0]!.x, data[0]!.dy);
    await backpropInput(c, data[0]!.dy, filters[0]!);
    await sumCase(SUM_CASES[0]!, sums[0]!);
    const after = tf.memory();
    assert.is(after.numTensors, before.numTensors);
    assert.is(after.numBytes, before.numBytes);
    assert.is(after.numDataBuffers, before.numDataBuffers);
  });

  test('restoreStockWebgpuKernels puts the stock kernel back, and it agrees', async () => {
    restoreStockWebgpuKernels();
    assert.not.ok(webgpuTrainingKernelsActive());
    const c = FILTER_CASES[1]!;
    const got = await backpropFilter(c, data[1]!.x, data[1]!.dy);
    assert.ok(maxRelativeError(got, refFilter[1]!, 1) < 1e-5);
    registerWebgpuTrainingKernels();
    assert.ok(webgpuTrainingKernelsActive());
  });
}

test.run();
