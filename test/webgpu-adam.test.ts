/**
 * The fused WebGPU Adam (src/backend/webgpu/adam.ts, used by src/train/adam.ts on webgpu) against
 * the tf-op Adam, on a software WebGPU adapter (SwiftShader, scripts/setup-swiftshader.sh).
 * Without an adapter: fails when CI=true (CI installs SwiftShader), is skipped otherwise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { selectWebgpuBackend } from '../src/backend/webgpu/node-gpu.js';
import { reportMissingAdapter, testAdapter } from './helpers/webgpu.js';
import { WebgpuAdamUpdater } from '../src/backend/webgpu/adam.js';
import { Adam } from '../src/train/adam.js';
import { FUSED_ADAM_FLAG } from '../src/backend/flags.js';
import { ADAM_UPDATE_KERNEL } from '../src/backend/kernel-names.js';
import { Rng } from '../src/util/rng.js';
import { maxRelativeError } from './helpers/arrays.js';

const adapter = await testAdapter();

/** Variable shapes: a conv filter, a bias, a scalar-like, one over a workgroup (257 elements). */
const SHAPES = [[3, 3, 4, 5], [7], [1], [257]];
const RATE_SCALES = [1, 1, 30, 0.5];
const STEPS = 5;
const LEARNING_RATES = [1e-3, 3e-3, 1e-2, 1e-3, 2e-4];

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function randomArray(rng: Rng, n: number, scale = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * rng.uniform(-1, 1);
  return a;
}

const rng = new Rng(7);
const initial = SHAPES.map((s) => randomArray(rng, size(s)));
// Gradients of mixed magnitude per step, so v does not stay proportional to g².
const gradients = LEARNING_RATES.map((_, step) => SHAPES.map((s) => randomArray(rng, size(s), 10 ** ((step % 3) - 1))));

interface AdamRun {
  x: Float32Array[];
  m: Float32Array[];
  v: Float32Array[];
}

/** STEPS Adam updates of fresh variables on the current backend; final x, m and v. */
async function runAdam(): Promise<AdamRun> {
  const vars = SHAPES.map((s, i) => tf.variable(tf.tensor(initial[i]!, s)));
  const adam = new Adam(vars, 0.9, 0.999, 1e-7, RATE_SCALES);
  for (let step = 0; step < STEPS; step++) {
    const grads = SHAPES.map((s, i) => tf.tensor(gradients[step]![i]!, s));
    adam.apply(grads, LEARNING_RATES[step]!);
    tf.dispose(grads);
  }
  const read = (ts: tf.Tensor[]) => Promise.all(ts.map(async (t) => (await t.data()) as Float32Array));
  const { moments } = adam.state();
  const run = { x: await read(vars), m: await read(moments.slice(0, vars.length)), v: await read(moments.slice(vars.length)) };
  adam.dispose();
  tf.dispose(vars);
  return run;
}

function assertClose(got: AdamRun, want: AdamRun, what: string): void {
  for (const key of ['x', 'm', 'v'] as const) {
    got[key].forEach((a, i) => {
      const err = maxRelativeError(a, want[key][i]!, 0);
      assert.ok(err < 1e-6, `${what}: ${key}[${i}] (shape ${SHAPES[i]}) relative error ${err}`);
    });
  }
}

if (!adapter) {
  reportMissingAdapter('the fused Adam');
} else {
  await tf.setBackend('cpu');
  const reference = await runAdam();
  await selectWebgpuBackend(tf);

  test('fused Adam equals the tf-op Adam on cpu over several steps (x, m, v)', async () => {
    assert.ok(tf.env().getBool(FUSED_ADAM_FLAG), 'fused is the default');
    const fused = await runAdam();
    assert.ok(maxRelativeError(fused.x[0]!, initial[0]!, 0) > 1e-4, 'the variables moved');
    assertClose(fused, reference, 'fused vs cpu');
  });

  test('fused Adam equals the tf-op Adam on webgpu (flag off)', async () => {
    const fused = await runAdam();
    tf.env().set(FUSED_ADAM_FLAG, false);
    try {
      assertClose(fused, await runAdam(), 'fused vs tf-op webgpu');
    } finally {
      tf.env().set(FUSED_ADAM_FLAG, true);
    }
  });

  test('a fused update is one kernel (ctquant\'s) and leaks no tensors', async () => {
    const vars = SHAPES.map((s, i) => tf.variable(tf.tensor(initial[i]!, s)));
    const grads = SHAPES.map((s, i) => tf.tensor(gradients[0]![i]!, s));
    const adam = new Adam(vars);
    adam.apply(grads, 1e-3); // the first update may copy variables whose data is shared
    const before = tf.memory().numTensors;
    const info = await tf.profile(() => adam.apply(grads, 1e-3));
    assert.equal(info.kernels.map((k) => k.name), [ADAM_UPDATE_KERNEL]);
    assert.is(tf.memory().numTensors, before);
    tf.env().set(FUSED_ADAM_FLAG, false);
    const unfused = await tf.profile(() => adam.apply(grads, 1e-3));
    tf.env().set(FUSED_ADAM_FLAG, true);
    assert.ok(unfused.kernels.length >= 10 * SHAPES.length, `tf-op path ran ${unfused.kernels.length} kernels`);
    adam.dispose();
    tf.dispose([...vars, ...grads]);
  });

  test('data shared with another tensor is copied first; read-back caches are refreshed', async () => {
    const x = tf.variable(tf.tensor1d([1, 2, 3]));
    const alias = tf.reshape(x, [3, 1]); // shares x's data
    const before = Array.from(await x.data()); // caches values on the CPU side
    const adam = new Adam([x]);
    const g = tf.tensor1d([1, -1, 0.5]);
    const g2 = tf.tensor1d([1, -1, 0.5]);
    adam.apply([g], 0.1);
    g.dispose();
    assert.equal(Array.from(await alias.data()), [1, 2, 3], 'the alias kept the old values');
    const after = Array.from(await x.data());
    assert.ok(Math.abs(after[0]! - 0.9) < 1e-6 && Math.abs(after[1]! - 2.1) < 1e-6, `x after one step: ${after}`);
    assert.not.equal(after, before);
    // x now owns its data and its values are cached by the read: the next update is in place.
    const m1 = Array.from(await adam.state().moments[0]!.data());
    adam.apply([g2], 0.1);
    const x2 = Array.from(await x.data());
    assert.ok(Math.abs(x2[0]! - 0.8) < 1e-6 && Math.abs(x2[1]! - 2.2) < 1e-6, `x after two steps: ${x2}`);
    assert.not.equal(Array.from(await adam.state().moments[0]!.data()), m1, 'm read back after the update');
    g2.dispose();
    adam.dispose();
    tf.dispose([x, alias]);
  });

  test('restore, then continue, on webgpu matches an uninterrupted fused run', async () => {
    const run = async (interrupt: boolean) => {
      const x = tf.variable(tf.tensor(initial[0]!, SHAPES[0]!));
      let adam = new Adam([x]);
      for (let step = 0; step < STEPS; step++) {
        if (interrupt && step === 2) {
          const { step: s, moments } = adam.state();
          const saved = await Promise.all(moments.map(async (m) => (await m.data()) as Float32Array));
          adam.dispose();
          adam = new Adam([x]);
          adam.restore(s, saved);
        }
        const g = tf.tensor(gradients[step]![0]!, SHAPES[0]!);
        adam.apply([g], LEARNING_RATES[step]!);
        g.dispose();
      }
      const out = (await x.data()) as Float32Array;
      adam.dispose();
      x.dispose();
      return out;
    };
    assert.equal(Array.from(await run(true)), Array.from(await run(false)));
  });

  test('grid-stride loop: more elements than threads dispatched', async () => {
    const n = 1000;
    const xs = randomArray(rng, n);
    const gs = randomArray(rng, n);
    const backend = tf.backend() as unknown as WebGPUBackend;
    const updater = new WebgpuAdamUpdater(backend, 1); // one workgroup of 256 threads
    const [x, m, v, g] = [xs, new Float32Array(n), new Float32Array(n), gs].map((a) => tf.tensor1d(a));
    updater.apply([{ g: g!, m: m!, v: v!, x: x!, rateScale: 1 }], { beta1: 0.9, beta2: 0.999, stepSize: 0.01, epsilonHat: 1e-7 });
    const got = (await x!.data()) as Float32Array;
    const gotV = (await v!.data()) as Float32Array;
    for (let i = 0; i < n; i++) {
      const mi = Math.fround(0.1) * gs[i]!;
      const vi = Math.fround(0.001) * gs[i]! * gs[i]!;
      const want = xs[i]! - (mi * 0.01) / (Math.sqrt(vi) + 1e-7);
      assert.ok(Math.abs(got[i]! - want) < 1e-5, `x[${i}] = ${got[i]}, want ${want}`);
      assert.ok(Math.abs(gotV[i]! - vi) <= 1e-6 * vi + 1e-30, `v[${i}]`);
    }
    updater.dispose();
    tf.dispose([x!, m!, v!, g!]);
  });
}

test.run();
