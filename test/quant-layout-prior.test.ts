/** The content prior of a learned layout (src/quant/layout-prior.ts) and its use by a learned point. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../src/errors.js';
import { resolveConfig } from '../src/config/experiment-config.js';
import { generatePhantoms } from '../src/data/phantom.js';
import { layoutPriorFor, modelForPoint } from '../src/experiments/run-point.js';
import { loadProfile, studyProfile } from '../src/profile/load.js';
import { contentLayout, contentOrder } from '../src/quant/content.js';
import { lesionOrder } from '../src/quant/lesion.js';
import { TrainableQuantization } from '../src/quant/layer.js';
import { cellGeometry, cellOfPixel, type LayoutFamily } from '../src/quant/layout-family.js';
import { hardPriorLogits, priorCellLogits, uniformLevelLogits } from '../src/quant/layout-prior.js';
import { MultiLevelQuantization } from '../src/quant/multilevel.js';
import { ditherLevelLayout } from '../src/quant/dither.js';
import { maskFromOrder } from '../src/quant/reduction-order.js';
import { Rng } from '../src/util/rng.js';

await tf.setBackend('cpu');

const [ROWS, COLS] = [13, 11];
const N = ROWS * COLS;
const SLOPE = 5;

function shuffledOrder(n: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

async function hardwareLayoutOf(layout: LayoutFamily, initialLogits: Float32Array, budget: number): Promise<Uint8Array> {
  const layer = new TrainableQuantization({ rows: ROWS, cols: COLS, nativeBits: 8, keptBits: 1, rule: 'floor', budget, seed: 1, layout, initialLogits });
  layer.build([null, ROWS, COLS, 1]);
  return layer.hardwareLayout();
}

test('pixel family: the prior\'s hardware layout is the order\'s own mask at every budget, bit for bit', async () => {
  const order = shuffledOrder(N, 3);
  const logits = priorCellLogits(order, cellGeometry({ family: 'pixel' }, ROWS, COLS), SLOPE);
  for (const budget of [0.1, 0.25, 0.5, 0.75, 0.93]) {
    assert.equal(await hardwareLayoutOf({ family: 'pixel' }, logits, budget), maskFromOrder(order, budget), `budget ${budget}`);
  }
});

test('probabilities span LOUPE\'s init range (0.01, 0.99), strictly decreasing along the order', () => {
  const order = shuffledOrder(N, 4);
  const logits = priorCellLogits(order, cellGeometry({ family: 'pixel' }, ROWS, COLS), SLOPE);
  const p = Array.from(order, (pixel) => 1 / (1 + Math.exp(-SLOPE * logits[pixel]!)));
  for (let i = 1; i < N; i++) assert.ok(p[i]! < p[i - 1]!, `position ${i}`);
  assert.ok(Math.abs(p[0]! - (0.99 - 0.98 * 0.5 / N)) < 1e-6);
  assert.ok(Math.abs(p[N - 1]! - (0.01 + 0.98 * 0.5 / N)) < 1e-6);
});

test('cell families: cells rank by the mean position of their pixels; the layout is whole cells in that rank', async () => {
  // An order that reduces the columns right to left, each column top to bottom.
  const order = Int32Array.from({ length: N }, (_, k) => (Math.floor(k / ROWS) * -1 + COLS - 1) + (k % ROWS) * COLS);
  const column: LayoutFamily = { family: 'grid', granularity: 'column' };
  const logits = priorCellLogits(order, cellGeometry(column, ROWS, COLS), SLOPE);
  for (let c = 1; c < COLS; c++) assert.ok(logits[c]! > logits[c - 1]!, `column ${c} after ${c - 1}`);
  // 3 whole columns: the three rightmost.
  const layout = await hardwareLayoutOf(column, logits, (3 * ROWS) / N);
  for (let p = 0; p < N; p++) assert.is(layout[p], p % COLS >= COLS - 3 ? 1 : 0, `pixel ${p}`);
  // A tile's cell is ranked by all its repeats: with the order above, tile column j repeats at
  // columns j, j + 4, j + 8, so the tile column holding the right-most columns ranks first.
  const tile: LayoutFamily = { family: 'tile', tile: 4 };
  const g = cellGeometry(tile, ROWS, COLS);
  const tileLogits = priorCellLogits(order, g, SLOPE);
  const owner = cellOfPixel(g);
  const meanPosition = new Float64Array(16);
  const counts = new Float64Array(16);
  order.forEach((pixel, position) => { meanPosition[owner[pixel]!]! += position; counts[owner[pixel]!]! += 1; });
  const ranked = Array.from({ length: 16 }, (_, i) => i).sort((a, b) => meanPosition[a]! / counts[a]! - meanPosition[b]! / counts[b]! || a - b);
  for (let r = 1; r < 16; r++) assert.ok(tileLogits[ranked[r]!]! < tileLogits[ranked[r - 1]!]!, `rank ${r}`);
});

test('hard prior: the ranked prior\'s hardware layout at its budget, bit for bit; those cells in [0.98, 0.99], the rest in [0.01, 0.02], rank kept', async () => {
  const sigmoid = (w: number) => 1 / (1 + Math.exp(-SLOPE * w));
  for (const layout of [{ family: 'pixel' }, { family: 'grid', granularity: 'block', block: 3 }, { family: 'tile', tile: 4 }] as LayoutFamily[]) {
    const g = cellGeometry(layout, ROWS, COLS);
    const ranked = priorCellLogits(shuffledOrder(N, 7), g, SLOPE);
    for (const budget of [0.25, 0.5, 0.75]) {
      const hard = hardPriorLogits(ranked, g, SLOPE, budget);
      const start = await hardwareLayoutOf(layout, ranked, budget);
      assert.equal(await hardwareLayoutOf(layout, hard, budget), start, `${layout.family} ${budget}: same hardware layout`);
      // A cell is reduced in the start when any of its pixels is; it then lies in the upper band.
      const reducedCell = new Uint8Array(ranked.length);
      cellOfPixel(g).forEach((cell, pixel) => { if (start[pixel]) reducedCell[cell] = 1; });
      hard.forEach((w, cell) => {
        const p = sigmoid(w);
        const [low, high] = reducedCell[cell] ? [0.98, 0.99] : [0.01, 0.02];
        assert.ok(p >= low - 1e-6 && p <= high + 1e-6, `${layout.family} ${budget}: cell ${cell} p ${p} outside [${low}, ${high}]`);
      });
      for (let a = 0; a < ranked.length; a++) {
        for (let b = 0; b < ranked.length; b++) {
          if (ranked[a]! > ranked[b]!) assert.ok(hard[a]! > hard[b]!, `${layout.family} ${budget}: order of cells ${a}, ${b}`);
        }
      }
    }
  }
  assert.throws(() => hardPriorLogits(new Float32Array(5), cellGeometry({ family: 'pixel' }, ROWS, COLS), SLOPE, 0.5), /expected 143 cell logits/);
});

test('a bad order, slope or logit count is refused', () => {
  const g = cellGeometry({ family: 'pixel' }, ROWS, COLS);
  assert.throws(() => priorCellLogits(new Int32Array(N), g, SLOPE), /not a permutation/);
  assert.throws(() => priorCellLogits(shuffledOrder(N - 1, 1), g, SLOPE), /expected 143/);
  assert.throws(() => priorCellLogits(shuffledOrder(N, 1), g, 0), /slope/);
  assert.throws(() => new TrainableQuantization({ rows: ROWS, cols: COLS, nativeBits: 8, keptBits: 1, rule: 'floor', budget: 0.5, seed: 1, initialLogits: new Float32Array(5) }), /initialLogits has 5 values, the layout has 143 cells/);
});

const LEVELS = [8, 4, 2, 1];

async function multiLevelStart(budgetBits: number, layout: LayoutFamily = { family: 'pixel' }): Promise<Uint8Array> {
  const g = cellGeometry(layout, ROWS, COLS);
  const initialLogits = uniformLevelLogits(LEVELS, budgetBits, g, SLOPE);
  const layer = new MultiLevelQuantization({ rows: ROWS, cols: COLS, nativeBits: 8, modes: LEVELS.slice(1), rule: 'floor', budgetBits, seed: 1, slope: SLOPE, layout, initialLogits });
  layer.build([null, ROWS, COLS, 1]);
  return layer.bitsMap();
}

test('uniform prior, budget on a level: every pixel starts on it, for pixels and for cells', async () => {
  for (const budget of [4, 2]) {
    assert.equal(await multiLevelStart(budget), new Uint8Array(N).fill(budget), `budget ${budget}`);
    assert.equal(await multiLevelStart(budget, { family: 'grid', granularity: 'block', block: 4 }), new Uint8Array(N).fill(budget), `grid, budget ${budget}`);
  }
});

test('uniform prior, budget between two levels: the dithered mix of both, spending the budget', async () => {
  const bits = await multiLevelStart(3);
  assert.ok(bits.every((b) => b === 4 || b === 2), 'only the two levels around 3 bits');
  const total = bits.reduce((s, b) => s + b, 0);
  assert.ok(total <= 3 * N && total > 3 * N - 2, `Σ bits ${total} of ${3 * N}`);
  // Half the cells start on each level, spread as the ordered dither spreads them (not in a block).
  const logits = uniformLevelLogits(LEVELS, 3, cellGeometry({ family: 'pixel' }, ROWS, COLS), SLOPE);
  const start = Uint8Array.from({ length: N }, (_, i) => (logits[i * 4 + 1]! > logits[i * 4 + 2]! ? 4 : 2));
  assert.equal(start, ditherLevelLayout(ROWS, COLS, [4, 2], 3));
  const share5 = uniformLevelLogits(LEVELS, 5, cellGeometry({ family: 'pixel' }, ROWS, COLS), SLOPE);
  const onNative = Array.from({ length: N }, (_, i) => share5[i * 4]! > share5[i * 4 + 1]!).filter(Boolean).length;
  assert.is(onNative, Math.round(0.25 * N), 'budget 5 between 8 and 4: a quarter of the cells start native');
});

test('uniform prior: each cell\'s probabilities are 0.97 on its level and 0.01 elsewhere; bad levels, budget and slope are refused', () => {
  const logits = uniformLevelLogits(LEVELS, 4, cellGeometry({ family: 'pixel' }, ROWS, COLS), SLOPE);
  const z = LEVELS.map((_, k) => Math.exp(SLOPE * logits[k]!));
  const sum = z.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(z[1]! / sum - 0.97) < 1e-6 && Math.abs(z[0]! / sum - 0.01) < 1e-6);
  const g = cellGeometry({ family: 'pixel' }, ROWS, COLS);
  assert.throws(() => uniformLevelLogits([8, 4, 4], 4, g, SLOPE), /strictly descending/);
  assert.throws(() => uniformLevelLogits(LEVELS, 9, g, SLOPE), /budgetBits must be in \[1, 8\]/);
  assert.throws(() => uniformLevelLogits(LEVELS, 4, g, -1), /slope/);
  assert.throws(() => new MultiLevelQuantization({ rows: ROWS, cols: COLS, nativeBits: 8, modes: [4, 2, 1], rule: 'floor', budgetBits: 4, seed: 1, initialLogits: new Float32Array(N) }), /initialLogits has 143 values, the layout has 572 \(cells × levels\)/);
});

const SIZE = 32;
const phantoms = generatePhantoms({ n: 8, size: SIZE, seed: 5, nativeBits: 8, slicesPerVolume: 2 });
const unet = { depth: 2, baseFilters: 4, normalization: 'group' as const };

test('a learned point with prior content (lesion) starts on the content (lesion-frequency) layout of its training split; without it, not', async () => {
  const point = { id: 'learned-k1-b0.5-s1', setup: 'learned' as const, seed: 1, keptBits: 1, budget: 0.5 };
  const startingLayout = async (prior: 'none' | 'content' | 'lesion' | 'auto', layout: LayoutFamily = { family: 'pixel' }, budget = 0.5) => {
    const at = { ...point, id: `learned-k1-b${budget}-s1`, budget };
    const model = modelForPoint(studyProfile(SIZE), resolveConfig({ size: SIZE, unet, layout, layoutTraining: { prior } }), at, undefined, phantoms);
    const stage = model.stage;
    if (stage.kind !== 'learned') throw new Error('not a learned stage');
    if (!stage.layer.built) stage.layer.build([null, SIZE, SIZE, 1]);
    const layout2 = await stage.layer.hardwareLayout();
    model.dispose();
    return layout2;
  };
  const content = contentLayout(phantoms, 0.5);
  assert.equal(await startingLayout('content'), content);
  assert.equal(await startingLayout('auto'), content);
  assert.not.equal(await startingLayout('none'), content);
  // The phantoms' lesions lie inside the body: at 0.9 the lesion order must spend lesion-free body pixels first, unlike content.
  const lesionAt = maskFromOrder(lesionOrder(phantoms), 0.9);
  assert.not.equal(lesionAt, contentLayout(phantoms, 0.9), 'the two heuristics differ at a high budget');
  assert.equal(await startingLayout('lesion', { family: 'pixel' }, 0.9), lesionAt);
  assert.equal(await startingLayout('content', { family: 'pixel' }, 0.9), contentLayout(phantoms, 0.9));
  // priorShape hard: the same starting layout, its probabilities in the two bands.
  for (const budget of [0.5, 0.75]) {
    const at = { ...point, id: `learned-k1-b${budget}-s1`, budget };
    const model = modelForPoint(studyProfile(SIZE), resolveConfig({ size: SIZE, unet, layoutTraining: { prior: 'content', priorShape: 'hard' } }), at, undefined, phantoms);
    const stage = model.stage;
    if (stage.kind !== 'learned') throw new Error('not a learned stage');
    if (!stage.layer.built) stage.layer.build([null, SIZE, SIZE, 1]);
    assert.equal(await stage.layer.hardwareLayout(), contentLayout(phantoms, budget), `hard prior at ${budget}`);
    // Rescaled to the budget (LOUPE): at 0.75 the lower band rises to about 0.05.
    const p = await stage.layer.probabilityMap();
    assert.ok(p.every((v) => v > 0.94 || v < 0.06), `hard prior at ${budget}: every probability near 0 or 1`);
    model.dispose();
  }
  // A grid family starts on the columns the content order reduces first (on average).
  const columns = await startingLayout('content', { family: 'grid', granularity: 'column' });
  const order = contentOrder(phantoms);
  const logits = priorCellLogits(order, cellGeometry({ family: 'grid', granularity: 'column' }, SIZE, SIZE), 5);
  const first = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, SIZE / 2);
  for (let c = 0; c < SIZE; c++) assert.is(columns[c], first.includes(c) ? 1 : 0, `column ${c}`);
});

test('auto is content for 1-bit and uniform for multi-level image-space layouts, none in detector space; a prior asked for where it is not defined is refused', () => {
  const withPrior = (prior?: 'none' | 'content' | 'lesion' | 'uniform' | 'auto') => resolveConfig({ layoutTraining: prior ? { prior } : {} });
  assert.is(layoutPriorFor(withPrior('uniform'), 'multilevel', true), 'uniform');
  assert.is(layoutPriorFor(withPrior('uniform'), 'multilevel', false), 'uniform');
  assert.throws(() => layoutPriorFor(withPrior('uniform'), 'learned', true), (e: unknown) => e instanceof UserError && /layoutTraining\.prior: the uniform prior is for multi-level/.test((e as Error).message));
  assert.is(layoutPriorFor(withPrior('auto'), 'learned', true), 'content');
  assert.is(layoutPriorFor(withPrior('auto'), 'learned', false), 'none');
  assert.is(layoutPriorFor(withPrior('auto'), 'multilevel', true), 'uniform');
  assert.is(layoutPriorFor(withPrior('auto'), 'multilevel', false), 'none');
  assert.is(layoutPriorFor(withPrior('content'), 'learned', true), 'content');
  assert.is(layoutPriorFor(withPrior('lesion'), 'learned', true), 'lesion');
  assert.throws(() => layoutPriorFor(withPrior('lesion'), 'learned', false), (e: unknown) => e instanceof UserError && /the lesion prior ranks image pixels/.test((e as Error).message));
  assert.throws(() => layoutPriorFor(withPrior('lesion'), 'multilevel', true), (e: unknown) => e instanceof UserError && /the lesion prior is for 1-bit/.test((e as Error).message));
  assert.is(layoutPriorFor(withPrior('none'), 'learned', true), 'none');
  assert.throws(() => layoutPriorFor(withPrior('content'), 'learned', false), (e: unknown) => e instanceof UserError && /detector-space/.test((e as Error).message));
  assert.throws(() => layoutPriorFor(withPrior('content'), 'multilevel', true), (e: unknown) => e instanceof UserError && /several reduced modes/.test((e as Error).message));
  // A config recorded before the option existed has no prior: none.
  const recorded = withPrior();
  delete (recorded.layoutTraining as { prior?: string }).prior;
  assert.is(layoutPriorFor(recorded, 'learned', true), 'none');
});

test('the content prior is refused for a multi-level profile, naming the field', () => {
  const config = resolveConfig({ size: SIZE, unet, layoutTraining: { prior: 'content' } });
  const profile = loadProfile('detector-profiles/study-8bit-multilevel.json');
  assert.throws(
    () => modelForPoint(profile, config, { id: 'multilevel-b4-s1', setup: 'multilevel', seed: 1, budget: 4 }, undefined, phantoms),
    (e: unknown) => e instanceof UserError && /layoutTraining\.prior/.test((e as Error).message),
  );
  const auto = resolveConfig({ size: SIZE, unet, layoutTraining: { prior: 'auto' } });
  modelForPoint(profile, auto, { id: 'multilevel-b4-s1', setup: 'multilevel', seed: 1, budget: 4 }, undefined, phantoms).dispose();
});

test('a multi-level point with prior uniform (and auto) starts on the uniform ADC of its budget; with none, not', async () => {
  const profile = loadProfile('detector-profiles/study-8bit-multilevel.json');
  const startingBits = async (prior: 'uniform' | 'auto' | 'none') => {
    const model = modelForPoint(profile, resolveConfig({ size: SIZE, unet, layoutTraining: { prior } }), { id: 'multilevel-b4-s1', setup: 'multilevel', seed: 1, budget: 4 }, undefined, phantoms);
    const stage = model.stage;
    if (stage.kind !== 'multilevel') throw new Error('not a multi-level stage');
    if (!stage.layer.built) stage.layer.build([null, SIZE, SIZE, 1]);
    const bits = await stage.layer.bitsMap();
    model.dispose();
    return bits;
  };
  assert.equal(await startingBits('uniform'), new Uint8Array(SIZE * SIZE).fill(4));
  assert.equal(await startingBits('auto'), new Uint8Array(SIZE * SIZE).fill(4));
  assert.ok((await startingBits('none')).some((b) => b !== 4));
});

test.run();
