/**
 * What 2.5D context costs per training step: the joint model (learned layout, default U-Net) at
 * 64², batch 8, trained with trainModel on synthetic phantoms (volumes of 8 adjacent slices), 2D
 * (k = 1) against k = 3 and k = 5, in one run, alternating so that other load hits both alike.
 * `--networks 2.5d,3d` adds the 3D U-Net (context.network "3d") for every k ≥ 3.
 *
 *   nice -n 10 node --import tsx bench/context.ts --backend wasm --ks 1,3 --networks 2.5d,3d --steps 12 --rounds 2
 * Prints one line per variant (k and network): ms per step (median and best of rounds, warm-up epoch excluded; on shared cores the best is the steadier figure), the peak tensor
 * bytes of one step (batch, forward, gradients; tf.profile) and the process RSS so far (one
 * process runs every k, so RSS only grows); then one JSON object on the last line.
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../src/backend/index.js';
import { resolveConfig } from '../src/config/experiment-config.js';
import { generatePhantoms } from '../src/data/phantom.js';
import { TrainableQuantization } from '../src/quant/layer.js';
import { JointModel } from '../src/train/joint.js';
import { trainModel } from '../src/train/trainer.js';
import { makeBatch } from '../src/train/batches.js';
import { diceBceLoss } from '../src/model/losses.js';
import type { ContextNetwork } from '../src/model/unet3d.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    ks: { type: 'string', default: '1,3' },
    networks: { type: 'string', default: '2.5d' },
    size: { type: 'string', default: '64' },
    batch: { type: 'string', default: '8' },
    steps: { type: 'string', default: '12' },
    rounds: { type: 'string', default: '2' },
  },
});
const size = Number(values.size);
const batch = Number(values.batch);
const steps = Number(values.steps);
const rounds = Number(values.rounds);
const ks = values.ks!.split(',').map(Number);
const networks = values.networks!.split(',') as ContextNetwork[];
/** The variants timed, in order: every k with every network it can run (the 3d network needs k ≥ 3). */
const variants = ks.flatMap((k) => networks.filter((n) => n === '2.5d' || k >= 3).map((network) => ({ k, network, label: `k=${k}${network === '3d' ? ' 3d' : ''}` })));

const started = await startBackend(values.backend as 'wasm');
const config = resolveConfig({ size });
const data = generatePhantoms({ n: batch * steps, size, seed: 3, nativeBits: 8, slicesPerVolume: 8 });

function model(k: number, network: ContextNetwork): JointModel {
  return new JointModel({
    height: size,
    width: size,
    nativeBits: 8,
    rule: 'floor',
    stage: { kind: 'learned', layer: new TrainableQuantization({ rows: size, cols: size, nativeBits: 8, keptBits: 1, rule: 'floor', budget: 0.5, seed: 5 }) },
    unet: config.unet,
    seed: 1,
    contextSlices: k,
    contextNetwork: network,
  });
}

/** Seconds per step of one training of `epochs` epochs (the first epoch is the warm-up when epochs = 2). */
async function timeSteps(k: number, network: ContextNetwork): Promise<{ msPerStep: number; peakMiB: number; rssMiB: number }> {
  const m = model(k, network);
  try {
    const opts = { batchSize: batch, learningRate: 3e-3, decayStart: 0.75, decayFloor: 0.1, warmupEpochs: 0, dice: 'perImage' as const, temperature: { start: 1, end: 0.1 }, seed: 2 };
    const out = await trainModel(m, data, { ...opts, epochs: 2 });
    const warm = out.history[1]!.seconds;
    // Peak tensor bytes of one step's batch, forward and gradients (tf.profile counts what tfjs allocates).
    const info = await tf.profile(() => {
      const { counts, masks } = makeBatch(data, Array.from({ length: batch }, (_, i) => i), undefined, k);
      const { value, grads } = tf.variableGrads(() => diceBceLoss(masks, m.forward(counts, { training: true, mode: 'stochastic' }), { perImage: true }) as tf.Scalar, m.trainableVariables());
      tf.dispose([counts, masks, value, ...Object.values(grads)]);
    });
    return { msPerStep: (1000 * warm) / steps, peakMiB: info.peakBytes / 2 ** 20, rssMiB: process.memoryUsage().rss / 2 ** 20 };
  } finally {
    m.dispose();
  }
}

const results: Record<string, { msPerStep: number[]; peakMiB: number; rssMiB: number }> = {};
for (let r = 0; r < rounds; r++) {
  for (const v of r % 2 ? [...variants].reverse() : variants) {
    const t = await timeSteps(v.k, v.network);
    const acc = (results[v.label] ??= { msPerStep: [], peakMiB: 0, rssMiB: 0 });
    acc.msPerStep.push(t.msPerStep);
    acc.peakMiB = Math.max(acc.peakMiB, t.peakMiB);
    acc.rssMiB = Math.max(acc.rssMiB, t.rssMiB);
  }
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)]!;
const reference = variants[0]!.label;
const base = median(results[reference]!.msPerStep);
console.log(`backend ${started.name} (${started.detail}), ${size}², batch ${batch}, ${steps} steps per epoch, ${rounds} rounds`);
for (const { label } of variants) {
  const r = results[label]!;
  const ms = median(r.msPerStep);
  console.log(`${label}: ${ms.toFixed(0)} ms/step median, ${Math.min(...r.msPerStep).toFixed(0)} best (rounds ${r.msPerStep.map((v) => v.toFixed(0)).join(', ')}), ×${(ms / base).toFixed(2)} of ${reference}; peak tensor memory of a step ${r.peakMiB.toFixed(1)} MiB, process RSS so far ${r.rssMiB.toFixed(0)} MiB`);
}
console.log(JSON.stringify({ backend: started.name, size, batch, steps, rounds, results }));
