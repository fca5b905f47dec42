/**
 * ctquant's wasm SIMD convolution programs (src/backend/wasm/simd-*.ts) against the cpu backend:
 * forward (plain, bias, ReLU), input and filter gradients on shapes whose widths leave partial
 * pixel blocks, 'same' and 'valid' padding, several kernel sizes; plus the module writer's encodings.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../src/backend/index.js';
import { SIMD_CONV_FLAG, SIMD_FILTER_GRAD_FLAG } from '../src/backend/flags.js';
import type { WasmHeapBackend } from '../src/backend/wasm/heap.js';
import { simdConv, simdFilterGradient } from '../src/backend/wasm/simd-conv.js';
import { assembleModule, FunctionWriter, leb128 } from '../src/backend/wasm/module-writer.js';
import { Rng } from '../src/util/rng.js';
import { maxRelativeError } from './helpers/arrays.js';

interface Case { n: number; h: number; w: number; cin: number; cout: number; k: number; pad: 'same' | 'valid' }

const rng = new Rng(23);
const cases: Case[] = [];
for (const pad of ['same', 'valid'] as const) {
  for (let rep = 0; rep < 4; rep++) {
    cases.push({
      n: 1 + rng.int(3), h: 5 + rng.int(9), w: 5 + rng.int(9), cin: 4 * (1 + rng.int(3)), cout: 8 * (1 + rng.int(2)),
      k: [1, 2, 3, 5][rng.int(4)]!, pad,
    });
  }
}
// The U-Net's shapes: 3×3 'same', a row of 16 pixels (four whole blocks) and 20 channels in
// (a concatenation of 16 + 4 would give that).
cases.push({ n: 2, h: 16, w: 16, cin: 8, cout: 16, k: 3, pad: 'same' });
cases.push({ n: 1, h: 7, w: 3, cin: 20, cout: 8, k: 3, pad: 'same' });

function randomArray(size: number, seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: size }, () => r.uniform(-1, 1));
}
const data = cases.map((c) => ({
  x: randomArray(c.n * c.h * c.w * c.cin, rng.int(1 << 30)),
  f: randomArray(c.k * c.k * c.cin * c.cout, rng.int(1 << 30)),
  b: randomArray(c.cout, rng.int(1 << 30)),
  weightSeed: rng.int(1 << 30),
}));

interface Results { y: Float32Array; fused: Float32Array; dx: Float32Array; df: Float32Array }

function compute(c: Case, i: number): Results {
  return tf.tidy(() => {
    const x = tf.tensor4d(data[i]!.x, [c.n, c.h, c.w, c.cin]);
    const f = tf.tensor4d(data[i]!.f, [c.k, c.k, c.cin, c.cout]);
    const b = tf.tensor1d(data[i]!.b);
    const y = tf.conv2d(x, f, 1, c.pad);
    const fused = tf.engine().runKernel('FusedConv2D', { x, filter: f, bias: b },
      { strides: [1, 1], pad: c.pad, dataFormat: 'NHWC', dilations: [1, 1], activation: 'relu' }) as tf.Tensor;
    const weights = tf.tensor(randomArray(y.size, data[i]!.weightSeed), y.shape);
    const g = tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, 1, c.pad), weights)));
    const [dx, df] = g([x, f]);
    return {
      y: y.dataSync() as Float32Array, fused: fused.dataSync() as Float32Array,
      dx: dx!.dataSync() as Float32Array, df: df!.dataSync() as Float32Array,
    };
  });
}

function info(c: Case): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo([c.n, c.h, c.w, c.cin], [c.k, c.k, c.cin, c.cout], 1, 1, c.pad);
}

test('SIMD programs: conv, fused bias + ReLU, input and filter gradients equal cpu within 1e-5 relative', async () => {
  await startBackend('cpu');
  const reference = cases.map((c, i) => compute(c, i));
  await startBackend('wasm');
  assert.ok(tf.env().getBool(SIMD_CONV_FLAG) && tf.env().getBool(SIMD_FILTER_GRAD_FLAG), 'one thread: SIMD convs on');
  cases.forEach((c, i) => {
    const got = compute(c, i);
    const ref = reference[i]!;
    for (const key of ['y', 'fused', 'dx', 'df'] as const) {
      assert.is(got[key].length, ref[key].length);
      const err = maxRelativeError(got[key], ref[key], 1e-6);
      assert.ok(err < 1e-5, `${key} ${JSON.stringify(c)}: relative error ${err}`);
    }
  });
});

test('the SIMD path is the one taken for these shapes, and declines what it does not cover', async () => {
  await startBackend('wasm');
  const backend = tf.backend() as unknown as WasmHeapBackend;
  const c = cases[0]!;
  const x = tf.tensor4d(data[0]!.x, [c.n, c.h, c.w, c.cin]);
  const f = tf.tensor4d(data[0]!.f, [c.k, c.k, c.cin, c.cout]);
  const y = simdConv(backend, x, f, undefined, false, info(c));
  assert.ok(y, 'forward covered');
  const dw = simdFilterGradient(backend, x, tf.ones([c.n, info(c).outHeight, info(c).outWidth, c.cout]), info(c));
  assert.ok(dw, 'filter gradient covered');
  backend.disposeData(y!.dataId);
  backend.disposeData(dw!.dataId);
  const odd = { ...c, cin: 3, cout: 6 };
  const xOdd = tf.zeros([odd.n, odd.h, odd.w, 3]);
  assert.is(simdConv(backend, xOdd, tf.zeros([odd.k, odd.k, 3, 6]), undefined, false, info(odd)), null, 'Co % 8 ≠ 0');
  assert.is(simdFilterGradient(backend, xOdd, tf.zeros([odd.n, info(odd).outHeight, info(odd).outWidth, 6]), info(odd)), null);
  const big = tf.backend_util.computeConv2DInfo([1, 4, 4, 256], [3, 3, 256, 256], 1, 1, 'same');
  assert.is(simdConv(backend, tf.zeros([1, 4, 4, 256]), tf.zeros([3, 3, 256, 256]), undefined, false, big), null,
    'a 2.4 MB filter stays with XNNPACK');
  const strided = tf.backend_util.computeConv2DInfo([1, 8, 8, 4], [3, 3, 4, 8], 2, 1, 'same');
  assert.is(simdConv(backend, tf.zeros([1, 8, 8, 4]), tf.zeros([3, 3, 4, 8]), undefined, false, strided), null, 'stride 2');
});

test('SIMD conv: deterministic, a NaN survives the fused ReLU, temporaries are freed', async () => {
  await startBackend('wasm');
  const c = cases[cases.length - 2]!;
  const i = cases.length - 2;
  const a = compute(c, i);
  const before = tf.engine().backend.numDataIds();
  const b = compute(c, i);
  assert.is(tf.engine().backend.numDataIds(), before, 'no tensors left in the backend');
  for (const key of ['y', 'fused', 'dx', 'df'] as const) assert.equal(Array.from(b[key]), Array.from(a[key]), `${key} repeatable`);
  const nan = tf.tidy(() => {
    const x = tf.tensor4d(data[i]!.x.map((v, k) => (k === 0 ? NaN : v)), [c.n, c.h, c.w, c.cin]);
    const f = tf.tensor4d(data[i]!.f, [c.k, c.k, c.cin, c.cout]);
    return tf.engine().runKernel('FusedConv2D', { x, filter: f, bias: tf.zeros([c.cout]) },
      { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation: 'relu' }) as tf.Tensor;
  });
  assert.ok(Number.isNaN(nan.dataSync()[0]), 'NaN in, NaN out (not clipped to 0)');
  nan.dispose();
});

test('module writer: LEB128 encodings and valid modules over plain and shared memory', () => {
  assert.equal(leb128(0), [0]);
  assert.equal(leb128(127), [0x7f]);
  assert.equal(leb128(128), [0x80, 0x01]);
  assert.equal(leb128(624485), [0xe5, 0x8e, 0x26]);
  assert.equal(leb128(-1, true), [0x7f]);
  assert.equal(leb128(64, true), [0xc0, 0x00]);
  assert.equal(leb128(-123456, true), [0xc0, 0xbb, 0x78]);
  // out[k] = a[k] · b[k] + out[k] for four floats: a tiny program run for real.
  const f = new FunctionWriter(3, 0, 1);
  const acc = f.v128Local(0);
  f.get(2).v128Load().set(acc);
  f.get(2).get(0).v128Load().get(1).v128Load().f32x4Mul().get(acc).f32x4Add().v128Store();
  for (const shared of [false, true]) {
    const bytes = assembleModule([{ name: 'fma4', body: f }], shared);
    assert.ok(WebAssembly.validate(bytes), `valid (shared ${shared})`);
  }
  const memory = new WebAssembly.Memory({ initial: 1 });
  const run = new WebAssembly.Instance(new WebAssembly.Module(assembleModule([{ name: 'fma4', body: f }], false)), { env: { memory } })
    .exports.fma4 as (a: number, b: number, out: number) => void;
  const heap = new Float32Array(memory.buffer);
  heap.set([1, 2, 3, 4, 10, 20, 30, 40, 0.5, 0.5, 0.5, 0.5]);
  run(0, 16, 32);
  assert.equal(Array.from(heap.subarray(8, 12)), [10.5, 40.5, 90.5, 160.5]);
});

test.run();
