/**
 * The wasm training kernels (src/backend/wasm/kernels.ts) against the cpu reference backend:
 * filter and input gradients of conv2d on random shapes, strides 1 and 2, same and valid padding.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../src/backend/index.js';
import { IM2COL_FLAG, WASM_FILTER_ROTATION_FLAG } from '../src/backend/flags.js';
import { Rng } from '../src/util/rng.js';
import { maxRelativeError } from './helpers/arrays.js';
import { rotatedSwappedFilter } from '../src/backend/kernel-geometry.js';
import type { WasmHeapBackend } from '../src/backend/wasm/heap.js';
import { inputGradientFilterTensor } from '../src/backend/wasm/input-gradient-filter.js';
import { productRowWidth, programName, programsFor, simdProduct, simdTransposedProduct } from '../src/backend/wasm/simd-conv.js';

interface Case {
  n: number; h: number; w: number; cin: number; cout: number; k: number; stride: 1 | 2; pad: 'same' | 'valid';
}

function randomArray(rng: Rng, size: number): Float32Array {
  const a = new Float32Array(size);
  for (let i = 0; i < size; i++) a[i] = rng.uniform(-1, 1);
  return a;
}

const rng = new Rng(11);
const cases: Case[] = [];
for (const stride of [1, 2] as const) {
  for (const pad of ['same', 'valid'] as const) {
    for (let rep = 0; rep < 3; rep++) {
      cases.push({
        n: 1 + rng.int(3), h: 5 + rng.int(8), w: 5 + rng.int(8), cin: 1 + rng.int(5), cout: 1 + rng.int(6),
        k: [1, 2, 3, 5][rng.int(4)]!, stride, pad,
      });
    }
  }
}
// The U-Net's own shape: 3x3 same, stride 1.
cases.push({ n: 4, h: 16, w: 16, cin: 8, cout: 16, k: 3, stride: 1, pad: 'same' });
// Its first layer (a one-channel image) and its 1×1 head (one output channel): zero-padded channels.
cases.push({ n: 2, h: 16, w: 16, cin: 1, cout: 16, k: 3, stride: 1, pad: 'same' });
cases.push({ n: 2, h: 12, w: 12, cin: 16, cout: 1, k: 1, stride: 1, pad: 'same' });
cases.push({ n: 2, h: 12, w: 8, cin: 3, cout: 5, k: 3, stride: 1, pad: 'valid' });

const inputs = cases.map((c) => ({
  x: randomArray(rng, c.n * c.h * c.w * c.cin),
  f: randomArray(rng, c.k * c.k * c.cin * c.cout),
  seedR: rng.int(1 << 30),
}));

function grads(c: Case, i: number): { dx: Float32Array; df: Float32Array } {
  return tf.tidy(() => {
    const x = tf.tensor4d(inputs[i]!.x, [c.n, c.h, c.w, c.cin]);
    const f = tf.tensor4d(inputs[i]!.f, [c.k, c.k, c.cin, c.cout]);
    const y = tf.conv2d(x, f, c.stride, c.pad);
    // A fixed random weighting so dy is not uniform.
    const r = tf.tensor(randomArray(new Rng(inputs[i]!.seedR), y.size), y.shape);
    const g = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), r)));
    const [dx, df] = g([x, f]);
    return { dx: dx!.dataSync() as Float32Array, df: df!.dataSync() as Float32Array };
  });
}

test('wasm conv2d filter and input gradients equal cpu within 1e-4 relative (im2col and conv filter gradients)', async () => {
  await startBackend('cpu');
  const reference = cases.map((c, i) => grads(c, i));
  await startBackend('wasm');
  assert.is(tf.getBackend(), 'wasm');
  assert.ok(tf.env().getBool(IM2COL_FLAG), 'one thread: im2col filter gradient by default');
  for (const im2col of [true, false]) {
    tf.env().set(IM2COL_FLAG, im2col);
    cases.forEach((c, i) => {
      const got = grads(c, i);
      const ref = reference[i]!;
      assert.is(got.df.length, ref.df.length);
      const ef = maxRelativeError(got.df, ref.df, 1e-6);
      const ex = maxRelativeError(got.dx, ref.dx, 1e-6);
      assert.ok(ef < 1e-4, `filter gradient (im2col ${im2col}) ${JSON.stringify(c)}: relative error ${ef}`);
      assert.ok(ex < 1e-4, `input gradient ${JSON.stringify(c)}: relative error ${ex}`);
    });
  }
  tf.env().set(IM2COL_FLAG, true);
});

test('im2col filter gradient in several row blocks equals the conv formulation, and frees its temporaries', () => {
  // 9·256 taps × 128 columns per output row: 2^25-float blocks of 113 rows, one crossing the image boundary.
  const x = tf.randomNormal([2, 128, 128, 256], 0, 1, 'float32', 3) as tf.Tensor4D;
  const dy = tf.randomNormal([2, 128, 128, 2], 0, 1, 'float32', 4) as tf.Tensor4D;
  const run = (im2col: boolean) => {
    tf.env().set(IM2COL_FLAG, im2col);
    return tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, {
      strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, 256, 2],
    } as unknown as tf.NamedAttrMap) as tf.Tensor;
  };
  const before = tf.memory().numBytes;
  const blocked = run(true);
  const conv = run(false);
  tf.env().set(IM2COL_FLAG, true);
  assert.is(tf.memory().numBytes - before, blocked.size * 4 * 2, 'only the two results remain');
  const err = maxRelativeError(blocked.dataSync() as Float32Array, conv.dataSync() as Float32Array, 1e-6);
  assert.ok(err < 1e-5, `relative error ${err}`);
  tf.dispose([x, dy, blocked, conv]);
});

test('wasm matMul with transposes (matmul gradients) equals cpu, batched and not', async () => {
  const shapes: Array<[number[], number[], boolean, boolean]> = [
    [[7, 5], [5, 3], false, false], [[5, 7], [5, 3], true, false], [[7, 5], [3, 5], false, true],
    [[5, 7], [3, 5], true, true], [[2, 6, 4], [2, 6, 3], true, false], [[2, 4, 6], [2, 3, 6], false, true],
    // aᵀ·b through the SIMD filter-gradient program (M % 4 = 0, N % 8 = 0, batch 1): K in chunks of
    // 200 pixels, a prime K in one row, rank 2 and 3.
    [[600, 12], [600, 24], true, false], [[1, 37, 4], [1, 37, 8], true, false], [[1, 24, 8], [1, 24, 16], true, false],
    // a·b and a·bᵀ through the forward conv program as a 1×1 conv (N % 8 = 0, batch 1): M in rows of
    // 64, of 36, a prime M in one row, rank 3, and b transposed first.
    [[256, 12], [12, 16], false, false], [[1, 36, 20], [1, 20, 8], false, false], [[37, 16], [24, 16], false, true],
    [[1, 64, 9], [1, 32, 9], false, true],
  ];
  const data = shapes.map(([a, b]) => [randomArray(rng, a.reduce((x, y) => x * y)), randomArray(rng, b.reduce((x, y) => x * y))]);
  const compute = () => shapes.map(([sa, sb, ta, tb], i) =>
    tf.tidy(() => tf.matMul(tf.tensor(data[i]![0]!, sa), tf.tensor(data[i]![1]!, sb), ta, tb).dataSync() as Float32Array));
  await startBackend('cpu');
  const reference = compute();
  await startBackend('wasm');
  const got = compute();
  got.forEach((g, i) => assert.ok(maxRelativeError(g, reference[i]!, 1e-6) < 1e-5, `matMul case ${i}`));
  const backend = tf.backend() as unknown as WasmHeapBackend;
  shapes.forEach(([sa, sb, ta, tb], i) => {
    if (!ta || tb || i < 6) return;
    const direct = tf.tidy(() => {
      const product = simdTransposedProduct(backend, tf.tensor(data[i]![0]!, sa), tf.tensor(data[i]![1]!, sb));
      assert.ok(product, `covered: case ${i}`);
      return tf.engine().makeTensorFromTensorInfo(product!).dataSync() as Float32Array;
    });
    assert.equal(Array.from(got[i]!), Array.from(direct), `case ${i} takes the SIMD path`);
  });
  assert.is(simdTransposedProduct(backend, tf.zeros([2, 6, 4]), tf.zeros([2, 6, 8])), null, 'batch 2 stays with XNNPACK');
  assert.is(simdTransposedProduct(backend, tf.zeros([6, 6]), tf.zeros([6, 8])), null, 'M = 6');
  shapes.forEach(([sa, sb, ta, tb], i) => {
    if (ta || i < 9) return;
    const direct = tf.tidy(() => {
      const b = tf.tensor(data[i]![1]!, sb);
      const product = simdProduct(backend, tf.tensor(data[i]![0]!, sa), tb ? tf.transpose(b, sb.length === 3 ? [0, 2, 1] : [1, 0]) : b);
      assert.ok(product, `covered: case ${i}`);
      return tf.engine().makeTensorFromTensorInfo(product!).dataSync() as Float32Array;
    });
    assert.equal(Array.from(got[i]!), Array.from(direct), `case ${i} takes the SIMD path`);
  });
  assert.is(simdProduct(backend, tf.zeros([2, 6, 4]), tf.zeros([2, 4, 8])), null, 'batch 2 stays with XNNPACK');
  assert.is(simdProduct(backend, tf.zeros([6, 4]), tf.zeros([4, 12])), null, 'N = 12');
  assert.is(simdProduct(backend, tf.zeros([6, 1024]), tf.zeros([1024, 512])), null, 'b over 1 MiB');
  assert.equal([productRowWidth(256, 1), productRowWidth(256, 2), productRowWidth(37, 1), productRowWidth(36, 2)], [64, 64, 37, 18]);
  // XNNPACK's GEMM adds in the same order and gives the same bits, so watch which programs run.
  const programs = programsFor(backend)!;
  const run = programs.run;
  const ran: string[] = [];
  programs.run = function (name: string, argLists: number[][]) {
    ran.push(name);
    return run.call(this, name, argLists);
  };
  try {
    shapes.forEach(([sa, sb, ta, tb], i) => {
      ran.length = 0;
      tf.tidy(() => tf.matMul(tf.tensor(data[i]![0]!, sa), tf.tensor(data[i]![1]!, sb), ta, tb).dataSync());
      const want = i >= 9 ? [programName('conv')] : i >= 6 ? [programName('filterGradient')] : [];
      assert.equal(ran, want, `case ${i}: programs run`);
    });
  } finally {
    programs.run = run;
  }
});

test('the input gradient\'s filter (rotated 180°, in/out swapped) equals tf.reverse + tf.transpose bit for bit', async () => {
  await startBackend('cpu');
  for (const [KH, KW, Ci, Co] of [[3, 3, 5, 7], [1, 1, 4, 2], [2, 5, 3, 1], [3, 3, 16, 16]] as const) {
    const w = randomArray(rng, KH * KW * Ci * Co);
    const reference = tf.tidy(() => tf.transpose(tf.reverse(tf.tensor(w, [KH, KW, Ci, Co]), [0, 1]), [0, 1, 3, 2]).dataSync() as Float32Array);
    const out = new Float32Array(w.length);
    rotatedSwappedFilter(w, out, KH * KW, Ci, Co);
    assert.equal(out, reference, `[${KH},${KW},${Ci},${Co}]`);
  }
  // 3D: reversing depth, height and width reverses the flattened tap index.
  const w3 = randomArray(rng, 2 * 3 * 2 * 3 * 4);
  const reference3 = tf.tidy(() => tf.transpose(tf.reverse(tf.tensor(w3, [2, 3, 2, 3, 4]), [0, 1, 2]), [0, 1, 2, 4, 3]).dataSync() as Float32Array);
  const out3 = new Float32Array(w3.length);
  rotatedSwappedFilter(w3, out3, 12, 3, 4);
  assert.equal(out3, reference3, '3D [2,3,2,3,4]');
  assert.throws(() => rotatedSwappedFilter(new Float32Array(10), new Float32Array(10), 9, 1, 1), /filter of 10 and output of 10 floats for 9 taps × 1 × 1/);
});

test('the rotated, swapped filter on the wasm heap (SIMD where the channels come in fours) equals the JS rotation bit for bit', async () => {
  await startBackend('wasm');
  const backend = tf.backend() as unknown as WasmHeapBackend;
  for (const [taps, ci, co] of [[9, 8, 12], [27, 4, 8], [9, 16, 16], [9, 5, 8], [1, 12, 4]] as const) {
    const w = randomArray(rng, taps * ci * co);
    const want = new Float32Array(w.length);
    rotatedSwappedFilter(w, want, taps, ci, co);
    const got = tf.tidy(() => {
      const out = inputGradientFilterTensor(backend, tf.tensor3d(w, [taps, ci, co]) as unknown as tf.TensorInfo);
      return tf.engine().makeTensorFromTensorInfo(out).dataSync() as Float32Array;
    });
    assert.equal(Array.from(got), Array.from(want), `${taps} taps, ${ci} → ${co}`);
  }
});

test('input gradients are the same bits with the own filter rotation and with stock Reverse + Transpose', async () => {
  await startBackend('wasm');
  const own = cases.map((c, i) => grads(c, i).dx);
  tf.env().set(WASM_FILTER_ROTATION_FLAG, false);
  try {
    cases.forEach((c, i) => assert.equal(grads(c, i).dx, own[i], JSON.stringify(c)));
  } finally {
    tf.env().set(WASM_FILTER_ROTATION_FLAG, true);
  }
});

test("one-channel outputs run on the SIMD programs through zero channels: the first layer's input gradient, the head's filter gradient", async () => {
  await startBackend('wasm');
  const programs = programsFor(tf.backend() as unknown as WasmHeapBackend)!;
  const run = programs.run;
  const ran: string[] = [];
  programs.run = function (name: string, argLists: number[][]) {
    ran.push(name);
    return run.call(this, name, argLists);
  };
  const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC' };
  const passes: Array<[string, () => tf.Tensor, (names: string[]) => boolean]> = [
    // dx of a 3×3 conv from a one-channel image: a conv to 1 channel, padded to 8 (Winograd here).
    ['input gradient, 16 → 1', () => tf.engine().runKernel('Conv2DBackpropInput',
      { dy: tf.randomNormal([2, 16, 16, 16], 0, 1, 'float32', 1), filter: tf.randomNormal([3, 3, 1, 16], 0, 1, 'float32', 2) },
      { ...attrs, inputShape: [2, 16, 16, 1] } as unknown as tf.NamedAttrMap) as tf.Tensor,
    (names) => names.some((n) => n.startsWith('winogradOutput') || n === programName('conv'))],
    // dW of the 1×1 head to one channel, padded to 8.
    ['filter gradient, 16 → 1', () => tf.engine().runKernel('Conv2DBackpropFilter',
      { x: tf.randomNormal([2, 12, 12, 16], 0, 1, 'float32', 3), dy: tf.randomNormal([2, 12, 12, 1], 0, 1, 'float32', 4) },
      { ...attrs, filterShape: [1, 1, 16, 1] } as unknown as tf.NamedAttrMap) as tf.Tensor,
    (names) => names.includes(programName('filterGradient'))],
  ];
  try {
    for (const [label, pass, onPrograms] of passes) {
      tf.tidy(() => pass().dataSync()); // first use may allocate what later calls reuse
      const before = tf.engine().backend.numDataIds();
      ran.length = 0;
      tf.tidy(() => pass().dataSync());
      assert.is(tf.engine().backend.numDataIds(), before, `${label}: no tensors left`);
      assert.ok(onPrograms(ran), `${label}: ran ${ran.join(', ')}`);
    }
  } finally {
    programs.run = run;
  }
});

test('wasm kernels free their intermediates', async () => {
  await startBackend('wasm');
  const c = cases[0]!;
  grads(c, 0);
  tf.tidy(() => {
    tf.matMul(tf.ones([3, 4]), tf.ones([5, 4]), false, true);
  });
  // Kernel temporaries live in the backend, not the engine: count the backend's data ids.
  const before = tf.engine().backend.numDataIds();
  grads(c, 0);
  tf.tidy(() => {
    tf.matMul(tf.ones([4, 3]), tf.ones([5, 4]), true, true);
    tf.matMul(tf.ones([3, 4]), tf.ones([8, 4]), false, true); // b transposed for the SIMD product
  });
  assert.is(tf.engine().backend.numDataIds(), before);
});

test.run();
