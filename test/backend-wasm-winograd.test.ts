/**
 * Winograd F(2×2, 3×3) and F(4×4, 3×3) on the wasm SIMD programs (src/backend/wasm/simd-winograd*.ts)
 * against the cpu backend's direct convolution: plain, bias, bias + ReLU, 'same' and 'valid', chunks
 * that split the tile rows of one image and cross image borders; which shapes each takes; that the
 * kernel path uses them under their flags; determinism and freed temporaries.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../src/backend/index.js';
import { WASM_WINOGRAD_F4_FLAG, WASM_WINOGRAD_FLAG } from '../src/backend/flags.js';
import type { WasmHeapBackend } from '../src/backend/wasm/heap.js';
import { productRowTiles, simdWinogradConv, simdWinogradFilterGradient, winogradCovers, winogradTileFor } from '../src/backend/wasm/simd-winograd.js';
import { F2x2, F4x4, type WinogradTile } from '../src/backend/wasm/simd-winograd-programs.js';
import { Rng } from '../src/util/rng.js';
import { maxRelativeError } from './helpers/arrays.js';

interface Case { n: number; h: number; w: number; cin: number; cout: number; pad: 'same' | 'valid'; chunkFloats: number }

// chunkFloats: 16·Tw·max(Ci, Co) floats is one tile row, so these give 1, 2 or 3 tile rows per
// chunk (a chunk ending inside an image and one spanning two), or everything in one chunk.
const cases: Case[] = [
  { n: 1, h: 4, w: 4, cin: 4, cout: 8, pad: 'same', chunkFloats: 1 << 18 },
  { n: 4, h: 4, w: 4, cin: 8, cout: 16, pad: 'same', chunkFloats: 1 << 18 },
  { n: 2, h: 6, w: 10, cin: 8, cout: 8, pad: 'same', chunkFloats: 16 * 5 * 8 * 2 },
  { n: 3, h: 8, w: 8, cin: 12, cout: 16, pad: 'same', chunkFloats: 16 * 4 * 16 * 3 },
  { n: 2, h: 10, w: 12, cin: 16, cout: 8, pad: 'valid', chunkFloats: 16 * 5 * 16 },
  { n: 1, h: 16, w: 16, cin: 32, cout: 24, pad: 'same', chunkFloats: 1 << 18 },
  { n: 2, h: 32, w: 32, cin: 8, cout: 8, pad: 'same', chunkFloats: 16 * 16 * 8 * 3 }, // 128 F(4×4) tiles
];

function randomArray(size: number, seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: size }, () => r.uniform(-1, 1));
}

const inputs = cases.map((c, i) => ({
  x: randomArray(c.n * c.h * c.w * c.cin, 100 + i),
  f: randomArray(9 * c.cin * c.cout, 200 + i),
  b: randomArray(c.cout, 300 + i),
}));

const info = (c: Case) => tf.backend_util.computeConv2DInfo([c.n, c.h, c.w, c.cin], [3, 3, c.cin, c.cout], 1, 1, c.pad);

/** conv, conv + bias, conv + bias + ReLU through the stock kernels of the current backend. */
function reference(c: Case, i: number): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(inputs[i]!.x, [c.n, c.h, c.w, c.cin]);
    const f = tf.tensor4d(inputs[i]!.f, [3, 3, c.cin, c.cout]);
    const b = tf.tensor1d(inputs[i]!.b);
    const y = tf.conv2d(x, f, 1, c.pad);
    return [y, tf.add(y, b), tf.relu(tf.add(y, b))].map((t) => t.dataSync() as Float32Array);
  });
}

function winograd(c: Case, i: number, tile: WinogradTile = F2x2): Float32Array[] {
  const backend = tf.backend() as unknown as WasmHeapBackend;
  return tf.tidy(() => {
    const x = tf.tensor4d(inputs[i]!.x, [c.n, c.h, c.w, c.cin]);
    const f = tf.tensor4d(inputs[i]!.f, [3, 3, c.cin, c.cout]);
    const b = tf.tensor1d(inputs[i]!.b);
    return ([[undefined, false], [b, false], [b, true]] as const).map(([bias, relu]) => {
      const y = simdWinogradConv(backend, x, f, bias, relu, info(c), c.chunkFloats, tile);
      assert.ok(y, `covered: ${JSON.stringify(c)}`);
      const out = tf.engine().makeTensorFromTensorInfo(y!);
      return out.dataSync() as Float32Array;
    });
  });
}

test('Winograd F(2×2, 3×3) equals the cpu backend within 1e-5 relative: plain, bias, bias + ReLU, across chunks', async () => {
  await startBackend('cpu');
  const want = cases.map((c, i) => reference(c, i));
  await startBackend('wasm');
  cases.forEach((c, i) => {
    const got = winograd(c, i);
    got.forEach((g, k) => {
      const err = maxRelativeError(g, want[i]![k]!, 1e-6);
      assert.ok(err < 1e-5, `${['plain', 'bias', 'bias + relu'][k]} ${JSON.stringify(c)}: relative error ${err}`);
    });
    assert.ok(got[2]!.every((v) => v >= 0), 'ReLU applied');
  });
});

/** The filter gradient of sum(conv(x, f) · weights) through the stock kernels of the current backend. */
function referenceFilterGradient(c: Case, i: number): Float32Array {
  return tf.tidy(() => {
    const x = tf.tensor4d(inputs[i]!.x, [c.n, c.h, c.w, c.cin]);
    const f = tf.tensor4d(inputs[i]!.f, [3, 3, c.cin, c.cout]);
    const y = tf.conv2d(x, f, 1, c.pad);
    const dy = tf.tensor(randomArray(y.size, 400 + i), y.shape);
    return tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, w as tf.Tensor4D, 1, c.pad), dy)))(f).dataSync() as Float32Array;
  });
}

function winogradFilterGradient(c: Case, i: number, chunkFloats = c.chunkFloats, tile: WinogradTile = F2x2): Float32Array {
  const backend = tf.backend() as unknown as WasmHeapBackend;
  return tf.tidy(() => {
    const x = tf.tensor4d(inputs[i]!.x, [c.n, c.h, c.w, c.cin]);
    const { outHeight, outWidth } = info(c);
    const dy = tf.tensor(randomArray(c.n * outHeight * outWidth * c.cout, 400 + i), [c.n, outHeight, outWidth, c.cout]);
    const dw = simdWinogradFilterGradient(backend, x, dy, info(c), chunkFloats, tile);
    assert.ok(dw, `covered: ${JSON.stringify(c)}`);
    return tf.engine().makeTensorFromTensorInfo(dw!).dataSync() as Float32Array;
  });
}

test('Winograd filter gradient equals the cpu backend within 1e-5 relative, across chunks; the same bits at any chunk size', async () => {
  await startBackend('cpu');
  const want = cases.map((c, i) => referenceFilterGradient(c, i));
  await startBackend('wasm');
  const before = tf.engine().backend.numDataIds();
  cases.forEach((c, i) => {
    const got = winogradFilterGradient(c, i);
    const err = maxRelativeError(got, want[i]!, 1e-6);
    assert.ok(err < 1e-5, `dW ${JSON.stringify(c)}: relative error ${err}`);
  });
  assert.equal(Array.from(winogradFilterGradient(cases[2]!, 2, 1 << 20)), Array.from(winogradFilterGradient(cases[2]!, 2)),
    'chunking does not change a bit');
  assert.is(tf.engine().backend.numDataIds(), before, 'no tensors left in the backend');
});

test('Winograd: the same numbers whatever the chunk size, deterministic, temporaries freed', async () => {
  await startBackend('wasm');
  const c = cases[2]!;
  const before = tf.engine().backend.numDataIds();
  const whole = winograd({ ...c, chunkFloats: 1 << 20 }, 2);
  const chunked = winograd(c, 2);
  const again = winograd(c, 2);
  assert.is(tf.engine().backend.numDataIds(), before, 'no tensors left in the backend');
  for (let k = 0; k < 3; k++) {
    assert.equal(Array.from(chunked[k]!), Array.from(whole[k]!), 'chunking does not change a bit');
    assert.equal(Array.from(again[k]!), Array.from(chunked[k]!), 'repeatable');
  }
});

/** The cases whose output sides are multiples of 4 (F(4×4)'s tiles), with chunks of 36-plane tile rows. */
const f4Cases = cases.map((c, i) => ({ c, i })).filter(({ c }) => {
  const { outHeight, outWidth } = info(c);
  return outHeight % 4 === 0 && outWidth % 4 === 0;
});

test('Winograd F(4×4, 3×3) equals the cpu backend within 5e-5 relative: forward (plain, bias, ReLU) and filter gradient, across chunks', async () => {
  assert.ok(f4Cases.length >= 4, 'enough cases of F(4×4) shape');
  await startBackend('cpu');
  const want = f4Cases.map(({ c, i }) => ({ y: reference(c, i), dw: referenceFilterGradient(c, i) }));
  await startBackend('wasm');
  const before = tf.engine().backend.numDataIds();
  f4Cases.forEach(({ c, i }, k) => {
    // One tile row of F(4×4) is 36·Tw·max(Ci, Co) floats: a chunk of one row crosses tile rows and images.
    const oneRow = 36 * (info(c).outWidth / 4) * Math.max(c.cin, c.cout);
    for (const chunkFloats of [c.chunkFloats, oneRow]) {
      const got = winograd({ ...c, chunkFloats }, i, F4x4);
      got.forEach((g, j) => {
        const err = maxRelativeError(g, want[k]!.y[j]!, 1e-6);
        assert.ok(err < 5e-5, `F4 ${['plain', 'bias', 'bias + relu'][j]} ${JSON.stringify(c)}: relative error ${err}`);
      });
      const dwErr = maxRelativeError(winogradFilterGradient(c, i, chunkFloats, F4x4), want[k]!.dw, 1e-6);
      assert.ok(dwErr < 5e-5, `F4 dW ${JSON.stringify(c)}: relative error ${dwErr}`);
    }
    assert.equal(Array.from(winograd(c, i, F4x4)[2]!), Array.from(winograd({ ...c, chunkFloats: 1 << 20 }, i, F4x4)[2]!),
      'chunking does not change a bit');
  });
  assert.is(tf.engine().backend.numDataIds(), before, 'no tensors left in the backend');
});

test('F(4×4) runs where the output sides are multiples of 4 and its flag is on; the kernels take it; F(2×2) elsewhere', async () => {
  await startBackend('wasm');
  const conv = (n: number, h: number, w: number, pad: 'same' | 'valid' = 'same') =>
    tf.backend_util.computeConv2DInfo([n, h, w, 8], [3, 3, 8, 8], 1, 1, pad);
  assert.is(winogradTileFor(conv(4, 32, 32), 'forward', true), F4x4, '256 tiles');
  assert.is(winogradTileFor(conv(4, 32, 32), 'forward', false), F2x2, 'flag off');
  assert.is(winogradTileFor(conv(4, 32, 28), 'forward', true), F4x4, '224 tiles');
  assert.is(winogradTileFor(conv(4, 32, 30), 'forward', true), F2x2, 'width 30');
  assert.is(winogradTileFor(conv(4, 34, 34, 'valid'), 'forward', true), F4x4, "'valid', 32×32 out");
  assert.is(winogradTileFor(conv(4, 4, 4), 'forward', true), F4x4, '4 tiles: enough for a forward pass');
  assert.is(winogradTileFor(conv(2, 4, 4), 'forward', true), F2x2, '2 tiles');
  assert.is(winogradTileFor(conv(1, 16, 16), 'filterGradient', true), F4x4, '16 tiles: enough for a filter gradient');
  assert.is(winogradTileFor(conv(2, 8, 8), 'filterGradient', true), F2x2, '8 tiles');
  const backend = tf.backend() as unknown as WasmHeapBackend;
  const c = cases[2]!; // 6×10 outputs: F(4×4) does not fit
  tf.tidy(() => {
    const x = tf.tensor4d(inputs[2]!.x, [c.n, c.h, c.w, c.cin]);
    const f = tf.tensor4d(inputs[2]!.f, [3, 3, c.cin, c.cout]);
    assert.is(simdWinogradConv(backend, x, f, undefined, false, info(c), 1 << 18, F4x4), null, 'not a multiple of 4: null');
  });

  const { c: c4, i: i4 } = f4Cases.find(({ c }) => c.h === 32)!; // enough tiles for both passes
  const viaKernels = () => tf.tidy(() => {
    const x = tf.tensor4d(inputs[i4]!.x, [c4.n, c4.h, c4.w, c4.cin]);
    const f = tf.tensor4d(inputs[i4]!.f, [3, 3, c4.cin, c4.cout]);
    const { outHeight, outWidth } = info(c4);
    const dy = tf.tensor(randomArray(c4.n * outHeight * outWidth * c4.cout, 400 + i4), [c4.n, outHeight, outWidth, c4.cout]);
    const y = tf.conv2d(x, f, 1, c4.pad).dataSync() as Float32Array;
    const dw = (tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
      { strides: [1, 1], pad: c4.pad, dataFormat: 'NHWC', filterShape: [3, 3, c4.cin, c4.cout] } as unknown as tf.NamedAttrMap) as tf.Tensor)
      .dataSync() as Float32Array;
    return { y, dw };
  });
  assert.ok(tf.env().getBool(WASM_WINOGRAD_F4_FLAG), 'on by default');
  const on = viaKernels();
  assert.equal(Array.from(on.y), Array.from(winograd(c4, i4, F4x4)[0]!), 'Conv2D takes F(4×4) under the flag');
  assert.equal(Array.from(on.dw), Array.from(winogradFilterGradient(c4, i4, c4.chunkFloats, F4x4)), 'Conv2DBackpropFilter too');
  tf.env().set(WASM_WINOGRAD_F4_FLAG, false);
  try {
    const off = viaKernels();
    assert.equal(Array.from(off.y), Array.from(winograd(c4, i4, F2x2)[0]!), 'flag off: F(2×2)');
    assert.equal(Array.from(off.dw), Array.from(winogradFilterGradient(c4, i4, c4.chunkFloats, F2x2)), 'flag off: F(2×2) filter gradient');
  } finally {
    tf.env().set(WASM_WINOGRAD_F4_FLAG, true);
  }
});

test('product rows group whole tile rows up to 64 tiles, one row per thread at least', () => {
  assert.is(productRowTiles(8, 2, 1), 16, 'a 4×4 image, batch 4: all eight tile rows in one product row');
  assert.is(productRowTiles(8, 2, 2), 8, 'two threads: two product rows');
  assert.is(productRowTiles(16, 32, 1), 64, '64²: two tile rows');
  assert.is(productRowTiles(5, 4, 1), 20, 'any divisor of the chunk');
  assert.is(productRowTiles(7, 16, 1), 16, 'a prime number of rows over 64 tiles: no grouping');
  assert.is(productRowTiles(4, 128, 2), 128, '256²: rows as they are');
});

test('Winograd takes 3×3 stride-1 convs with Ci % 4 = 0, Co % 8 = 0 and even outputs; the kernels use it under its flag', async () => {
  await startBackend('wasm');
  const covers = (x: [number, number, number, number], f: [number, number, number, number], stride = 1, pad: 'same' | 'valid' = 'same') =>
    winogradCovers(tf.backend_util.computeConv2DInfo(x, f, stride, 1, pad));
  assert.ok(covers([2, 8, 8, 4], [3, 3, 4, 8]));
  assert.not.ok(covers([2, 8, 8, 4], [5, 5, 4, 8]), '5×5');
  assert.not.ok(covers([2, 8, 8, 4], [3, 3, 4, 8], 2), 'stride 2');
  assert.not.ok(covers([2, 8, 8, 3], [3, 3, 3, 8]), 'Ci = 3');
  assert.not.ok(covers([2, 8, 8, 4], [3, 3, 4, 12]), 'Co = 12');
  assert.not.ok(covers([2, 7, 8, 4], [3, 3, 4, 8]), 'odd output height');
  assert.ok(covers([2, 8, 8, 4], [3, 3, 4, 8], 1, 'valid'), "'valid', 6×6 out");
  assert.not.ok(covers([2, 9, 8, 4], [3, 3, 4, 8], 1, 'valid'), "'valid', 7×6 out");
  assert.ok(covers([1, 4, 4, 256], [3, 3, 256, 256]), 'a 2.4 MB filter (the direct program leaves it to XNNPACK)');
  assert.not.ok(covers([1, 4, 4, 512], [3, 3, 512, 512]), 'a 9.4 MB filter stays with XNNPACK');

  const c = cases[1]!;
  const run = () => tf.tidy(() => {
    const x = tf.tensor4d(inputs[1]!.x, [c.n, c.h, c.w, c.cin]);
    const f = tf.tensor4d(inputs[1]!.f, [3, 3, c.cin, c.cout]);
    return tf.conv2d(x, f, 1, c.pad).dataSync() as Float32Array;
  });
  tf.env().set(WASM_WINOGRAD_FLAG, true);
  const viaKernel = run();
  tf.env().set(WASM_WINOGRAD_FLAG, false);
  const direct = run();
  tf.env().set(WASM_WINOGRAD_FLAG, true);
  // 4 images of 4×4: 4 tiles of F(4×4), enough for a forward pass.
  assert.equal(Array.from(viaKernel), Array.from(winograd(c, 1, F4x4)[0]!), 'Conv2D takes the Winograd path');
  assert.ok(maxRelativeError(direct, viaKernel, 1e-6) < 1e-5, 'and the direct path agrees closely');
  assert.not.equal(Array.from(direct), Array.from(viaKernel), 'the flag switches the path (other sums, other last bits)');

  const filterGradient = () => tf.tidy(() => {
    const x = tf.tensor4d(inputs[1]!.x, [c.n, c.h, c.w, c.cin]);
    const { outHeight, outWidth } = info(c);
    const dy = tf.tensor(randomArray(c.n * outHeight * outWidth * c.cout, 401), [c.n, outHeight, outWidth, c.cout]);
    return (tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
      { strides: [1, 1], pad: c.pad, dataFormat: 'NHWC', filterShape: [3, 3, c.cin, c.cout] } as unknown as tf.NamedAttrMap) as tf.Tensor)
      .dataSync() as Float32Array;
  });
  assert.equal(Array.from(filterGradient()), Array.from(winogradFilterGradient(c, 1)), 'Conv2DBackpropFilter takes it too');
  tf.env().set(WASM_WINOGRAD_FLAG, false);
  const directGradient = filterGradient();
  tf.env().set(WASM_WINOGRAD_FLAG, true);
  assert.ok(maxRelativeError(directGradient, filterGradient(), 1e-6) < 1e-5, 'and agrees with the direct filter gradient');
});

test.run();
