/**
 * Group norm + affine + ReLU on wasm: ctquant's SIMD kernels (flag CTQUANT_WASM_GROUP_NORM on)
 * against the tf-ops form (off), alternating in one process so that other load hits both alike.
 * Two figures per size: the layer alone (forward and backward of groupNormRelu on the U-Net's
 * first three levels' shapes, summed), and one whole training step of the recipe's model
 * (depth 3, base 8, group norm, Adam).
 *
 *   nice -n 10 node --import tsx bench/group-norm.ts --sizes 64,128 --batch 4 --rounds 5
 * Prints one line per size and figure: median ms with the flag off and on, and each round's pair.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../src/backend/index.js';
import { WASM_GROUP_NORM_FLAG } from '../src/backend/flags.js';
import { groupNormRelu } from '../src/model/group-norm.js';
import { prepareTrainingStep } from './step-lib.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '64,128' },
    batch: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1' },
  },
});
const sizes = values.sizes!.split(',').map(Number);
const batch = Number(values.batch);
const rounds = Number(values.rounds);

const started = await startBackend('wasm', () => {}, { wasmThreads: Number(values.threads) });
console.log(`backend: ${started.detail}`);

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

/** Forward + backward of groupNormRelu on the U-Net's level shapes at `size`, ms. */
function layerTime(size: number): number {
  return tf.tidy(() => {
    const levels = [0, 1, 2].map((level) => {
      const s = size >> level;
      const c = 8 << level;
      return {
        x: tf.randomNormal([batch, s, s, c], 0, 1, 'float32', 1) as tf.Tensor4D,
        gamma: tf.ones([c]) as tf.Tensor1D,
        beta: tf.fill([c], 0.1) as tf.Tensor1D,
        groups: Math.min(8, c),
      };
    });
    const t0 = performance.now();
    for (const l of levels) {
      const [dx] = tf.grads((a: tf.Tensor) => groupNormRelu(a as tf.Tensor4D, l.gamma, l.beta, l.groups, 1e-5))([l.x]);
      dx!.dataSync();
    }
    return performance.now() - t0;
  });
}

for (const size of sizes) {
  const layer: Record<'off' | 'on', number[]> = { off: [], on: [] };
  const step: Record<'off' | 'on', number[]> = { off: [], on: [] };
  const prepared = prepareTrainingStep({ size, batch, steps: 0, warmup: 0, depth: 3, baseFilters: 8, normalization: 'group' });
  const timeStep = () => {
    const t0 = performance.now();
    const loss = prepared.step();
    loss.dataSync();
    loss.dispose();
    return performance.now() - t0;
  };
  for (let r = -1; r < rounds; r++) {
    for (const mode of ['off', 'on'] as const) {
      tf.env().set(WASM_GROUP_NORM_FLAG, mode === 'on');
      const l = layerTime(size);
      const s = timeStep();
      if (r >= 0) {
        layer[mode].push(l);
        step[mode].push(s);
      }
    }
  }
  prepared.dispose();
  for (const [what, t] of [['layer (3 levels, fwd+bwd)', layer], ['training step', step]] as const) {
    const pairs = t.off.map((v, k) => `${v.toFixed(0)}/${t.on[k]!.toFixed(0)}`).join(' ');
    console.log(`${size}², batch ${batch}, ${what}: off ${median(t.off).toFixed(1)} ms, on ${median(t.on).toFixed(1)} ms (×${(median(t.off) / median(t.on)).toFixed(2)}); rounds off/on: ${pairs}`);
  }
}
