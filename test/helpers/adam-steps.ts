/** A few Adam steps of a small joint model (learned layer + U-Net) on seeded random data: the backend tests' training check. */
import * as tf from '@tensorflow/tfjs';
import { TrainableQuantization } from '../../src/quant/layer.js';
import { JointModel } from '../../src/train/joint.js';
import { Adam } from '../../src/train/adam.js';
import { diceBceLoss } from '../../src/model/losses.js';
import type { Normalization } from '../../src/model/unet.js';
import { Rng } from '../../src/util/rng.js';

export interface AdamStepsOptions {
  steps: number;
  size: number;
  batch: number;
  seed: number;
  learningRate: number;
  normalization: Normalization;
}

/** The loss of each step, from the seed alone (layer noise reset per step), so runs can be compared bit for bit. */
export function adamStepLosses(o: AdamStepsOptions): number[] {
  const { size, seed } = o;
  const layer = new TrainableQuantization({ rows: size, cols: size, nativeBits: 8, keptBits: 1, rule: 'floor', budget: 0.5, seed });
  const model = new JointModel({
    height: size, width: size, nativeBits: 8, rule: 'floor',
    stage: { kind: 'learned', layer },
    unet: { depth: 2, baseFilters: 8, normalization: o.normalization },
    seed,
  });
  const trainable = model.trainableVariables();
  const adam = new Adam(trainable);
  const r = new Rng(seed);
  const n = o.batch * size * size;
  const counts = tf.tensor4d(Float32Array.from({ length: n }, () => r.int(256)), [o.batch, size, size, 1]);
  const masks = tf.tensor4d(Float32Array.from({ length: n }, () => (r.uniform(0, 1) < 0.2 ? 1 : 0)), [o.batch, size, size, 1]);
  const losses: number[] = [];
  try {
    for (let s = 0; s < o.steps; s++) {
      layer.resetNoise(seed + s);
      const { value, grads } = tf.variableGrads(
        () => diceBceLoss(masks, model.forward(counts, { training: true, mode: 'stochastic' }), { perImage: true }),
        trainable,
      );
      adam.apply(trainable.map((v) => grads[v.name]!), o.learningRate);
      tf.dispose(Object.values(grads));
      losses.push(value.dataSync()[0]!);
      value.dispose();
    }
  } finally {
    adam.dispose();
    tf.dispose([counts, masks]);
    model.dispose();
  }
  return losses;
}
