/**
 * The JS-over-heap wasm kernels (src/backend/wasm/memory-kernels.ts) against the cpu reference
 * backend: max-pool gradient (incl. windows that are all negative, where stock wasm errs), sums over
 * leading axes (bias gradients), concat and split along every axis, with short and long rows;
 * Identity and same-type Cast share memory without leaking it or letting one tensor's disposal
 * spoil the other.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../src/backend/index.js';
import { WASM_JS_KERNELS_FLAG } from '../src/backend/flags.js';
import { Rng } from '../src/util/rng.js';

function values(seed: number, n: number, lo = -1, hi = 1): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.uniform(lo, hi));
}

type Outputs = Float32Array[];

/** Every case as a function of the backend in use; results read back as arrays. */
const cases: Record<string, () => Outputs> = {
  'max-pool gradient 2x2 stride 2 (U-Net)': () => poolGrad([2, 8, 8, 3], 2, 2, 'valid', 1),
  'max-pool gradient, every window negative': () => poolGrad([1, 4, 4, 2], 2, 2, 'valid', 2, -1, -0.01),
  'max-pool gradient 3x3 stride 2 same padding (overlapping windows)': () => poolGrad([2, 7, 9, 4], 3, 2, 'same', 3),
  'max-pool gradient with ties (integer values)': () => tf.tidy(() => {
    const x = tf.tensor4d(values(4, 2 * 6 * 6 * 2, 0, 3).map(Math.floor), [2, 6, 6, 2]);
    const dy = tf.tensor4d(values(5, 2 * 3 * 3 * 2), [2, 3, 3, 2]);
    return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, 2, 2, 'valid'), dy)))(x).dataSync() as Float32Array];
  }),
  'sum over leading axes (bias gradient), keepDims and not': () => tf.tidy(() => {
    const x = tf.tensor4d(values(6, 3 * 5 * 7 * 16), [3, 5, 7, 16]);
    return [tf.sum(x, [0, 1, 2]), tf.sum(x, [0]), tf.sum(x, [1, 0], true), tf.sum(x, [1, 2]), tf.sum(x)].map(
      (t) => Float32Array.from(t.dataSync()),
    );
  }),
  'concat and split along every axis, short and long rows': () => tf.tidy(() => {
    const out: Outputs = [];
    for (const shape of [[2, 3, 4, 5], [2, 3, 4, 300]]) {
      const a = tf.tensor(values(7, shape.reduce((p, q) => p * q, 1)), shape);
      for (let axis = 0; axis < 4; axis++) {
        const other = shape.map((d, i) => (i === axis ? d + 1 : d));
        const b = tf.tensor(values(8 + axis, other.reduce((p, q) => p * q, 1)), other);
        const joined = tf.concat([a, b], axis);
        out.push(joined.dataSync() as Float32Array);
        const parts = tf.split(joined, [shape[axis]!, other[axis]!], axis);
        for (const p of parts) out.push(p.dataSync() as Float32Array);
        out.push(tf.concat([a, b, a], axis - 4).dataSync() as Float32Array);
      }
    }
    return out;
  }),
  'concat of int32 tensors': () => tf.tidy(() => [
    Float32Array.from(tf.concat([tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32'), tf.tensor2d([5, 6], [2, 1], 'int32')], 1).dataSync()),
  ]),
};

function poolGrad(shape: [number, number, number, number], k: number, s: number, pad: 'valid' | 'same', seed: number, lo = -1, hi = 1): Outputs {
  return tf.tidy(() => {
    const x = tf.tensor4d(values(seed, shape.reduce((p, q) => p * q, 1), lo, hi), shape);
    const y = tf.maxPool(x, k, s, pad);
    const dy = tf.tensor4d(values(seed + 100, y.size), y.shape as [number, number, number, number]);
    return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, k, s, pad), dy)))(x).dataSync() as Float32Array];
  });
}

function runAll(): Record<string, Outputs> {
  return Object.fromEntries(Object.entries(cases).map(([name, f]) => [name, f().map((a) => Float32Array.from(a))]));
}

let reference: Record<string, Outputs>;
let wasmJs: Record<string, Outputs>;
let wasmStock: Record<string, Outputs>;

test.before(async () => {
  await startBackend('cpu');
  reference = runAll();
  await startBackend('wasm');
  wasmJs = runAll();
  tf.env().set(WASM_JS_KERNELS_FLAG, false);
  wasmStock = runAll();
  tf.env().set(WASM_JS_KERNELS_FLAG, true);
});

for (const name of Object.keys(cases)) {
  test(`wasm JS kernels equal cpu: ${name}`, () => {
    const got = wasmJs[name]!;
    const want = reference[name]!;
    assert.is(got.length, want.length);
    got.forEach((g, i) => {
      assert.is(g.length, want[i]!.length, `output ${i} length`);
      for (let k = 0; k < g.length; k++) {
        const tol = 1e-6 * Math.max(1, Math.abs(want[i]![k]!));
        if (Math.abs(g[k]! - want[i]![k]!) > tol) assert.unreachable(`output ${i}[${k}]: ${g[k]} vs cpu ${want[i]![k]}`);
      }
    });
  });
}

test('the flag really switches kernels: stock wasm max-pool gradient differs on negative windows', () => {
  const name = 'max-pool gradient, every window negative';
  const stock = wasmStock[name]![0]!;
  const ours = wasmJs[name]![0]!;
  assert.ok(stock.some((v, k) => v !== ours[k]), 'stock and JS kernels gave identical results');
});

test('wasm Identity and same-type Cast share data: values survive the source, memory is freed with the last user', () => {
  const before = tf.memory().numBytes;
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const idsBefore = backend.numDataIds();
  const x = tf.tensor1d([1, 2, 3]);
  const y = tf.clone(x); // Identity
  const z = tf.cast(x, 'float32');
  const w = tf.cast(x, 'int32');
  x.dispose();
  assert.equal([...y.dataSync()], [1, 2, 3]);
  assert.equal([...z.dataSync()], [1, 2, 3]);
  assert.equal([...w.dataSync()], [1, 2, 3]);
  assert.is(w.dtype, 'int32');
  tf.dispose([y, z, w]);
  assert.is(tf.memory().numBytes, before);
  assert.is(backend.numDataIds(), idsBefore);
});

test.run();
