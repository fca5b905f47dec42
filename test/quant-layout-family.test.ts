/** Layout families (src/quant/layout-family.ts) in both trainable layers, straight-through masks and the layout penalties. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../src/errors.js';
import { loadConfig, resolveConfig } from '../src/config/experiment-config.js';
import { topCountLayout } from '../src/quant/budget.js';
import { relaxedBernoulli, rescaleToBudget, sampledMask, TrainableQuantization } from '../src/quant/layer.js';
import {
  cellGeometry, cellOfPixel, cellTopCountLayout, expandCells, familyLabel, pixelsPerCell, totalVariation, type LayoutFamily,
} from '../src/quant/layout-family.js';
import { MultiLevelQuantization } from '../src/quant/multilevel.js';
import { noiseKeyFromSeed, noiseTensor } from '../src/quant/noise.js';
import { decodeLayout, encodeLayout, layoutFromMask } from '../src/layout-io/layout-file.js';
import { Rng } from '../src/util/rng.js';
import { maxRelativeError } from './helpers/arrays.js';

await tf.setBackend('cpu');

const rng = new Rng(18);
const sum = (a: ArrayLike<number>) => Array.from(a).reduce((s, v) => s + v, 0);
const mean64 = (a: ArrayLike<number>) => sum(a) / a.length;

/** Families on a 13 × 11 detector, chosen so edge tiles and blocks are partial. */
const FAMILIES: LayoutFamily[] = [
  { family: 'pixel' },
  { family: 'tile', tile: 4 },
  { family: 'tile', tile: 2 },
  { family: 'grid', granularity: 'column' },
  { family: 'grid', granularity: 'row' },
  { family: 'grid', granularity: 'block', block: 4 },
  { family: 'grid', block: 5 },
];
const [ROWS, COLS] = [13, 11];

function layerWith(layout: LayoutFamily, extra: Partial<ConstructorParameters<typeof TrainableQuantization>[0]> = {}): TrainableQuantization {
  const layer = new TrainableQuantization({ rows: ROWS, cols: COLS, nativeBits: 8, keptBits: 2, rule: 'floor', budget: 0.37, seed: 5, init: 'loupe', layout, ...extra });
  layer.build([null, ROWS, COLS, 1]);
  return layer;
}

/** Pixels grouped by cell, row-major inside each cell. */
function pixelsByCell(layout: LayoutFamily, rows = ROWS, cols = COLS): number[][] {
  const g = cellGeometry(layout, rows, cols);
  const groups: number[][] = Array.from({ length: g.cellRows * g.cellCols }, () => []);
  cellOfPixel(g).forEach((cell, pixel) => groups[cell]!.push(pixel));
  return groups;
}

test('geometry: cell shapes, cell of each pixel, pixel counts of partial edge cells', () => {
  const shape = (f: LayoutFamily) => { const g = cellGeometry(f, ROWS, COLS); return [g.cellRows, g.cellCols]; };
  assert.equal(FAMILIES.map(shape), [[13, 11], [4, 4], [2, 2], [1, 11], [13, 1], [4, 3], [3, 3]]);
  const tile = cellOfPixel(cellGeometry({ family: 'tile', tile: 4 }, ROWS, COLS));
  assert.is(tile[5 * COLS + 6], 1 * 4 + 2); // (5, 6) → (5 mod 4, 6 mod 4)
  const block = cellGeometry({ family: 'grid', block: 5 }, ROWS, COLS);
  assert.is(cellOfPixel(block)[12 * COLS + 10], 2 * 3 + 2);
  // Block cells: 5×5, 5×5, 5×1 / … / 3×5, 3×5, 3×1.
  assert.equal(Array.from(pixelsPerCell(block)), [25, 25, 5, 25, 25, 5, 15, 15, 3]);
  assert.is(sum(pixelsPerCell(cellGeometry({ family: 'tile', tile: 4 }, ROWS, COLS))), ROWS * COLS);
  assert.throws(() => cellGeometry({ family: 'tile', tile: 1 }, 8, 8), /layout.tile/);
  assert.throws(() => cellGeometry({ family: 'tile', tile: 16 }, 8, 8), /larger than/);
  assert.throws(() => cellGeometry({ family: 'grid', granularity: 'block' }, 8, 8), /layout.block/);
  assert.equal(FAMILIES.map(familyLabel), ['pixel', 'tile 4×4', 'tile 2×2', 'grid column', 'grid row', 'grid block 4×4', 'grid block 5×5']);
});

test('expandCells puts each cell value on its pixels (batch and channels kept), and its gradient sums them', () => {
  for (const f of FAMILIES) {
    const g = cellGeometry(f, ROWS, COLS);
    const cells = g.cellRows * g.cellCols;
    const [b, ch] = [2, 3];
    const values = Float32Array.from({ length: b * cells * ch }, () => rng.uniform(-1, 1));
    const got = expandCells(tf.tensor4d(values, [b, g.cellRows, g.cellCols, ch]), g).dataSync();
    const owner = cellOfPixel(g);
    const want = new Float32Array(b * ROWS * COLS * ch);
    for (let i = 0; i < b; i++) for (let p = 0; p < ROWS * COLS; p++) for (let c = 0; c < ch; c++) want[(i * ROWS * COLS + p) * ch + c] = values[(i * cells + owner[p]!) * ch + c]!;
    assert.equal(Array.from(got), Array.from(want), familyLabel(f));
    const grad = tf.grad((x: tf.Tensor) => tf.sum(expandCells(x as tf.Tensor4D, g)))(tf.zeros([1, g.cellRows, g.cellCols, 1])).dataSync();
    assert.equal(Array.from(grad), Array.from(pixelsPerCell(g)), `${familyLabel(f)} gradient`);
  }
});

test('every family: p̃ has pixel mean = budget, the hardware layout has exactly round(b·n) ones, whole cells by rank, at most one split', async () => {
  for (const f of FAMILIES) {
    for (const budget of [0.1, 0.37, 0.5, 0.81]) {
      const layer = layerWith(f, { budget, seed: 3 + Math.round(budget * 100) });
      const p = await layer.probabilityMap();
      assert.ok(Math.abs(mean64(p) - budget) < 1e-6, `${familyLabel(f)} b ${budget}: mean ${mean64(p)}`);
      const layout = await layer.hardwareLayout();
      assert.is(sum(layout), Math.round(budget * ROWS * COLS), `${familyLabel(f)} count`);
      const groups = pixelsByCell(f);
      const split = groups.filter((px) => new Set(px.map((i) => layout[i])).size > 1);
      assert.ok(split.length <= 1, `${familyLabel(f)}: ${split.length} split cells`);
      // p̃ is constant within a cell; chosen cells have p̃ ≥ unchosen ones.
      for (const px of groups) assert.is(new Set(px.map((i) => p[i])).size, 1);
      let minChosen = Infinity;
      let maxOther = -Infinity;
      layout.forEach((m, i) => (m ? (minChosen = Math.min(minChosen, p[i]!)) : (maxOther = Math.max(maxOther, p[i]!))));
      assert.ok(minChosen >= maxOther, familyLabel(f));
    }
  }
  // A 2×2 tile on 4×4, 6 pixels: cell 1 (rows 0, 2; cols 1, 3) whole, then cell 3 (rows 1, 3; cols 1, 3)
  // split, its first two pixels in row-major order (5, 7).
  const g = cellGeometry({ family: 'tile', tile: 2 }, 4, 4);
  assert.equal(Array.from(cellTopCountLayout([0, 3, 1, 2], g, 6)), [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0]);
});

test('every family exports through .ctql and back unchanged', async () => {
  for (const f of FAMILIES) {
    const layer = layerWith(f);
    const layout = await layer.hardwareLayout();
    const file = layoutFromMask(layout, ROWS, COLS, 8, 2);
    const back = decodeLayout(encodeLayout(file));
    assert.equal(Array.from(back.bits), Array.from(file.bits), familyLabel(f));
    assert.equal([back.rows, back.cols], [ROWS, COLS]);
  }
});

test('tile with K = detector size equals pixel bit for bit (logits, p̃, layout, samples, gradients)', async () => {
  const [rows, cols] = [12, 12];
  const make = (layout: LayoutFamily) => {
    const l = new TrainableQuantization({ rows, cols, nativeBits: 8, keptBits: 3, rule: 'midrise', budget: 0.3, seed: 9, init: 'loupe', layout });
    l.build([null, rows, cols, 1]);
    return l;
  };
  const pixel = make({ family: 'pixel' });
  const tile = make({ family: 'tile', tile: 12 });
  assert.equal(Array.from(tile.getWeights()[0]!.dataSync()), Array.from(pixel.getWeights()[0]!.dataSync()));
  assert.equal(await tile.probabilityMap(), await pixel.probabilityMap());
  assert.equal(await tile.hardwareLayout(), await pixel.hardwareLayout());
  const x = tf.tensor4d(Float32Array.from({ length: 2 * rows * cols }, () => rng.int(256)), [2, rows, cols, 1]);
  const upstream = tf.randomUniform([2, rows, cols, 1], -1, 1, 'float32', 4);
  const run = (l: TrainableQuantization) => {
    l.resetNoise();
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(l.apply(x) as tf.Tensor, upstream)) as tf.Scalar, l.trainableWeights.map((w) => w.read() as tf.Variable));
    return { value: value.dataSync()[0], grad: Array.from(Object.values(grads)[0]!.dataSync()) };
  };
  assert.equal(run(tile), run(pixel));
});

test('stochastic masks: one draw per cell and image (constant within cells, different between images)', () => {
  for (const f of FAMILIES.slice(1)) {
    const layer = layerWith(f);
    const m = layer.mask(3).dataSync();
    const n = ROWS * COLS;
    for (let b = 0; b < 3; b++) {
      for (const px of pixelsByCell(f)) assert.is(new Set(px.map((i) => m[b * n + i])).size, 1, familyLabel(f));
    }
    assert.not.equal(Array.from(m.subarray(0, n)), Array.from(m.subarray(n, 2 * n)));
  }
});

test('sampledMask with cell weights: value and gradient equal autodiff of the weighted rescale + relaxed Bernoulli', () => {
  const [rows, cols, batch] = [4, 3, 2];
  const weightsValues = Float32Array.from([...pixelsPerCell(cellGeometry({ family: 'grid', block: 5 }, 13, 11)), 7, 2, 4]);
  const total = sum(weightsValues);
  const weights = tf.tensor2d(weightsValues.map((v) => v / total), [rows, cols]);
  const noise = noiseTensor(noiseKeyFromSeed(2), 0, [batch, rows, cols, 1], 'logistic') as tf.Tensor4D;
  const upstream = tf.tensor4d(Float32Array.from({ length: batch * rows * cols }, () => rng.uniform(-1, 1)), [batch, rows, cols, 1]);
  for (const [shift, budget] of [[0.3, 0.3], [-0.3, 0.7]] as const) {
    const w = tf.tensor2d(Float32Array.from({ length: rows * cols }, () => shift + 0.5 * rng.normal()), [rows, cols]);
    const settings = { slope: 5, budget, temperature: 0.5 };
    const reference = (logits: tf.Tensor) => relaxedBernoulli(tf.reshape(rescaleToBudget(tf.sigmoid(tf.mul(logits, 5)), budget, weights), [1, rows, cols, 1]), noise, 0.5);
    const ours = (logits: tf.Tensor) => sampledMask(logits as tf.Tensor2D, noise, settings, weights);
    const objective = (f: (l: tf.Tensor) => tf.Tensor) => (l: tf.Tensor) => tf.sum(tf.mul(f(l), upstream));
    assert.ok(maxRelativeError(ours(w).dataSync(), reference(w).dataSync(), 1) < 1e-5);
    const err = maxRelativeError(tf.grad(objective(ours))(w).dataSync(), tf.grad(objective(reference))(w).dataSync(), 1e-3);
    assert.ok(err < 1e-4, `gradient, shift ${shift}: ${err}`);
    // The weighted mean is the budget.
    const pt = rescaleToBudget(tf.sigmoid(tf.mul(w, 5)), budget, weights);
    assert.ok(Math.abs(tf.sum(tf.mul(pt, weights)).dataSync()[0]! - budget) < 1e-6);
  }
});

test('straight-through: the forward mask is the hardware layout bit for bit; the gradient is the relaxed one, which matches finite differences', async () => {
  for (const f of [FAMILIES[0]!, FAMILIES[1]!, FAMILIES[5]!]) {
    const relaxed = layerWith(f, { temperature: 1 });
    const ste = layerWith(f, { temperature: 1, straightThrough: true });
    const batch = 2;
    const hardware = await ste.hardwareLayout();
    const m = ste.mask(batch).dataSync();
    for (let b = 0; b < batch; b++) assert.equal(Array.from(m.subarray(b * ROWS * COLS, (b + 1) * ROWS * COLS)), Array.from(hardware, Number), familyLabel(f));
    const upstream = tf.randomUniform([batch, ROWS, COLS, 1], -1, 1, 'float32', 7);
    const objective = (l: TrainableQuantization) => () => {
      l.resetNoise();
      return tf.sum(tf.mul(l.mask(batch), upstream)) as tf.Scalar;
    };
    const gradOf = (l: TrainableQuantization) => Object.values(tf.variableGrads(objective(l), l.trainableWeights.map((w) => w.read() as tf.Variable)).grads)[0]!.dataSync();
    const gRelaxed = gradOf(relaxed);
    assert.equal(Array.from(gradOf(ste)), Array.from(gRelaxed), familyLabel(f));
    // Central differences of the relaxed objective in a few logits (same noise every evaluation).
    const w0 = relaxed.getWeights()[0]!;
    const base = w0.dataSync();
    const at = (j: number, h: number) => {
      const w = Float32Array.from(base);
      w[j]! += h;
      relaxed.setWeights([tf.tensor(w, w0.shape)]);
      return objective(relaxed)().dataSync()[0]!;
    };
    const h = 1e-2;
    for (const j of [0, 3, base.length - 1]) {
      const fd = (at(j, h) - at(j, -h)) / (2 * h);
      assert.ok(Math.abs(fd - gRelaxed[j]!) < 2e-2 * Math.max(1, Math.abs(gRelaxed[j]!)), `${familyLabel(f)} logit ${j}: fd ${fd} vs ${gRelaxed[j]}`);
    }
    relaxed.setWeights([w0]);
  }
});

test('entropy penalty: a gradient step moves every probability away from 1/2 and keeps the budget', async () => {
  // Probabilities 0.18 … 0.82 around a budget of 1/2 (the budget's coupling through the mean is
  // small next to the entropy's own pull; a pixel right at 1/2 could be moved either way by it).
  const layer = new TrainableQuantization({ rows: 2, cols: 4, nativeBits: 8, keptBits: 1, rule: 'floor', budget: 0.5, seed: 1 });
  layer.build([null, 2, 4, 1]);
  layer.setWeights([tf.tensor2d([[-0.3, -0.2, -0.15, -0.1], [0.1, 0.15, 0.2, 0.31]])]);
  const before = await layer.probabilityMap();
  const variable = layer.trainableWeights[0]!.read() as tf.Variable;
  const { grads } = tf.variableGrads(() => layer.layoutPenalty({ entropy: 1, totalVariation: 0 }), [variable]);
  variable.assign(tf.sub(variable, tf.mul(Object.values(grads)[0]!, 0.05)));
  const after = await layer.probabilityMap();
  before.forEach((p, i) => assert.ok((after[i]! - p) * (p - 0.5) > 0, `pixel ${i}: ${p} → ${after[i]}`));
  assert.ok(Math.abs(mean64(after) - 0.5) < 1e-6);
  // And the entropy fell.
  const entropy = (ps: Float32Array) => mean64(Array.from(ps, (p) => -p * Math.log(p) - (1 - p) * Math.log(1 - p)));
  assert.ok(entropy(after) < entropy(before));
});

test('total variation: value on a known map, zero on a constant one, and a penalty that reaches the logits', () => {
  // |1−0| + |3−2| down; |2−0| + |3−1| right (per 4 pixels).
  assert.ok(Math.abs(totalVariation(tf.tensor2d([[0, 2], [1, 3]])).dataSync()[0]! - 6 / 4) < 1e-7);
  assert.is(totalVariation(tf.fill([3, 5, 2], 0.7)).dataSync()[0], 0);
  const layer = layerWith({ family: 'pixel' });
  const variable = layer.trainableWeights[0]!.read() as tf.Variable;
  const { value, grads } = tf.variableGrads(() => layer.layoutPenalty({ entropy: 0, totalVariation: 2 }), [variable]);
  assert.ok(Math.abs(value.dataSync()[0]! - 2 * totalVariation(variable).dataSync()[0]!) < 1e-6);
  assert.ok(Object.values(grads)[0]!.dataSync().filter((v) => v !== 0).length > ROWS * COLS / 2);
  assert.is(layer.layoutPenalty({ entropy: 0, totalVariation: 0 }).dataSync()[0], 0);
});

test('multi-level families: expected bits = budget over pixels, bits within it, one draw per cell, straight-through forward = hardware levels', async () => {
  for (const f of FAMILIES.slice(1)) {
    const layer = new MultiLevelQuantization({ rows: ROWS, cols: COLS, nativeBits: 12, modes: [8, 4], rule: 'floor', budgetBits: 7.3, seed: 4, init: 'loupe', layout: f, straightThrough: true });
    layer.build([null, ROWS, COLS, 1]);
    assert.equal(layer.getWeights()[0]!.shape, [...layer.cellShape, 3]);
    assert.ok(Math.abs(mean64(await layer.expectedBitsMap()) - 7.3) < 1e-5, familyLabel(f));
    const bits = await layer.bitsMap();
    assert.ok(mean64(bits) <= 7.3 + 1e-9);
    const y = layer.selection(2).dataSync();
    const levels = await layer.hardwareLevels();
    levels.forEach((k, i) => {
      for (let b = 0; b < 2; b++) for (let j = 0; j < 3; j++) assert.is(y[(b * ROWS * COLS + i) * 3 + j], j === k ? 1 : 0);
    });
    const relaxed = new MultiLevelQuantization({ rows: ROWS, cols: COLS, nativeBits: 12, modes: [8, 4], rule: 'floor', budgetBits: 7.3, seed: 4, init: 'loupe', layout: f });
    relaxed.build([null, ROWS, COLS, 1]);
    const soft = relaxed.selection(2).dataSync();
    for (const px of pixelsByCell(f)) assert.is(new Set(px.map((i) => soft[i * 3])).size, 1, familyLabel(f));
  }
});

test('a tile layer with straight-through saves and loads bit-exactly inside a model', async () => {
  const layer = new TrainableQuantization({ rows: 12, cols: 10, nativeBits: 12, keptBits: 5, rule: 'floor', budget: 0.35, seed: 8, layout: { family: 'tile', tile: 3 }, straightThrough: true, inputShape: [12, 10, 1] });
  const model = tf.sequential({ layers: [layer] });
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    saved = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  const topology = JSON.parse(JSON.stringify(saved!.modelTopology));
  const copy = (await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: topology, weightSpecs: saved!.weightSpecs, weightData: saved!.weightData }))).layers[0] as TrainableQuantization;
  assert.equal(copy.layout, { family: 'tile', tile: 3 });
  assert.is(copy.straightThrough, true);
  assert.equal(await copy.hardwareLayout(), await layer.hardwareLayout());
  assert.equal(await copy.probabilityMap(), await layer.probabilityMap());
});

test('config: layout and layoutTraining default off; a family missing its size is a UserError at /layout', () => {
  const config = resolveConfig();
  assert.equal(config.layout, { family: 'pixel' });
  assert.equal(config.layoutTraining, { hardMask: 'relaxed', entropyWeight: 0, tvWeight: 0, prior: 'auto', priorShape: 'hard' });
  assert.equal(resolveConfig({ layoutTraining: { tvWeight: 0.1 } }).layoutTraining, { hardMask: 'relaxed', entropyWeight: 0, tvWeight: 0.1, prior: 'auto', priorShape: 'hard' });
  const dir = mkdtempSync(join(tmpdir(), 'ctquant-family-'));
  const file = join(dir, 'c.json');
  writeFileSync(file, JSON.stringify({ layout: { family: 'grid', granularity: 'column' }, layoutTraining: { hardMask: 'ste' } }));
  assert.equal(loadConfig(file).layout, { family: 'grid', granularity: 'column' });
  writeFileSync(file, JSON.stringify({ layout: { family: 'tile' } }));
  assert.throws(() => loadConfig(file), (e: unknown) => e instanceof UserError && /layout.tile/.test((e as Error).message));
  writeFileSync(file, JSON.stringify({ layout: { family: 'hex' } }));
  assert.throws(() => loadConfig(file), (e: unknown) => e instanceof UserError);
  // The per-pixel family is the plain top-count.
  const scores = Float32Array.from({ length: 20 }, () => rng.next());
  assert.equal(cellTopCountLayout(scores, cellGeometry({ family: 'pixel' }, 4, 5), 7), topCountLayout(scores, 7));
});

test.run();
