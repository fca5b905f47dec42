/**
 * One tfjs flag off against on, on whole training steps on wasm, alternating in one process so that
 * other load on the machine hits both alike (the way bench/group-norm.ts times its flag). The model
 * is bench/step-lib.ts's (U-Net depth 4, base 16, learned layer, Dice + BCE, Adam; `--norm group`
 * for the training recipe's normalisation).
 *
 *   node --import tsx bench/flag-ab.ts --flag CTQUANT_WASM_FILTER_ROTATION --sizes 64,128,256 --batch 4 --rounds 5
 * Prints one line per size: median ms per step with the flag off and on, the ratio, and each
 * round's pair, and whether both settings gave the same losses (a flag that only changes speed must;
 * one that changes sums, such as Winograd, shows how far they drifted).
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../src/backend/index.js';
import { prepareTrainingStep } from './step-lib.js';

const { values } = parseArgs({
  options: {
    flag: { type: 'string' },
    sizes: { type: 'string', default: '64,128' },
    batch: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1' },
    norm: { type: 'string', default: 'none' },
  },
});
if (!values.flag) throw new Error('--flag NAME: the tfjs flag to time off against on');
const flag = values.flag;
const norm = values.norm === 'group' ? 'group' : 'none';
const sizes = values.sizes!.split(',').map(Number);
const batch = Number(values.batch);
const rounds = Number(values.rounds);

const started = await startBackend('wasm', () => {}, { wasmThreads: Number(values.threads) });
tf.env().getBool(flag); // throws for a flag nobody registered
console.log(`backend: ${started.detail}; ${flag} off/on alternating, median of ${rounds} rounds, batch ${batch}, norm ${norm}`);

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

for (const size of sizes) {
  const times: Record<'off' | 'on', number[]> = { off: [], on: [] };
  const losses: Record<'off' | 'on', number[]> = { off: [], on: [] };
  // Two identical models, one per setting, so each sees the same sequence of steps.
  const prepared = { off: prepareTrainingStep({ size, batch, steps: 0, warmup: 0, normalization: norm }), on: prepareTrainingStep({ size, batch, steps: 0, warmup: 0, normalization: norm }) };
  for (let r = -1; r < rounds; r++) {
    for (const mode of ['off', 'on'] as const) {
      tf.env().set(flag, mode === 'on');
      const t0 = performance.now();
      const loss = prepared[mode].step();
      const value = loss.dataSync()[0]!;
      loss.dispose();
      const ms = performance.now() - t0;
      losses[mode].push(value);
      if (r >= 0) times[mode].push(ms);
    }
  }
  prepared.off.dispose();
  prepared.on.dispose();
  const same = losses.off.every((v, k) => v === losses.on[k]);
  // A flag that changes sums (Winograd) may change the last bits: how far the losses drifted.
  const drift = Math.max(...losses.off.map((v, k) => Math.abs(v - losses.on[k]!) / Math.max(Math.abs(v), 1e-12)));
  const pairs = times.off.map((v, k) => `${v.toFixed(0)}/${times.on[k]!.toFixed(0)}`).join(' ');
  console.log(`${size}², batch ${batch}: off ${median(times.off).toFixed(1)} ms, on ${median(times.on).toFixed(1)} ms (×${(median(times.off) / median(times.on)).toFixed(2)}); `
    + `losses ${same ? 'identical' : `differ (at most ${drift.toExponential(1)} relative)`}; rounds off/on: ${pairs}`);
}
