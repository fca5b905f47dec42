/**
 * The JS-over-heap wasm kernels (src/backend/wasm/memory-kernels.ts) against the cpu reference
 * backend: max-pool gradient (incl. windows that are all negative, where stock wasm errs), sums over
 * leading axes (bias gradients), concat and split along every axis, with short and long rows;
 * their SIMD programs (simd-memory-programs.ts) give the JS loops' bits, NaN and −∞ included;
 * Identity and same-type Cast share memory without leaking it or letting one tensor's disposal
 * spoil the other.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../src/backend/index.js';
import { WASM_JS_KERNELS_FLAG, WASM_SIMD_MEMORY_FLAG } from '../src/backend/flags.js';
import type { WasmHeapBackend } from '../src/backend/wasm/heap.js';
import { columnSums } from '../src/backend/wasm/memory-kernels.js';
import { address, programsFor } from '../src/backend/wasm/simd-conv.js';
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
  'max-pool gradient 2x2, channels a multiple of 4 (SIMD)': () => poolGrad([2, 8, 6, 8], 2, 2, 'valid', 11),
  'max-pool gradient 2x2, negative windows, channels a multiple of 4 (SIMD)': () => poolGrad([1, 4, 4, 4], 2, 2, 'valid', 12, -1, -0.01),
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
  'sum over leading axes, 36 and 4 columns (SIMD blocks of 16 and of 4)': () => tf.tidy(() => {
    const x = tf.tensor3d(values(13, 50 * 3 * 36), [50, 3, 36]);
    const y = tf.tensor2d(values(14, 33 * 4), [33, 4]);
    return [tf.sum(x, [0, 1]), tf.sum(y, 0)].map((t) => Float32Array.from(t.dataSync()));
  }),
  'concat and split along the last axis, rows of a multiple of 4 floats (SIMD)': () => tf.tidy(() => {
    const a = tf.tensor4d(values(15, 2 * 3 * 4 * 8), [2, 3, 4, 8]);
    const b = tf.tensor4d(values(16, 2 * 3 * 4 * 12), [2, 3, 4, 12]);
    const joined = tf.concat([a, b], 3);
    return [joined, ...tf.split(joined, [8, 12], 3), ...tf.split(joined, [1, 3], 2)].map((t) => Float32Array.from(t.dataSync()));
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
let wasmJsLoops: Record<string, Outputs>;
let wasmStock: Record<string, Outputs>;

test.before(async () => {
  await startBackend('cpu');
  reference = runAll();
  await startBackend('wasm');
  wasmJs = runAll();
  tf.env().set(WASM_SIMD_MEMORY_FLAG, false);
  wasmJsLoops = runAll();
  tf.env().set(WASM_SIMD_MEMORY_FLAG, true);
  tf.env().set(WASM_JS_KERNELS_FLAG, false);
  wasmStock = runAll();
  tf.env().set(WASM_JS_KERNELS_FLAG, true);
});

test('the SIMD programs give the JS loops bit for bit, in every case', () => {
  for (const name of Object.keys(cases)) {
    wasmJs[name]!.forEach((got, i) => assert.equal(Array.from(got), Array.from(wasmJsLoops[name]![i]!), `${name}, output ${i}`));
  }
});

test('the kernels run the SIMD programs where the flag and the shapes allow, the JS loops otherwise', () => {
  // Same bits either way, so watch which programs run.
  const programs = programsFor(tf.backend() as unknown as WasmHeapBackend)!;
  const run = programs.run;
  const ran = new Set<string>();
  programs.run = function (name: string, argLists: number[][]) {
    ran.add(name);
    return run.call(this, name, argLists);
  };
  try {
    runAll();
    assert.ok(['columnSums', 'maxPoolGrad2x2', 'copyRows'].every((name) => ran.has(name)), [...ran].join(', '));
    ran.clear();
    tf.env().set(WASM_SIMD_MEMORY_FLAG, false);
    runAll();
    assert.equal([...ran], [], 'flag off: no program');
  } finally {
    tf.env().set(WASM_SIMD_MEMORY_FLAG, true);
    programs.run = run;
  }
});

/** A float32 tensor's heap address and values, for calling a program directly. */
function onHeap(data: Float32Array): { t: tf.Tensor; at: number } {
  const t = tf.tensor1d(data);
  return { t, at: address(tf.backend() as unknown as WasmHeapBackend, t as unknown as tf.TensorInfo) };
}

test('columnSums and maxPoolGrad2x2 programs against their JS loops, with NaN, ±∞, ties and −0', () => {
  const backend = tf.backend() as unknown as WasmHeapBackend;
  const programs = programsFor(backend);
  assert.ok(programs, 'this Node has wasm SIMD');
  const special = [NaN, Infinity, -Infinity, 0, -0, 1, 1, -1e30, 3e38];
  const data = values(21, 4 * 6 * 8 * 12).map((v, k) => (k % 7 === 0 ? special[(k / 7) % special.length]! : v));
  // Sums: [outer 24, inner 48] → a block of 16 twice and 4 four times with cStart/cEnd 16..48 (a thread's share).
  const src = onHeap(data.subarray(0, 24 * 48));
  const out = onHeap(new Float32Array(48).fill(7));
  programs!.run('columnSums', [[src.at, out.at, 24, 48, 16, 48]]);
  const want = new Float32Array(48);
  columnSums(data.subarray(0, 24 * 48), 24, 48, want);
  const got = out.t.dataSync() as Float32Array;
  assert.equal(Array.from(got.subarray(0, 16)), new Array(16).fill(7), 'columns outside the range untouched');
  assert.equal(Array.from(got.subarray(16)), Array.from(want.subarray(16)));
  // Max pool: x [1, 8, 12, 4] as 4 rows × 6 windows of 4 channels; the JS rule, window by window.
  const x = onHeap(data.subarray(0, 8 * 12 * 4));
  const g = onHeap(values(22, 4 * 6 * 4));
  const dx = onHeap(new Float32Array(8 * 12 * 4).fill(5));
  programs!.run('maxPoolGrad2x2', [[x.at, g.at, dx.at, 4, 6, 4]]);
  const xs = x.t.dataSync() as Float32Array;
  const gs = g.t.dataSync() as Float32Array;
  const expected = new Float32Array(8 * 12 * 4);
  for (let r = 0; r < 4; r++) for (let w = 0; w < 6; w++) for (let c = 0; c < 4; c++) {
    const idx = [0, 1, 12, 13].map((o) => ((2 * r * 12 + 2 * w) + o) * 4 + c);
    let at = -1;
    let best = -Infinity;
    for (const i of idx) if (xs[i]! > best) { best = xs[i]!; at = i; }
    for (const i of idx) expected[i] = i === at ? gs[(r * 6 + w) * 4 + c]! : 0;
  }
  assert.equal(Array.from(dx.t.dataSync()).map((v) => Object.is(v, -0) ? 'negative zero' : v), Array.from(expected));
  tf.dispose([src.t, out.t, x.t, g.t, dx.t]);
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

test('wasm Relu keeps NaN of either sign (stock wasm zeroed a NaN with its sign bit set), max(x, 0) elsewhere', async () => {
  const bits = new Uint32Array([0x7fc00000, 0xffc00000, 0x80000000, 0, 0x3f800000, 0xbf800000, 0x7f800000, 0xff800000, 0xffc00001]);
  const x = new Float32Array(bits.buffer);
  for (const n of [x.length, 8]) { // a tail after two vectors; whole vectors only
    const want = Array.from(x.subarray(0, n), (v) => (Number.isNaN(v) ? 'NaN' : v > 0 ? v : '+0'));
    for (const simd of [true, false]) { // the SIMD program and the JS loop
      tf.env().set(WASM_SIMD_MEMORY_FLAG, simd);
      const got = tf.tidy(() => tf.relu(tf.tensor1d(x.subarray(0, n))).dataSync() as Float32Array);
      assert.equal(Array.from(got, (v) => (Number.isNaN(v) ? 'NaN' : Object.is(v, 0) ? '+0' : v)), want, `${n} floats, SIMD ${simd}`);
    }
    tf.env().set(WASM_SIMD_MEMORY_FLAG, true);
  }
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
