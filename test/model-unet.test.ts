/**
 * The U-Net (src/model/unet.ts) on wasm: shapes, seeded determinism, save/load, gradients for every
 * normalisation, and a small U-Net with the quantization layer overfitting synthetic disks.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../src/backend/index.js';
import { diceBceLoss } from '../src/model/losses.js';
import { binarize, diceOverSet } from '../src/model/metrics.js';
import { buildUNet, UpConv2x2, type Normalization } from '../src/model/unet.js';
import { upConv2x2 } from '../src/model/up-conv.js';
import { TrainableQuantization } from '../src/quant/layer.js';
import { conv3x3BiasRelu, ConvReLU } from '../src/model/conv-relu.js';
import { groupNormRelu, groupStandardize } from '../src/model/group-norm.js';
import { assertMatchesAutodiff } from './helpers/gradients.js';
import { Rng } from '../src/util/rng.js';

await startBackend('wasm');

/** Synthetic slices: a noisy background in 8-bit counts with one or two bright disks as lesions. */
function disks(count: number, size: number, seed: number): { images: tf.Tensor4D; masks: tf.Tensor4D; maskArrays: Uint8Array[] } {
  const rng = new Rng(seed);
  const images = new Float32Array(count * size * size);
  const maskArrays: Uint8Array[] = [];
  for (let s = 0; s < count; s++) {
    const mask = new Uint8Array(size * size);
    const blobs = Array.from({ length: 1 + rng.int(2) }, () => ({
      cy: rng.uniform(6, size - 6), cx: rng.uniform(6, size - 6), r: rng.uniform(3, 6),
    }));
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside = blobs.some((b) => (y - b.cy) ** 2 + (x - b.cx) ** 2 <= b.r ** 2);
        mask[y * size + x] = inside ? 1 : 0;
        images[s * size * size + y * size + x] = Math.round(Math.min(255, Math.max(0, (inside ? 170 : 90) + 20 * rng.normal())));
      }
    }
    maskArrays.push(mask);
  }
  const masks = tf.tensor4d(Float32Array.from(maskArrays.flatMap((m) => Array.from(m))), [count, size, size, 1]);
  return { images: tf.tensor4d(images, [count, size, size, 1]), masks, maskArrays };
}

test('output shape and range; same seed gives the same weights, another seed different ones', () => {
  const a = buildUNet({ height: 32, width: 16, depth: 2, baseFilters: 4, normalization: 'none', seed: 5 });
  const b = buildUNet({ height: 32, width: 16, depth: 2, baseFilters: 4, normalization: 'none', seed: 5 });
  const c = buildUNet({ height: 32, width: 16, depth: 2, baseFilters: 4, normalization: 'none', seed: 6 });
  const y = a.predict(tf.randomUniform([3, 32, 16, 1], 0, 1, 'float32', 1)) as tf.Tensor;
  assert.equal(y.shape, [3, 32, 16, 1]);
  const v = y.dataSync();
  assert.ok(v.every((p) => p > 0 && p < 1));
  const flat = (m: tf.LayersModel) => m.getWeights().flatMap((w) => Array.from(w.dataSync()));
  assert.equal(flat(a), flat(b));
  assert.not.equal(flat(a), flat(c));
  assert.throws(() => buildUNet({ height: 30, width: 16, depth: 2, baseFilters: 4, normalization: 'none', seed: 1 }), /divisible/);
});

test('UpConv2x2 equals tf.conv2dTranspose 2×2 stride 2 with the same kernel', () => {
  const layer = new UpConv2x2({ filters: 3, seed: 1 });
  const x = tf.randomNormal([2, 3, 4, 5], 0, 1, 'float32', 2) as tf.Tensor4D;
  const y = layer.apply(x) as tf.Tensor;
  // kernel [Cin, (i, j, f)] → conv2dTranspose filter [kh, kw, outChannels, inChannels].
  const filter = tf.transpose(tf.reshape(layer.getWeights()[0]!, [5, 2, 2, 3]), [1, 2, 3, 0]) as tf.Tensor4D;
  const ref = tf.conv2dTranspose(x, filter, [2, 6, 8, 3], 2, 'valid');
  assert.equal(y.shape, [2, 6, 8, 3]);
  const d = tf.max(tf.abs(tf.sub(y, ref))).dataSync()[0]!;
  assert.ok(d < 1e-5, `max difference ${d}`);
});

test('upConv2x2: value and gradients equal autodiff of conv2dTranspose 2×2 stride 2 + bias', () => {
  const x = tf.randomNormal([2, 3, 4, 5], 0, 1, 'float32', 21) as tf.Tensor4D;
  const kernel = tf.randomNormal([5, 12], 0, 0.5, 'float32', 22) as tf.Tensor2D; // [Cin, (i, j, f)], f = 3
  const bias = tf.tensor1d([0.3, -0.2, 0.1]);
  const upstream = tf.randomNormal([2, 6, 8, 3], 0, 1, 'float32', 23);
  assertMatchesAutodiff(
    (a, k, b) => upConv2x2(a as tf.Tensor4D, k as tf.Tensor2D, b as tf.Tensor1D),
    (a, k, b) => {
      const filter = tf.transpose(tf.reshape(k!, [5, 2, 2, 3]), [1, 2, 3, 0]) as tf.Tensor4D;
      return tf.add(tf.conv2dTranspose(a as tf.Tensor4D, filter, [2, 6, 8, 3], 2, 'valid'), b!);
    },
    [{ name: 'input', value: x }, { name: 'kernel', value: kernel }, { name: 'bias', value: bias }],
    upstream,
    { value: 1e-5, gradient: 1e-5 },
  );
});

test('conv3x3BiasRelu: value and gradients equal autodiff of relu(conv2d + bias); ConvReLU equals Keras conv2d', () => {
  const x = tf.randomNormal([2, 6, 5, 3], 0, 1, 'float32', 11) as tf.Tensor4D;
  const kernel = tf.randomNormal([3, 3, 3, 4], 0, 0.5, 'float32', 12) as tf.Tensor4D;
  const bias = tf.tensor1d([0.3, -0.2, 0, 0.1]);
  const upstream = tf.randomNormal([2, 6, 5, 4], 0, 1, 'float32', 13);
  const y = assertMatchesAutodiff(
    (a, k, b) => conv3x3BiasRelu(a as tf.Tensor4D, k as tf.Tensor4D, b as tf.Tensor1D),
    (a, k, b) => tf.relu(tf.add(tf.conv2d(a as tf.Tensor4D, k as tf.Tensor4D, 1, 'same'), b!)),
    [{ name: 'input', value: x }, { name: 'kernel', value: kernel }, { name: 'bias', value: bias }],
    upstream,
    { value: 1e-5, gradient: 1e-5 },
  );
  assert.ok(y.some((v) => v === 0) && y.some((v) => v > 0), 'both sides of the ReLU are exercised');
  const keras = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 9 }) });
  const ours = new ConvReLU({ filters: 4, seed: 9 });
  assert.equal(Array.from((ours.apply(x) as tf.Tensor).dataSync()), Array.from((keras.apply(x) as tf.Tensor).dataSync()));
});

test('every normalisation trains on wasm: finite, non-zero gradients for all weights', () => {
  for (const normalization of ['none', 'batch', 'group', 'instance'] as Normalization[]) {
    const model = buildUNet({ height: 16, width: 16, depth: 2, baseFilters: 8, normalization, seed: 1 });
    const { images, masks } = disks(2, 16, 3);
    const { value, grads } = tf.variableGrads(
      () => diceBceLoss(masks, model.apply(tf.div(images, 255), { training: true }) as tf.Tensor, { perImage: true }),
      model.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    assert.ok(Number.isFinite(value.dataSync()[0]!), normalization);
    assert.is(Object.keys(grads).length, model.trainableWeights.length, normalization);
    for (const [name, g] of Object.entries(grads)) {
      const v = g.dataSync();
      assert.ok(v.every(Number.isFinite), `${normalization} ${name}`);
      assert.ok(v.some((e) => e !== 0), `${normalization} ${name} has an all-zero gradient`);
    }
    tf.dispose([value, ...Object.values(grads), images, masks]);
    model.dispose();
  }
});

test('groupStandardize: value and hand-written gradient equal autodiff of the plain formula', () => {
  const x = tf.randomNormal([2, 4, 3, 8], 1, 2, 'float32', 3) as tf.Tensor4D;
  const w = tf.randomNormal([2, 4, 3, 8], 0, 1, 'float32', 4);
  const plain = (t: tf.Tensor4D) => {
    const g = tf.reshape(t, [2, 12, 4, 2]);
    const { mean, variance } = tf.moments(g, [1, 3], true);
    return tf.reshape(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, 1e-5))), [2, 4, 3, 8]);
  };
  const ours = (t: tf.Tensor4D) => groupStandardize(t, 4, 1e-5);
  const loss = (f: (t: tf.Tensor4D) => tf.Tensor) => (t: tf.Tensor) => tf.sum(tf.mul(f(t as tf.Tensor4D), w)) as tf.Scalar;
  const va = ours(x).dataSync();
  const vb = plain(x).dataSync();
  const ga = tf.grad(loss(ours))(x).dataSync();
  const gb = tf.grad(loss(plain))(x).dataSync();
  for (let i = 0; i < va.length; i++) {
    assert.ok(Math.abs(va[i]! - vb[i]!) < 1e-5, `value ${i}`);
    assert.ok(Math.abs(ga[i]! - gb[i]!) < 1e-4 * (1 + Math.abs(gb[i]!)), `gradient ${i}: ${ga[i]} vs ${gb[i]}`);
  }
});

test('groupNormRelu: value and gradients (x, gamma, beta) equal autodiff of relu(groupnorm·gamma + beta)', () => {
  const x = tf.randomNormal([2, 4, 3, 8], 1, 2, 'float32', 21) as tf.Tensor4D;
  const gamma = tf.randomNormal([8], 1, 0.5, 'float32', 22) as tf.Tensor1D;
  const beta = tf.randomNormal([8], 0, 0.5, 'float32', 23) as tf.Tensor1D;
  const upstream = tf.randomNormal([2, 4, 3, 8], 0, 1, 'float32', 24);
  const plain = (a: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
    const grouped = tf.reshape(a, [2, 12, 4, 2]);
    const { mean, variance } = tf.moments(grouped, [1, 3], true);
    const xHat = tf.reshape(tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, 1e-5))), [2, 4, 3, 8]);
    return tf.relu(tf.add(tf.mul(xHat, g), b));
  };
  const z = assertMatchesAutodiff(
    (a, g, b) => groupNormRelu(a as tf.Tensor4D, g as tf.Tensor1D, b as tf.Tensor1D, 4, 1e-5),
    (a, g, b) => plain(a!, g!, b!),
    [{ name: 'input', value: x }, { name: 'gamma', value: gamma }, { name: 'beta', value: beta }],
    upstream,
    { value: 1e-5, gradient: 1e-4 },
  );
  assert.ok(z.some((v) => v === 0) && z.some((v) => v > 0), 'both sides of the ReLU are exercised');
});

test('the U-Net saves and loads bit-exactly (group norm / none: custom layers)', async () => {
  for (const normalization of ['group', 'none'] as Normalization[]) {
    const model = buildUNet({ height: 16, width: 16, depth: 2, baseFilters: 4, normalization, seed: 2 });
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(tf.io.withSaveHandler(async (a) => {
      saved = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }));
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
    const x = tf.randomUniform([2, 16, 16, 1], 0, 1, 'float32', 4);
    assert.equal(Array.from((loaded.predict(x) as tf.Tensor).dataSync()), Array.from((model.predict(x) as tf.Tensor).dataSync()), normalization);
  }
});

test('a small U-Net with the quantization layer overfits synthetic disks on wasm (Dice > 0.9)', () => {
  const size = 32;
  const { images, masks, maskArrays } = disks(4, size, 7);
  const layer = new TrainableQuantization({ rows: size, cols: size, nativeBits: 8, keptBits: 4, rule: 'midrise', budget: 0.5, seed: 1 });
  const unet = buildUNet({ height: size, width: size, depth: 2, baseFilters: 8, normalization: 'none', seed: 1 });
  const optimizer = tf.train.adam(1e-2);
  const forward = (mode?: 'hardware') =>
    unet.apply(tf.div(layer.apply(images, mode ? { mode } : {}) as tf.Tensor, 255), { training: true }) as tf.Tensor;
  let loss = Infinity;
  for (let step = 0; step < 80; step++) {
    const l = optimizer.minimize(() => diceBceLoss(masks, forward(), { perImage: true }), true)!;
    loss = l.dataSync()[0]!;
    l.dispose();
  }
  const probabilities = tf.tidy(() => forward('hardware').dataSync());
  const predictions = maskArrays.map((_, i) => binarize(probabilities.subarray(i * size * size, (i + 1) * size * size)));
  const dice = diceOverSet(maskArrays, predictions);
  assert.ok(dice.mean > 0.9, `Dice ${dice.mean.toFixed(3)} after training, loss ${loss.toFixed(3)}`);
});

test.run();
