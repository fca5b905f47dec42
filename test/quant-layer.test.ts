/** The trainable quantization layer (src/quant/layer.ts) and the multi-level layer (src/quant/multilevel.ts). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { relaxedBernoulli, rescaleToBudget, sampledMask, TrainableQuantization } from '../src/quant/layer.js';
import { greedyLevels, topCountLayout } from '../src/quant/budget.js';
import { noiseKeyFromSeed, noiseTensor } from '../src/quant/noise.js';
import { maxRelativeError } from './helpers/arrays.js';
import { MultiLevelQuantization, rescaleToBitBudget } from '../src/quant/multilevel.js';
import { Rng } from '../src/util/rng.js';

await tf.setBackend('cpu');

const rng = new Rng(42);
const mean64 = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0) / a.length;

function randomCounts(b: number, h: number, w: number, bits: number, seed: number): tf.Tensor4D {
  const r = new Rng(seed);
  return tf.tensor4d(Float32Array.from({ length: b * h * w }, () => r.int(2 ** bits)), [b, h, w, 1]);
}

test('rescaled probabilities have mean = budget within 1e-6 (random logits and budgets, both branches)', async () => {
  for (let trial = 0; trial < 20; trial++) {
    const n = 64 * 64;
    const slope = 5;
    const spread = rng.uniform(0.1, 3);
    const shift = rng.uniform(-1, 1);
    const budget = rng.uniform(0.02, 0.98);
    const p = tf.sigmoid(tf.tensor1d(Float32Array.from({ length: n }, () => slope * (shift + spread * rng.normal()))));
    const r = rescaleToBudget(p, budget).dataSync();
    assert.ok(Math.abs(mean64(r) - budget) < 1e-6, `budget ${budget}: mean ${mean64(r)}`);
    assert.ok(Math.min(...r) >= 0 && Math.max(...r) <= 1);
  }
  const layer = new TrainableQuantization({ rows: 32, cols: 48, nativeBits: 12, keptBits: 4, rule: 'floor', budget: 0.3, seed: 1, init: 'loupe' });
  layer.build([null, 32, 48, 1]);
  assert.ok(Math.abs(mean64(await layer.probabilityMap()) - 0.3) < 1e-6);
});

test('sampledMask: value and logit gradient equal autodiff of rescale + relaxed Bernoulli (both branches, saturated pixels)', () => {
  const [rows, cols, batch] = [9, 7, 3];
  const noise = noiseTensor(noiseKeyFromSeed(5), 0, [batch, rows, cols, 1], 'logistic') as tf.Tensor4D;
  const upstream = tf.tensor4d(Float32Array.from({ length: batch * rows * cols }, () => rng.uniform(-1, 1)), [batch, rows, cols, 1]);
  // Every 7th logit puts p = sigmoid(5w) just under the 1e-6 clip (w ≈ −3); shift sets mean(p)
  // above or below the budget. A high temperature keeps the mask of clipped pixels away from 0, so
  // their (zero) gradient shows.
  for (const [shift, budget, temperature] of [[0.4, 0.3, 0.4], [-0.4, 0.7, 0.4], [0.1, 0.5, 0.4], [-3, 0.05, 0.4], [0.4, 0.3, 20]] as const) {
    const w = tf.tensor2d(Float32Array.from({ length: rows * cols }, (_, i) => (i % 7 === 0 ? -2.9 - 0.03 * (i % 5) : shift + rng.normal())), [rows, cols]);
    const settings = { slope: 5, budget, temperature };
    const reference = (logits: tf.Tensor) => {
      const p = tf.reshape(rescaleToBudget(tf.sigmoid(tf.mul(logits, settings.slope)), budget), [1, rows, cols, 1]);
      return relaxedBernoulli(p, noise, settings.temperature);
    };
    const ours = (logits: tf.Tensor) => sampledMask(logits as tf.Tensor2D, noise, settings);
    const objective = (f: (logits: tf.Tensor) => tf.Tensor) => (logits: tf.Tensor) => tf.sum(tf.mul(f(logits), upstream));
    const want = tf.grad(objective(reference))(w).dataSync();
    const got = tf.grad(objective(ours))(w).dataSync();
    assert.ok(maxRelativeError(ours(w).dataSync(), reference(w).dataSync(), 1) < 1e-5, `value, shift ${shift}`);
    assert.ok(maxRelativeError(got, want, 1e-3) < 1e-4, `gradient, shift ${shift}: ${maxRelativeError(got, want, 1e-3)}`);
  }
});

test('hardware layout has exactly round(b·n) ones, ties broken by index', async () => {
  for (const budget of [0.1, 0.25, 0.5, 0.77]) {
    const layer = new TrainableQuantization({ rows: 13, cols: 11, nativeBits: 8, keptBits: 2, rule: 'floor', budget, seed: 3 });
    layer.build([null, 13, 11, 1]);
    const layout = await layer.hardwareLayout();
    assert.is(layout.reduce((s, v) => s + v, 0), Math.round(budget * 143));
    // The chosen pixels are those of highest probability.
    const p = await layer.probabilityMap();
    let minChosen = Infinity;
    let maxOther = -Infinity;
    layout.forEach((m, i) => (m ? (minChosen = Math.min(minChosen, p[i]!)) : (maxOther = Math.max(maxOther, p[i]!))));
    assert.ok(minChosen >= maxOther);
  }
  assert.equal(Array.from(topCountLayout([0.5, 0.5, 0.5, 0.9, 0.5], 3)), [1, 1, 0, 1, 0]);
});

test('startingLayout: the hardware layout of the given start logits, kept when the logits move; none without a start', async () => {
  const start = Float32Array.from({ length: 143 }, (_, i) => ((i * 37) % 143) / 143 - 0.5);
  const layer = new TrainableQuantization({ rows: 13, cols: 11, nativeBits: 8, keptBits: 1, rule: 'floor', budget: 0.4, seed: 3, initialLogits: start });
  layer.build([null, 13, 11, 1]);
  const before = await layer.hardwareLayout();
  assert.equal(layer.startingLayout(), before);
  layer.setWeights([tf.tensor2d(Float32Array.from(start, (w) => -w), [13, 11])]); // training moved every logit
  const after = await layer.hardwareLayout();
  assert.not.equal(after, before);
  assert.equal(layer.startingLayout(), before);
  const own = new TrainableQuantization({ rows: 13, cols: 11, nativeBits: 8, keptBits: 1, rule: 'floor', budget: 0.4, seed: 3 });
  own.build([null, 13, 11, 1]);
  assert.is(own.startingLayout(), undefined);
});

test('gradients reach the logits through the relaxed-Bernoulli mask', () => {
  const layer = new TrainableQuantization({ rows: 8, cols: 8, nativeBits: 8, keptBits: 2, rule: 'floor', budget: 0.5, seed: 9 });
  const x = randomCounts(2, 8, 8, 8, 1);
  layer.apply(x);
  const target = randomCounts(2, 8, 8, 8, 2);
  const { grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(layer.apply(x) as tf.Tensor, target))) as tf.Scalar);
  const logitsName = layer.trainableWeights[0]!.originalName;
  const g = Object.entries(grads).find(([name]) => name.includes('logits'))?.[1];
  assert.ok(g, `no gradient for ${logitsName}`);
  const values = g!.dataSync();
  assert.ok(values.every(Number.isFinite));
  assert.ok(values.filter((v) => v !== 0).length > 32, 'most logits receive a gradient');
});

test('modes: hardware quantizes exactly the layout pixels; expected and stochastic are deterministic per seed', async () => {
  const make = () => {
    const l = new TrainableQuantization({ rows: 6, cols: 5, nativeBits: 8, keptBits: 3, rule: 'midrise', budget: 0.4, seed: 4 });
    l.build([null, 6, 5, 1]);
    return l;
  };
  const layer = make();
  const x = randomCounts(3, 6, 5, 8, 7);
  const xs = x.dataSync();
  const out = (layer.apply(x, { mode: 'hardware' }) as tf.Tensor).dataSync();
  const layout = await layer.hardwareLayout();
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i]!;
    const want = layout[i % 30] ? Math.floor(v / 32) * 32 + 16 : v;
    assert.is(out[i], want);
  }
  const a = (layer.apply(x) as tf.Tensor).dataSync();
  const b = (layer.apply(x) as tf.Tensor).dataSync();
  assert.not.equal(Array.from(a), Array.from(b), 'fresh noise on every call');
  const again = make();
  assert.equal(Array.from((again.apply(x) as tf.Tensor).dataSync()), Array.from(a), 'same seed, same first sample');
  layer.resetNoise();
  assert.equal(Array.from((layer.apply(x) as tf.Tensor).dataSync()), Array.from(a));
  // Lower temperature → mask closer to binary.
  const binaryness = (t: number) => {
    layer.setTemperature(t);
    const m = layer.mask(4).dataSync();
    return mean64(Array.from(m, (v) => Math.min(v, 1 - v)));
  };
  assert.ok(binaryness(0.05) < binaryness(2));
});

async function roundTrip(model: tf.LayersModel): Promise<tf.LayersModel> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (artifacts) => {
    saved = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  // Through JSON text, as a file would be.
  const topology = JSON.parse(JSON.stringify(saved!.modelTopology));
  return tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topology, weightSpecs: saved!.weightSpecs, weightData: saved!.weightData }));
}

test('the layer saves and loads bit-exactly inside a model', async () => {
  const layer = new TrainableQuantization({ rows: 12, cols: 10, nativeBits: 12, keptBits: 5, rule: 'floor', budget: 0.35, slope: 7, temperature: 0.3, seed: 8, init: 'loupe', inputShape: [12, 10, 1] });
  const model = tf.sequential({ layers: [layer] });
  layer.setTemperature(0.2);
  const loaded = await roundTrip(model);
  const copy = loaded.layers[0] as TrainableQuantization;
  assert.instance(copy, TrainableQuantization);
  assert.equal(Array.from(copy.getWeights()[0]!.dataSync()), Array.from(layer.getWeights()[0]!.dataSync()));
  assert.equal(await copy.probabilityMap(), await layer.probabilityMap());
  assert.equal(await copy.hardwareLayout(), await layer.hardwareLayout());
  assert.is(copy.temperature, 0.2);
  assert.is(copy.slope, 7);
  const x = randomCounts(2, 12, 10, 12, 3);
  layer.resetNoise();
  assert.equal(Array.from((copy.apply(x) as tf.Tensor).dataSync()), Array.from((layer.apply(x) as tf.Tensor).dataSync()));
});

test('multi-level: expected bits equal the budget, hardware bits stay within it, gradients reach the logits', async () => {
  for (let trial = 0; trial < 10; trial++) {
    const modes = [8, 6, 4].slice(0, 1 + rng.int(3));
    const budgetBits = rng.uniform(modes[modes.length - 1]! + 0.1, 11.9);
    const layer = new MultiLevelQuantization({ rows: 16, cols: 12, nativeBits: 12, modes, rule: 'floor', budgetBits, seed: trial, init: trial % 2 ? 'loupe' : 'small' });
    layer.build([null, 16, 12, 1]);
    const expected = await layer.expectedBitsMap();
    assert.ok(Math.abs(mean64(expected) - budgetBits) < 1e-5, `budget ${budgetBits}: ${mean64(expected)}`);
    const q = await layer.levelProbabilities();
    for (let i = 0; i < 16 * 12; i++) {
      let s = 0;
      for (let k = 0; k <= modes.length; k++) s += q[i * (modes.length + 1) + k]!;
      assert.ok(Math.abs(s - 1) < 1e-5);
    }
    const bits = await layer.bitsMap();
    assert.ok(mean64(bits) <= budgetBits + 1e-9);
    assert.ok(bits.every((b) => [12, ...modes].includes(b)));
  }
  const layer = new MultiLevelQuantization({ rows: 8, cols: 8, nativeBits: 12, modes: [8, 4], rule: 'midrise', budgetBits: 7, seed: 2 });
  const x = randomCounts(2, 8, 8, 12, 1);
  const target = randomCounts(2, 8, 8, 12, 5);
  layer.apply(x);
  const { grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(layer.apply(x) as tf.Tensor, target))) as tf.Scalar);
  const g = Object.entries(grads).find(([name]) => name.includes('logits'))![1].dataSync();
  assert.ok(g.every(Number.isFinite) && g.filter((v) => v !== 0).length > 64);
});

test('multi-level rescaling: both directions, and the hardware greedy follows probabilities', () => {
  const bits = [12, 8, 4];
  const manyBits = tf.tensor2d([[0.9, 0.05, 0.05], [0.8, 0.1, 0.1]]); // expected ≈ 11.3 bits
  const fewBits = tf.tensor2d([[0.05, 0.05, 0.9], [0.1, 0.1, 0.8]]);
  for (const q of [manyBits, fewBits]) {
    for (const budget of [5, 8, 10.5]) {
      const r = rescaleToBitBudget(q, bits, budget).arraySync() as number[][];
      const e = r.map((row) => row.reduce((s, v, k) => s + v * bits[k]!, 0));
      assert.ok(Math.abs(mean64(e) - budget) < 1e-5);
      assert.ok(r.flat().every((v) => v >= -1e-7 && v <= 1 + 1e-7));
    }
  }
  // 3 pixels, budget 8 bits → 24 bits: pixel 0 wants native strongly (12), pixel 2 wants 8, pixel 1 lowest.
  const levels = greedyLevels([0.9, 0.05, 0.05, 0.1, 0.1, 0.8, 0.2, 0.7, 0.1], bits, 8);
  assert.equal(Array.from(levels), [0, 2, 1]);
  // Budget 6 → 18 bits: pixel 0 cannot afford native (12 + 4 + 8 > 18) and falls to its next fitting choice.
  assert.equal(Array.from(greedyLevels([0.9, 0.05, 0.05, 0.1, 0.1, 0.8, 0.2, 0.7, 0.1], bits, 6)), [2, 2, 1]);
});

test('multi-level layer saves and loads bit-exactly', async () => {
  const layer = new MultiLevelQuantization({ rows: 6, cols: 6, nativeBits: 12, modes: [10, 6], rule: 'floor', budgetBits: 9, seed: 3, inputShape: [6, 6, 1] });
  const model = tf.sequential({ layers: [layer] });
  const copy = (await roundTrip(model)).layers[0] as MultiLevelQuantization;
  assert.instance(copy, MultiLevelQuantization);
  assert.equal(await copy.levelProbabilities(), await layer.levelProbabilities());
  assert.equal(await copy.bitsMap(), await layer.bitsMap());
  assert.equal(copy.modes, [10, 6]);
});

test('invalid configurations are refused with the option named', () => {
  assert.throws(() => new TrainableQuantization({ rows: 4, cols: 4, nativeBits: 8, keptBits: 8, rule: 'floor', budget: 0.5, seed: 1 }), /keptBits/);
  assert.throws(() => new TrainableQuantization({ rows: 4, cols: 4, nativeBits: 8, keptBits: 4, rule: 'floor', budget: 1.5, seed: 1 }), /budget/);
  assert.throws(() => new MultiLevelQuantization({ rows: 4, cols: 4, nativeBits: 12, modes: [4, 8], rule: 'floor', budgetBits: 6, seed: 1 }), /descending/);
  assert.throws(() => new MultiLevelQuantization({ rows: 4, cols: 4, nativeBits: 12, modes: [8, 4], rule: 'floor', budgetBits: 3, seed: 1 }), /budgetBits/);
  const layer = new TrainableQuantization({ rows: 4, cols: 4, nativeBits: 8, keptBits: 4, rule: 'floor', budget: 0.5, seed: 1 });
  assert.throws(() => layer.apply(tf.zeros([1, 4, 5, 1])), /expects/);
});

test('evaluation noise: the stochastic mask of image i depends on (layer seed, i) only, not on the batch or earlier draws', () => {
  const layers = [
    new TrainableQuantization({ rows: 8, cols: 8, nativeBits: 8, keptBits: 2, rule: 'floor', budget: 0.5, seed: 11 }),
    new MultiLevelQuantization({ rows: 8, cols: 8, nativeBits: 12, modes: [8, 4], rule: 'floor', budgetBits: 9, seed: 11 }),
  ];
  for (const layer of layers) {
    layer.apply(tf.zeros([1, 8, 8, 1]), { mode: 'expected' });
    const x = randomCounts(4, 8, 8, layer.nativeBits, 3);
    const images = (t: tf.Tensor) => tf.unstack(t).map((u) => Array.from(u.dataSync()));
    layer.startEvaluationNoise(2);
    const batch = images(layer.apply(tf.slice(x, [2], [2]), { mode: 'stochastic' }) as tf.Tensor);
    // Other draws in between (training steps, another evaluation) change nothing.
    layer.resetNoise(999);
    layer.apply(x, { mode: 'stochastic' });
    layer.startEvaluationNoise(3);
    const single = images(layer.apply(tf.slice(x, [3], [1]), { mode: 'stochastic' }) as tf.Tensor);
    assert.equal(single[0], batch[1], `${layer.getClassName()}: image 3 alone = image 3 in a batch from 2`);
    // An equal layer (same seed, as restored from a checkpoint) draws the same.
    layer.startEvaluationNoise(2);
    const again = images(layer.apply(tf.slice(x, [2], [2]), { mode: 'stochastic' }) as tf.Tensor);
    assert.equal(again, batch);
    layer.startEvaluationNoise(0);
    const first = images(layer.apply(tf.slice(x, [2], [1]), { mode: 'stochastic' }) as tf.Tensor);
    assert.not.equal(first[0], batch[0], 'another image index, other draws');
  }
});

test.run();
