/**
 * The 3D U-Net over a k-slice stack (issue 21, context.network "3d"): output shape of the centre
 * slice for k = 3 and 5, depth kept at every level, k = 1 refused, the folded group norm equal to
 * a 5-D one (values and gradients), in-plane ops per slice, training lowers the loss, resume is
 * bit-exact, and the default network stays the 2.5D one.
 */
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startBackend } from '../src/backend/index.js';
import { generatePhantoms } from '../src/data/phantom.js';
import { resolveConfig } from '../src/config/experiment-config.js';
import { buildUNet3D, GroupNormReLU3D, InPlaneMaxPool, InPlaneUpConv, CentreSlice } from '../src/model/unet3d.js';
import { UpConv2x2 } from '../src/model/unet.js';
import { TrainableQuantization } from '../src/quant/layer.js';
import { makeBatch } from '../src/train/batches.js';
import { JointModel, type InputStage } from '../src/train/joint.js';
import { trainModel } from '../src/train/trainer.js';
import { modelForPoint } from '../src/experiments/run-point.js';
import { studyProfile } from '../src/profile/load.js';
import { shortTrainOptions, weightsOf } from './helpers/train.js';

await startBackend('wasm');
const dir = mkdtempSync(join(tmpdir(), 'ctquant-unet3d-'));
const S = 32;
// Two volumes of 4 slices each.
const data = generatePhantoms({ n: 8, size: S, seed: 5, nativeBits: 8, slicesPerVolume: 4 });
const unet = { depth: 2, baseFilters: 4, normalization: 'group' as const, outputPrior: 0.05 };

function modelOptions(stage: InputStage, k = 3) {
  return { height: S, width: S, nativeBits: 8, rule: 'floor' as const, stage, unet, seed: 7, contextSlices: k, contextNetwork: '3d' as const };
}

const close = (a: Float32Array | number[], b: Float32Array | number[], tol: number, what: string) => {
  assert.is(a.length, b.length, what);
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i]! - b[i]!) <= tol * Math.max(1, Math.abs(b[i]!)))) assert.unreachable(`${what}: element ${i} ${a[i]} vs ${b[i]}`);
  }
};

test('k = 3 and 5: output [B, H, W, 1]; every level keeps all k slices (pooling in-plane only)', () => {
  for (const k of [3, 5]) {
    const model = buildUNet3D({ height: S, width: S, ...unet, seed: 1, inputChannels: k });
    assert.equal(model.inputs[0]!.shape, [null, S, S, k]);
    assert.equal(model.outputs[0]!.shape, [null, S, S, 1]);
    assert.equal(model.getLayer('down0_conv1').outputShape, [null, k, S, S, 4]);
    assert.equal(model.getLayer('pool1').outputShape, [null, k, S / 4, S / 4, 8]);
    assert.equal(model.getLayer('bottom_conv2_gn').outputShape, [null, k, S / 4, S / 4, 16]);
    assert.equal(model.getLayer('up0').outputShape, [null, k, S, S, 4]);
    assert.equal(model.getLayer('centre').outputShape, [null, S, S, 4]);
    const { counts } = makeBatch(data, [0, 3], undefined, k);
    const p = model.predict(tf.div(counts, 255)) as tf.Tensor;
    assert.equal(p.shape, [2, S, S, 1]);
    const v = p.dataSync();
    assert.ok(v.every((x) => x > 0 && x < 1));
    tf.dispose([counts, p]);
    model.dispose();
  }
});

test('the 3d network refuses k = 1 and an even k; 2.5d with k = 1 is the 2D model', () => {
  assert.throws(() => buildUNet3D({ height: S, width: S, ...unet, seed: 1 }), /odd number of context slices ≥ 3, got 1/);
  assert.throws(() => buildUNet3D({ height: S, width: S, ...unet, seed: 1, inputChannels: 4 }), /odd number of context slices ≥ 3, got 4/);
  assert.throws(() => new JointModel(modelOptions({ kind: 'none' }, 1)), /the 3d network needs context slices ≥ 3, got 1/);
  assert.throws(() => new JointModel({ ...modelOptions({ kind: 'none' }), contextNetwork: '4d' as never }), /2.5d or 3d/);
});

test('GroupNormReLU3D equals a 5-D group norm (statistics per image and group over D, H, W), values and gradients', () => {
  const [b, d, h, w, c, groups] = [2, 3, 4, 5, 6, 3];
  const x = tf.randomNormal([b, d, h, w, c], 0.3, 2, 'float32', 4) as tf.Tensor5D;
  const layer = new GroupNormReLU3D({ groups, name: 'gn3d_test' });
  layer.build([null, d, h, w, c]);
  const [gamma, beta] = [tf.randomNormal([c], 1, 0.3, 'float32', 5), tf.randomNormal([c], 0, 0.3, 'float32', 6)];
  layer.setWeights([gamma, beta]);
  const direct = (input: tf.Tensor, g: tf.Tensor, bt: tf.Tensor) => {
    const view = tf.reshape(input, [b, d, h, w, groups, c / groups]);
    const { mean, variance } = tf.moments(view, [1, 2, 3, 5], true);
    const xHat = tf.reshape(tf.div(tf.sub(view, mean), tf.sqrt(tf.add(variance, 1e-5))), [b, d, h, w, c]);
    return tf.relu(tf.add(tf.mul(xHat, g), bt));
  };
  const weight = tf.randomNormal([b, d, h, w, c], 0, 1, 'float32', 7);
  close((layer.apply(x) as tf.Tensor).dataSync() as Float32Array, direct(x, gamma, beta).dataSync() as Float32Array, 1e-5, 'values');
  const viaLayer = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input) as tf.Tensor, weight)))(x);
  const viaDirect = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(direct(input, gamma, beta), weight)))(x);
  close(viaLayer.dataSync() as Float32Array, viaDirect.dataSync() as Float32Array, 1e-4, 'dx');
  tf.dispose([x, gamma, beta, weight, viaLayer, viaDirect]);
});

test('pooling, up-convolution and the centre slice act on each slice alone', () => {
  const [b, d, h, w, c] = [2, 3, 4, 6, 5];
  const x = tf.randomNormal([b, d, h, w, c], 0, 1, 'float32', 8) as tf.Tensor5D;
  const sliceAt = (t: tf.Tensor, i: number) => {
    const s = t.shape as number[];
    return tf.reshape(tf.slice(t, [0, i, 0, 0, 0], [s[0]!, 1, s[2]!, s[3]!, s[4]!]), [s[0]!, s[2]!, s[3]!, s[4]!]);
  };
  const pooled = new InPlaneMaxPool().apply(x) as tf.Tensor;
  assert.equal(pooled.shape, [b, d, h / 2, w / 2, c]);
  const up = new InPlaneUpConv({ filters: 3, seed: 9 });
  const upped = up.apply(x) as tf.Tensor;
  assert.equal(upped.shape, [b, d, 2 * h, 2 * w, 3]);
  const up2d = new UpConv2x2({ filters: 3, seed: 9 });
  up2d.build([null, h, w, c]);
  up2d.setWeights(up.getWeights());
  for (let i = 0; i < d; i++) {
    close(sliceAt(pooled, i).dataSync() as Float32Array, tf.maxPool(sliceAt(x, i) as tf.Tensor4D, 2, 2, 'valid').dataSync() as Float32Array, 0, `pool slice ${i}`);
    close(sliceAt(upped, i).dataSync() as Float32Array, (up2d.apply(sliceAt(x, i)) as tf.Tensor).dataSync() as Float32Array, 1e-6, `up slice ${i}`);
  }
  assert.equal(Array.from((new CentreSlice().apply(x) as tf.Tensor).dataSync()), Array.from(sliceAt(x, 1).dataSync()));
  tf.dispose([x, pooled, upped]);
});

const learnedModel = () =>
  new JointModel(modelOptions({ kind: 'learned', layer: new TrainableQuantization({ rows: S, cols: S, nativeBits: 8, keptBits: 2, rule: 'floor', budget: 0.4, seed: 3 }) }));

test('a short training of the 3d network on the phantoms lowers the loss', async () => {
  const model = learnedModel();
  const out = await trainModel(model, data, shortTrainOptions({ epochs: 4, learningRate: 3e-3 }));
  const losses = out.history.map((h) => h.loss);
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(losses[losses.length - 1]! < losses[0]!, `loss should fall: ${losses.map((l) => l.toFixed(4)).join(' → ')}`);
  model.dispose();
});

test('resume with the 3d network (k = 3, learned layout) reaches the same weights as an uninterrupted run', async () => {
  const full = learnedModel();
  const a = await trainModel(full, data, shortTrainOptions());
  const expected = weightsOf(full);
  full.dispose();
  const ckpt = join(dir, 'unet3d.ckpt');
  const first = learnedModel();
  assert.is((await trainModel(first, data, shortTrainOptions({ checkpointPath: ckpt, stopAfterStep: 3 }))).stopped, true);
  assert.ok(existsSync(ckpt));
  first.dispose();
  const second = learnedModel();
  const c = await trainModel(second, data, shortTrainOptions({ checkpointPath: ckpt, resume: true }));
  assert.equal(weightsOf(second), expected);
  assert.equal(c.history.map((h) => h.loss), a.history.map((h) => h.loss));
  second.dispose();
});

test('the default network is the 2.5D one, bit-identical; the config picks the 3d one for a point', () => {
  const base = { ...modelOptions({ kind: 'none' }) };
  const { contextNetwork: _, ...withoutNetwork } = base;
  const implicit = new JointModel(withoutNetwork);
  const explicit = new JointModel({ ...base, contextNetwork: '2.5d' });
  assert.is(implicit.unet.name, 'unet');
  assert.equal(implicit.unet.inputs[0]!.shape, [null, S, S, 3]);
  assert.equal(weightsOf(explicit), weightsOf(implicit));
  const { counts } = makeBatch(data, [1, 2], undefined, 3);
  const [p, q] = [implicit, explicit].map((m) => m.forward(counts, { training: false, mode: 'hardware' }));
  assert.equal(Array.from(p!.dataSync()), Array.from(q!.dataSync()));
  tf.dispose([counts, p!, q!]);
  implicit.dispose();
  explicit.dispose();
  const point = { id: 'baseline-s1', setup: 'baseline' as const, seed: 1 };
  const config = (network: '2.5d' | '3d') => resolveConfig({ size: S, unet, context: { slices: 3, network } });
  const three = modelForPoint(studyProfile(S), config('3d'), point);
  assert.is(three.unet.name, 'unet3d');
  assert.is(three.contextSlices, 3);
  three.dispose();
  const flat = modelForPoint(studyProfile(S), config('2.5d'), point);
  assert.is(flat.unet.name, 'unet');
  flat.dispose();
});

test.run();
