/**
 * A whole training step on WebGPU (the GPU path: noise program, sampled-mask and fused conv+ReLU
 * custom gradients, ctquant's WGSL kernels, fused Adam) against the same steps on the cpu backend,
 * on SwiftShader; and the trainer's whole loop there (validation in hardware mode, checkpoints,
 * evaluation: webgpu in Node has no synchronous read). Skipped without an adapter, failing under CI
 * as the other WGSL tests.
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
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generatePhantoms } from '../src/data/phantom.js';
import { evaluate } from '../src/train/evaluate.js';
import { restoreModelState, trainModel } from '../src/train/trainer.js';
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

/** A short run of the real trainer with validation and a checkpoint, then evaluation, on the current backend. */
async function trainerRun(dir: string) {
  const data = generatePhantoms({ n: 6, size: 32, seed: 5, nativeBits: 8, slicesPerVolume: 2 });
  const make = () => new JointModel({
    height: 32, width: 32, nativeBits: 8, rule: 'floor',
    stage: { kind: 'learned', layer: new TrainableQuantization({ rows: 32, cols: 32, nativeBits: 8, keptBits: 1, rule: 'floor', budget: 0.5, seed: 3 }) },
    unet: { depth: 2, baseFilters: 4, normalization: 'group' }, seed: 7,
  });
  const model = make();
  const checkpointPath = join(dir, `${tf.getBackend()}.ckpt`);
  const outcome = await trainModel(model, data, {
    epochs: 2, batchSize: 3, learningRate: 3e-3, decayStart: 0.5, decayFloor: 0.1, warmupEpochs: 0.5,
    dice: 'perImage', temperature: { start: 1, end: 0.2 }, seed: 11, validation: data, checkpointPath,
  });
  const layer = model.stage.kind === 'learned' ? model.stage.layer : null;
  const layout = await layer!.hardwareLayout();
  const hardware = await evaluate(model, data, { mode: 'hardware', batchSize: 4 });
  const weights = await Promise.all(model.stateVariables().map(async (s) => Array.from(await s.variable.data())));
  const restored = make();
  restoreModelState(restored, checkpointPath);
  const restoredWeights = await Promise.all(restored.stateVariables().map(async (s) => Array.from(await s.variable.data())));
  model.dispose();
  restored.dispose();
  return { outcome, layout, hardware, weights, restoredWeights, checkpointed: existsSync(checkpointPath) };
}

const adapter = await testAdapter();
if (!adapter) {
  reportMissingAdapter('a training step on WebGPU');
} else {
  await tf.setBackend('cpu');
  const reference = { none: await train('none'), group: await train('group') };
  const dir = mkdtempSync(join(tmpdir(), 'ctquant-webgpu-'));
  const referenceRun = await trainerRun(dir);
  await selectWebgpuBackend(tf);
  registerWebgpuTrainingKernels();

  const webgpuRuns: Partial<Record<Normalization, StepRun>> = {};
  for (const normalization of ['none', 'group'] as const) {
    test(`${STEPS} training steps on webgpu equal cpu (normalisation ${normalization})`, async () => {
      const want = reference[normalization];
      const got = await train(normalization);
      webgpuRuns[normalization] = got;
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

  test('the same steps again on webgpu give the same numbers, bit for bit (same seed, same backend)', async () => {
    const first = webgpuRuns.group!;
    const again = await train('group');
    assert.equal(again.losses, first.losses);
    again.weights.forEach((w, i) => assert.equal(Array.from(w), Array.from(first.weights[i]!), again.names[i]));
  });

  test('the trainer runs on webgpu: validation in hardware mode, checkpoint, evaluation (as on cpu)', async () => {
    const run = await trainerRun(dir);
    assert.ok(run.checkpointed);
    assert.equal(run.restoredWeights, run.weights, 'the checkpoint restores the trained weights');
    assert.is(run.layout.reduce((a, v) => a + v, 0), 512, 'exactly budget·n pixels in the layout');
    const losses = run.outcome.history.map((h) => h.loss);
    const want = referenceRun.outcome.history.map((h) => h.loss);
    assert.ok(maxRelativeError(losses, want, 1) < 1e-3, `losses ${losses} vs ${want}`);
    for (const h of run.outcome.history) assert.ok(h.valDice !== undefined && h.valDice >= 0 && h.valDice <= 1);
    // Discrete Dice can flip with a pixel near 0.5; the runs agree closely, not bit for bit.
    assert.ok(Math.abs(run.hardware.mean - referenceRun.hardware.mean) < 0.05, `${run.hardware.mean} vs ${referenceRun.hardware.mean}`);
  });
}

test.run();
