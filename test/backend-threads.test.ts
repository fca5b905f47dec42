/**
 * The threaded wasm build (src/backend/wasm/threads.ts): it starts in Node with 2 threads, leaves no
 * global patched, gives the single-threaded build's conv2d and training losses within 1e-5, repeats
 * its own losses exactly, and the fallback to the single-threaded build works when the worker patch
 * is disabled; ctquant's SIMD convolutions split over both threads give exactly the one-thread
 * results (with the threads polling for their jobs or sleeping at once), and so does the group norm + ReLU kernel pair. The wasm backend starts once per process, so this file runs itself twice as a child
 * (one per build) and compares what the children print.
 */
import { runChildReport } from './helpers/child-report.js';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startBackend } from '../src/backend/index.js';
import { setWorkerPatchEnabled } from '../src/backend/wasm/threads.js';
import type { WasmHeapBackend } from '../src/backend/wasm/heap.js';
import { simdConvThreadsInUse } from '../src/backend/wasm/simd-conv.js';
import { WASM_THREAD_POLL_FLAG } from '../src/backend/flags.js';
import { Adam } from '../src/train/adam.js';
import { Rng } from '../src/util/rng.js';
import { groupNormRelu } from '../src/model/group-norm.js';
import { adamStepLosses } from './helpers/adam-steps.js';

interface ChildReport {
  detail: string;
  logs: string[];
  globalsRestored: boolean;
  conv: number[];
  /** U-Net-shaped SIMD conv (forward with bias + ReLU, input and filter gradients), flattened. */
  simdConv: number[];
  /** The same with WASM_THREAD_POLL_FLAG off. */
  simdConvSleeping: number[];
  simdThreads: number;
  /** Group norm + ReLU (wasm/simd-group-norm.ts) over several chunks per image: z, dx, dγ, dβ, flattened. */
  groupNorm: number[];
  losses: number[];
  lossesAgain: number[];
}

const MODE = process.env.CTQUANT_THREADS_TEST_CHILD;

function randomTensor(shape: number[], seed: number): tf.Tensor {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.uniform(-1, 1);
  return tf.tensor(a, shape);
}

/** Losses of `steps` training steps of a small joint model (learned layer + U-Net, Adam) from a fixed seed. */
function trainLosses(steps: number): number[] {
  return adamStepLosses({ steps, size: 32, batch: 2, seed: 3, learningRate: 1e-3, normalization: 'none' });
}

async function child(mode: string): Promise<ChildReport> {
  if (mode === 'no-patch') setWorkerPatchEnabled(false);
  const createObjectURL = URL.createObjectURL;
  const cpus = os.cpus;
  const logs: string[] = [];
  const started = await startBackend('wasm', (line) => logs.push(line), { wasmThreads: 2 });
  const globalsRestored = URL.createObjectURL === createObjectURL && os.cpus === cpus;
  const conv = tf.tidy(() => {
    const x = randomTensor([2, 24, 24, 8], 1);
    const f = randomTensor([3, 3, 8, 16], 2);
    return Array.from(tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, 1, 'same').dataSync());
  });
  // 20² runs Winograd F(2×2); 32², batch 2 (128 tiles of 4×4) F(4×4) in all three passes.
  const simdConvResults = () => tf.tidy(() => [20, 32].flatMap((size) => {
    const x = randomTensor([2, size, size, 16], 3);
    const f = randomTensor([3, 3, 16, 24], 4);
    const b = randomTensor([24], 5);
    const y = tf.engine().runKernel('FusedConv2D', { x, filter: f, bias: b },
      { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1], activation: 'relu' }) as tf.Tensor;
    const [dx, df] = tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, 1, 'same'))))([x, f]);
    return [y, dx!, df!].flatMap((t) => Array.from(t.dataSync()));
  }));
  const simdConv = simdConvResults();
  // The threads sleep at once instead of polling first: only the hand-off changes.
  tf.env().set(WASM_THREAD_POLL_FLAG, false);
  const simdConvSleeping = simdConvResults();
  tf.env().set(WASM_THREAD_POLL_FLAG, true);
  const groupNorm = tf.tidy(() => {
    // 40·40 pixels of 8 channels: two chunks per image, four units over the two threads.
    const x = randomTensor([2, 40, 40, 8], 6);
    const gamma = tf.add(randomTensor([8], 7), 1.5);
    const beta = randomTensor([8], 8);
    const r = randomTensor([2, 40, 40, 8], 9);
    const f = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => groupNormRelu(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, 4, 1e-5);
    const grads = tf.grads((a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(a, g, b), r)))([x, gamma, beta]);
    return [f(x, gamma, beta), ...grads].flatMap((t) => Array.from(t.dataSync()));
  });
  const simdThreads = simdConvThreadsInUse(tf.backend() as unknown as WasmHeapBackend);
  return {
    detail: started.detail, logs, globalsRestored, conv, simdConv, simdConvSleeping, simdThreads, groupNorm, losses: trainLosses(3), lossesAgain: trainLosses(3),
  };
}

if (MODE) {
  // Child: one build, one JSON line on stdout. No process.exit: the process must end by itself,
  // which it only does if the pool's workers were unref'd.
  const report = await child(MODE);
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else {
  const runChild = (mode: string): Promise<ChildReport> =>
    runChildReport<ChildReport>(fileURLToPath(import.meta.url), { env: { CTQUANT_THREADS_TEST_CHILD: mode }, label: `child ${mode}` });
  // Both children at once: the whole file stays well under 15 s.
  const [threaded, fallback] = await Promise.all([runChild('threads'), runChild('no-patch')]);

  const maxAbsDiff = (a: number[], b: number[]) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

  test('the threaded build starts with 2 threads and restores the globals it patched', () => {
    assert.match(threaded.detail, /^XNNPACK, SIMD(, relaxed FMA)?, 2 threads$/); // relaxed FMA where the runtime has relaxed SIMD
    assert.equal(threaded.logs, []);
    assert.ok(threaded.globalsRestored);
  });

  test('without the worker patch it falls back to the single-threaded build and logs why', () => {
    assert.match(fallback.detail, /^XNNPACK, SIMD(, relaxed FMA)?, 1 thread$/);
    assert.is(fallback.logs.length, 1);
    assert.match(fallback.logs[0]!, /wasm: 2 threads unavailable \(.*must be an absolute path.*\); using the single-threaded build/);
    assert.ok(fallback.globalsRestored);
  });

  test('SIMD convolutions on two threads give exactly the one-thread results', () => {
    assert.is(threaded.simdThreads, 2);
    assert.is(fallback.simdThreads, 1);
    assert.ok(threaded.simdConv.length > 0 && threaded.simdConv.every(Number.isFinite));
    assert.equal(threaded.simdConv, fallback.simdConv);
    assert.equal(threaded.simdConvSleeping, fallback.simdConv, 'threads that sleep without polling first');
  });

  test('group norm + ReLU on two threads gives exactly the one-thread results', () => {
    assert.ok(threaded.groupNorm.length === 2 * (2 * 40 * 40 * 8) + 2 * 8 && threaded.groupNorm.every(Number.isFinite));
    assert.equal(threaded.groupNorm, fallback.groupNorm);
  });

  test('conv2d and training losses match the single-threaded build within 1e-5', () => {
    assert.is(threaded.conv.length, fallback.conv.length);
    assert.ok(maxAbsDiff(threaded.conv, fallback.conv) < 1e-5, `conv2d differs by ${maxAbsDiff(threaded.conv, fallback.conv)}`);
    assert.ok(threaded.losses.every(Number.isFinite));
    assert.ok(maxAbsDiff(threaded.losses, fallback.losses) < 1e-5, `losses ${threaded.losses} vs ${fallback.losses}`);
  });

  test('a given thread count repeats its losses exactly from the same seed', () => {
    assert.equal(threaded.lossesAgain, threaded.losses);
    assert.equal(fallback.lossesAgain, fallback.losses);
  });

  test.run();
}
