/**
 * A whole training step on WebGPU (the GPU path: noise program, sampled-mask and fused conv+ReLU
 * custom gradients, ctquant's WGSL kernels, fused Adam) against the same steps on the cpu backend,
 * on SwiftShader. Skipped without an adapter, failing under CI as the other WGSL tests.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { selectWebgpuBackend } from '../src/backend/webgpu/node-gpu.js';
import { registerWebgpuTrainingKernels } from '../src/backend/webgpu/kernels.js';
import { diceBceLoss } from '../src/model/losses.js';
import type { Normalization } from '../src/model/unet.js';
import { TrainableQuantization } from '../src/quant/layer.js';
import { Adam } from '../src/train/adam.js';
import { JointModel } from '../src/train/joint.js';
import { Rng } from '../src/util/rng.js';
import { reportMissingAdapter, testAdapter } from './helpers/webgpu.js';
import { maxRelativeError } from './helpers/arrays.js';

const SIZE = 16;
const BATCH = 2;
const STEPS = 3;

interface StepRun {
  losses: number[];
  names: string[];
  weights: Float32Array[];
}

/** STEPS training steps of layer + U-Net + Dice/BCE + Adam on the current backend, from seed 3. */
async function train(normalization: Normalization): Promise<StepRun> {
  const seed = 3;
  const rng = new Rng(seed);
  const counts = tf.tensor4d(Float32Array.from({ length: BATCH * SIZE * SIZE }, () => rng.int(256)), [BATCH, SIZE, SIZE, 1]);
  const masks = tf.tensor4d(Float32Array.from({ length: BATCH * SIZE * SIZE }, (_, i) => ((i % SIZE) > 5 && (i % SIZE) < 11 ? 1 : 0)), [BATCH, SIZE, SIZE, 1]);
  const layer = new TrainableQuantization({ rows: SIZE, cols: SIZE, nativeBits: 8, keptBits: 2, rule: 'floor', budget: 0.4, seed });
  const model = new JointModel({
    height: SIZE, width: SIZE, nativeBits: 8, rule: 'floor', stage: { kind: 'learned', layer },
    unet: { depth: 2, baseFilters: 4, normalization }, seed,
  });
  const trainable = model.trainableVariables();
  const adam = new Adam(trainable);
  const losses: number[] = [];
  for (let s = 0; s < STEPS; s++) {
    layer.resetNoise(seed + s);
    const { value, grads } = tf.variableGrads(
      () => diceBceLoss(masks, model.forward(counts, { training: true, mode: 'stochastic' }), { perImage: true }),
      trainable,
    );
    adam.apply(trainable.map((v) => grads[v.name]!), 1e-2);
    tf.dispose(Object.values(grads));
    losses.push((await value.data())[0]!);
    value.dispose();
  }
  const weights = await Promise.all(trainable.map(async (v) => (await v.data()) as Float32Array));
  tf.dispose([counts, masks]);
  return { losses, names: trainable.map((v) => v.name), weights };
}

const adapter = await testAdapter();
if (!adapter) {
  reportMissingAdapter('a training step on WebGPU');
} else {
  await tf.setBackend('cpu');
  const reference = { none: await train('none'), group: await train('group') };
  await selectWebgpuBackend(tf);
  registerWebgpuTrainingKernels();

  for (const normalization of ['none', 'group'] as const) {
    test(`${STEPS} training steps on webgpu equal cpu (normalisation ${normalization})`, async () => {
      const want = reference[normalization];
      const got = await train(normalization);
      assert.ok(maxRelativeError(got.losses, want.losses, 1) < 1e-4, `losses ${got.losses} vs ${want.losses}`);
      assert.is(got.weights.length, want.weights.length);
      got.weights.forEach((w, i) => {
        // A conv bias followed by a normalisation has a zero gradient up to rounding, which Adam
        // scales to full steps of either sign: nothing to compare.
        if (normalization !== 'none' && /_conv\d\/bias/.test(got.names[i]!)) return;
        const err = maxRelativeError(w, want.weights[i]!, 1e-2);
        assert.ok(err < 1e-3, `${got.names[i]}: relative error ${err}`);
      });
    });
  }
}

test.run();
