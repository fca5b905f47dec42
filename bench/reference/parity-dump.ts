/**
 * Dumps one forward/backward pass of ctquant's joint model (trainable layer in 'expected' mode +
 * U-Net + diceBceLoss) on the tfjs cpu backend: weights, input, output, loss and gradients as
 * JSON, so bench/reference/parity.py can load the same weights into the PyTorch mirror and
 * compare. Usage: node --import tsx bench/reference/parity-dump.ts OUT.json [none|batch|group|instance]
 * [baseFilters] [outputPrior]
 */
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { diceBceLoss } from '../../src/model/losses.js';
import { TrainableQuantization } from '../../src/quant/layer.js';
import { JointModel } from '../../src/train/joint.js';
import { Rng } from '../../src/util/rng.js';

const [outPath, normArg, baseArg, priorArg] = process.argv.slice(2);
if (!outPath) throw new Error('usage: parity-dump.ts OUT.json [none|batch|group|instance] [baseFilters] [outputPrior]');
const normalization = (['batch', 'group', 'instance'] as const).find((n) => n === normArg) ?? 'none';
const baseFilters = baseArg ? Number(baseArg) : 4;
const outputPrior = priorArg ? Number(priorArg) : undefined;
const size = 16;
const batch = 2;

await tf.setBackend('cpu');
const layer = new TrainableQuantization({
  rows: size, cols: size, nativeBits: 8, keptBits: 2, rule: 'floor', budget: 0.4, seed: 3, init: 'loupe',
});
const model = new JointModel({
  height: size, width: size, nativeBits: 8, rule: 'floor',
  stage: { kind: 'learned', layer },
  unet: { depth: 2, baseFilters, normalization, ...(outputPrior !== undefined ? { outputPrior } : {}) },
  seed: 5,
});

const rng = new Rng(11);
const hw = batch * size * size;
const counts = Float32Array.from({ length: hw }, () => rng.int(256));
const masks = Float32Array.from({ length: hw }, (_, i) => ((i % size) > 4 && (i % size) < 11 && rng.next() < 0.8 ? 1 : 0));
const x = tf.tensor4d(counts, [batch, size, size, 1]);
const y = tf.tensor4d(masks, [batch, size, size, 1]);

const weights: Record<string, { shape: number[]; values: number[] }> = {};
for (const w of [...model.unet.weights, ...layer.weights]) {
  weights[w.originalName] = { shape: w.shape as number[], values: Array.from(w.read().dataSync()) };
}
const trainable = model.trainableVariables();
const names = [...model.unet.trainableWeights, ...layer.trainableWeights].map((w) => w.originalName);
const output = model.forward(x, { training: true, mode: 'expected' });
const { value, grads } = tf.variableGrads(
  () => diceBceLoss(y, model.forward(x, { training: true, mode: 'expected' }), { perImage: true }) as tf.Scalar,
  trainable,
);
const gradients: Record<string, number[]> = {};
trainable.forEach((v, i) => (gradients[names[i]!] = Array.from(grads[v.name]!.dataSync())));

writeFileSync(outPath, JSON.stringify({
  size, batch, normalization, depth: 2, baseFilters, outputPrior: outputPrior ?? null, nativeBits: 8, keptBits: 2, rule: 'floor', budget: 0.4, slope: layer.slope,
  counts: Array.from(counts), masks: Array.from(masks),
  weights, output: Array.from(output.dataSync()), loss: value.dataSync()[0],
  probabilityMap: Array.from(await layer.probabilityMap()), hardwareLayout: Array.from(await layer.hardwareLayout()),
  gradients,
}));
