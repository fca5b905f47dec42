import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startBackend } from '../src/backend/index.js';
import { generatePhantoms } from '../src/data/phantom.js';
import type { CtDataset } from '../src/data/types.js';
import { UserError } from '../src/errors.js';
import { parseShard, planStudy, planSweep, seedList, shardPoints } from '../src/experiments/plan.js';
import { resolveConfig } from '../src/config/experiment-config.js';
import { modelForPoint, runPoint } from '../src/experiments/run-point.js';
import { contentLayout } from '../src/quant/content.js';
import { studyProfile } from '../src/profile/load.js';
import { quantizeValue } from '../src/quant/hard.js';
import { TrainableQuantization } from '../src/quant/layer.js';
import type { LayoutFamily } from '../src/quant/layout-family.js';
import { randomLevelLayout } from '../src/quant/random.js';
import { Adam } from '../src/train/adam.js';
import { batchIndices, stepsPerEpoch } from '../src/train/batches.js';
import { decodeCheckpoint, encodeCheckpoint, loadCheckpoint } from '../src/train/checkpoint.js';
import { collapseReason, evaluate } from '../src/train/evaluate.js';
import { JointModel } from '../src/train/joint.js';
import { learningRateAt, temperatureAt } from '../src/train/schedule.js';
import { restoreModelState, trainModel, type TrainOptions } from '../src/train/trainer.js';
import { shortTrainOptions, weightsOf } from './helpers/train.js';

await startBackend('wasm');
const dir = mkdtempSync(join(tmpdir(), 'ctquant-train-'));
const data = generatePhantoms({ n: 8, size: 32, seed: 5, nativeBits: 8, slicesPerVolume: 2 });

function learnedModel(family: { layout?: LayoutFamily; straightThrough?: boolean } = {}): JointModel {
  return new JointModel({
    height: 32,
    width: 32,
    nativeBits: 8,
    rule: 'floor',
    stage: { kind: 'learned', layer: new TrainableQuantization({ rows: 32, cols: 32, nativeBits: 8, keptBits: 1, rule: 'floor', budget: 0.5, seed: 3, ...family }) },
    unet: { depth: 2, baseFilters: 4, normalization: 'batch' },
    seed: 7,
  });
}

const options = shortTrainOptions;

test('schedule: warm-up, constant, linear decay to the floor', () => {
  const s = { base: 1e-3, warmupSteps: 10, decayStartStep: 50, totalSteps: 101, floor: 0.1 };
  assert.ok(Math.abs(learningRateAt(s, 0) - 1e-4) < 1e-12);
  assert.ok(learningRateAt(s, 5) > learningRateAt(s, 0) && learningRateAt(s, 5) < 1e-3);
  assert.is(learningRateAt(s, 10), 1e-3);
  assert.is(learningRateAt(s, 50), 1e-3);
  assert.ok(Math.abs(learningRateAt(s, 100) - 1e-4) < 1e-12);
  assert.ok(Math.abs(temperatureAt(1, 0.1, 0, 11) - 1) < 1e-12);
  assert.ok(Math.abs(temperatureAt(1, 0.1, 10, 11) - 0.1) < 1e-12);
});

test('Adam matches tf.train.adam on a quadratic', () => {
  const a = tf.variable(tf.tensor1d([1, -2, 3]));
  const b = tf.variable(tf.tensor1d([1, -2, 3]));
  const ours = new Adam([a], 0.9, 0.999, 1e-7);
  const ref = tf.train.adam(0.05, 0.9, 0.999, 1e-7);
  for (let i = 0; i < 20; i++) {
    const { grads } = tf.variableGrads(() => tf.sum(tf.square(a)) as tf.Scalar, [a]);
    ours.apply([grads[a.name]!], 0.05);
    ref.minimize(() => tf.sum(tf.square(b)) as tf.Scalar, false, [b]);
  }
  const x = a.dataSync();
  const y = b.dataSync();
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(x[i]! - y[i]!) < 1e-5, `${x[i]} vs ${y[i]}`);
});

test('Adam: a null gradient leaves its variable and moments untouched, the others update', () => {
  const frozen = tf.variable(tf.tensor1d([1, 2]));
  const free = tf.variable(tf.tensor1d([1, 2]));
  const adam = new Adam([frozen, free]);
  adam.apply([tf.tensor1d([1, 1]), tf.tensor1d([1, 1])], 0.1);
  const before = Array.from(frozen.dataSync());
  const moments = adam.state().moments.map((m) => Array.from(m.dataSync()));
  adam.apply([null, tf.tensor1d([1, 1])], 0.1);
  assert.equal(Array.from(frozen.dataSync()), before);
  const after = adam.state().moments.map((m) => Array.from(m.dataSync()));
  assert.equal([after[0], after[2]], [moments[0], moments[2]]);
  assert.not.equal(after[1], moments[1]);
  assert.ok(free.dataSync()[0]! < before[0]!);
  adam.dispose();
});

test('fixLayoutAt: the last epochs train the U-Net alone on the fixed hardware layout; resume lands in that phase', async () => {
  const logitsOf = (m: JointModel) => Array.from((m.stage as { layer: TrainableQuantization }).layer.trainableWeights[0]!.read().dataSync());
  const unetOf = (m: JointModel) => m.unet.trainableWeights.map((w) => Array.from(w.read().dataSync()));
  const ckpt = join(dir, 'fixed.ckpt');
  const opts = options({ epochs: 3, fixLayoutAt: 0.5, checkpointPath: ckpt });
  const perEpoch = stepsPerEpoch(data.slices.length, 4);
  // Stop after the last step of epoch 2 (round(0.5·3) = 2 epochs learn the layout; its record is
  // written on resume), then resume for the third.
  const first = learnedModel();
  const a = await trainModel(first, data, { ...opts, stopAfterStep: 2 * perEpoch });
  assert.is(a.stopped, true);
  assert.equal(a.history.map((h) => h.layoutFixed ?? false), [false]);
  const logitsAtFix = logitsOf(first);
  const unetAtFix = unetOf(first);
  first.dispose();
  const second = learnedModel();
  const b = await trainModel(second, data, { ...opts, resume: true });
  assert.equal(b.history.map((h) => h.layoutFixed ?? false), [false, false, true]);
  assert.equal(logitsOf(second), logitsAtFix);
  assert.not.equal(unetOf(second), unetAtFix);
  second.dispose();
  // Without the fixed phase the layout keeps learning in the third epoch.
  const free = learnedModel();
  await trainModel(free, data, options({ epochs: 3 }));
  assert.not.equal(logitsOf(free), logitsAtFix);
  free.dispose();
});

test('keepBestEpoch: the run ends on the weights of its best validation epoch, exactly; resume and restoreModelState keep them', async () => {
  const validation = generatePhantoms({ n: 4, size: 32, seed: 9, nativeBits: 8, slicesPerVolume: 2 });
  const perEpoch = stepsPerEpoch(data.slices.length, 4);
  const ckpt = join(dir, 'best.ckpt');
  const opts = options({ epochs: 4, learningRate: 3e-3, validation, keepBestEpoch: true, checkpointPath: ckpt });
  const kept = learnedModel();
  const a = await trainModel(kept, data, opts);
  const valDice = a.history.map((h) => h.valDice!);
  const best = Math.max(...valDice);
  assert.is(a.keptEpoch, valDice.lastIndexOf(best) + 1, `kept ${a.keptEpoch} of ${valDice.join(', ')}`);
  assert.ok(a.keptEpoch! < 4, 'this recipe peaks before its last epoch, so the weights are restored');
  // Evaluated now, the model scores what its kept epoch scored.
  assert.is((await evaluate(kept, validation, { mode: 'hardware', batchSize: 4 })).mean, best);
  // Training itself is unchanged: a run without the option, stopped at the end of that epoch, holds the same weights.
  const plain = learnedModel();
  await trainModel(plain, data, options({ epochs: 4, learningRate: 3e-3, validation, stopAfterStep: a.keptEpoch! * perEpoch }));
  assert.equal(weightsOf(kept), weightsOf(plain));
  plain.dispose();
  // The checkpoint gives eval the kept weights, not the last epoch's.
  const reloaded = learnedModel();
  restoreModelState(reloaded, ckpt);
  assert.equal(weightsOf(reloaded), weightsOf(kept));
  reloaded.dispose();
  // Interrupted after the first epoch (its copy is in the checkpoint) and resumed: the same end.
  const ckpt2 = join(dir, 'best-resume.ckpt');
  const first = learnedModel();
  assert.is((await trainModel(first, data, { ...opts, checkpointPath: ckpt2, stopAfterStep: perEpoch + 1 })).stopped, true);
  first.dispose();
  const second = learnedModel();
  const c = await trainModel(second, data, { ...opts, checkpointPath: ckpt2, resume: true });
  assert.is(c.keptEpoch, a.keptEpoch);
  assert.equal(weightsOf(second), weightsOf(kept));
  second.dispose();
  kept.dispose();
  // Nothing to choose on without validation data: the last epoch, and no kept epoch recorded.
  const none = learnedModel();
  assert.is((await trainModel(none, data, options({ keepBestEpoch: true }))).keptEpoch, undefined);
  none.dispose();
});

test('checkpoint: encode/decode round trip; truncation is a UserError', () => {
  const arrays = [{ name: 'w', shape: [2, 3], values: Float32Array.from([1, 2, 3, 4, 5, 6.5]) }];
  const buf = encodeCheckpoint({ state: { epoch: 3 }, arrays });
  const back = decodeCheckpoint<{ epoch: number }>(buf, 'x.ckpt');
  assert.is(back.state.epoch, 3);
  assert.equal(Array.from(back.arrays[0]!.values), [1, 2, 3, 4, 5, 6.5]);
  assert.throws(() => decodeCheckpoint(buf.subarray(0, buf.length - 4), 'x.ckpt'), (e: unknown) => e instanceof UserError && /truncated/.test((e as Error).message));
  assert.throws(() => decodeCheckpoint(Buffer.from('hello world!'), 'x.ckpt'), /bad magic/);
});

test('a checkpoint whose data is damaged (a flipped byte, a NaN weight) is a UserError naming it, not a run resumed from wrong weights; one without a checksum is still read', () => {
  const arrays = [
    { name: 'w', shape: [2, 2], values: Float32Array.from([0.5, -1, 2, 3]) },
    { name: 'adam:0', shape: [3], values: Float32Array.from([1e-3, 0, 4]) },
  ];
  const buf = encodeCheckpoint({ state: { epoch: 1 }, arrays });
  assert.equal(Array.from(decodeCheckpoint(buf, 'x.ckpt').arrays[1]!.values), Array.from(arrays[1]!.values));
  // One bit flipped in the last weight: still a finite float, so only the checksum can tell.
  const flipped = Buffer.from(buf);
  flipped[flipped.length - 1]! ^= 0x01;
  assert.throws(() => decodeCheckpoint(flipped, 'x.ckpt'), (e: unknown) => e instanceof UserError && e.file === 'x.ckpt' && /does not match its checksum/.test(e.message));
  // Bytes appended after the data are damage too.
  assert.throws(() => decodeCheckpoint(Buffer.concat([buf, Buffer.from([0, 0, 0, 0])]), 'x.ckpt'), /does not match its checksum/);
  // A NaN saved with a correct checksum (a checkpoint from elsewhere): refused naming the array.
  const nan = encodeCheckpoint({ state: { epoch: 1 }, arrays: [arrays[0]!, { ...arrays[1]!, values: Float32Array.from([1e-3, NaN, 4]) }] });
  assert.throws(() => decodeCheckpoint(nan, 'x.ckpt'), (e: unknown) => e instanceof UserError && /array adam:0 holds a non-finite value \(NaN\) at index 1/.test(e.message));
  // A checkpoint written before the checksum existed (no bodyCrc32 in its header) is read as before.
  const header = JSON.parse(buf.toString('utf8', 12, 12 + buf.readUInt32LE(8))) as Record<string, unknown>;
  delete header.bodyCrc32;
  const oldHeader = Buffer.from(JSON.stringify(header), 'utf8');
  const lengthField = Buffer.alloc(4);
  lengthField.writeUInt32LE(oldHeader.length);
  const old = Buffer.concat([buf.subarray(0, 8), lengthField, oldHeader, buf.subarray(12 + buf.readUInt32LE(8))]);
  assert.equal(Array.from(decodeCheckpoint(old, 'x.ckpt').arrays[0]!.values), [0.5, -1, 2, 3]);
  // A checksum that is not a 32-bit count is a corrupt header.
  const badCrc = Buffer.from(buf.toString('latin1').replace(/"bodyCrc32":\d+/, '"bodyCrc32":"x"'.padEnd(buf.toString('latin1').match(/"bodyCrc32":\d+/)![0].length, ' ')), 'latin1');
  assert.throws(() => decodeCheckpoint(badCrc, 'x.ckpt'), /header is corrupt \(bodyCrc32\)/);
});

test('a checkpoint whose header state or optimiser moments are damaged is a UserError naming it on --resume and in eval, not a garbage run', async () => {
  const ckpt = join(dir, 'damaged.ckpt');
  const first = learnedModel();
  assert.is((await trainModel(first, data, options({ checkpointPath: ckpt, stopAfterStep: 3 }))).stopped, true);
  first.dispose();
  const good = decodeCheckpoint<Record<string, unknown>>(readFileSync(ckpt), ckpt);
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['epoch a string ("1" + 1 = "11")', { epoch: '1' }, /state\.epoch must be an integer ≥ 0/],
    ['epoch −5', { epoch: -5 }, /state\.epoch must be an integer ≥ 0/],
    ['epoch past the training', { epoch: 1000 }, /checkpoint is at epoch 1001, step \d+, past this training's \d+ epochs/],
    ['step past the epoch', { stepInEpoch: 1e9 }, /past this training's/],
    ['history null', { history: null }, /state\.history must be a list/],
    ['history of numbers', { history: [1, 2] }, /state\.history\[0\] needs numeric epoch and loss/],
    ['seconds a string', { seconds: 'x' }, /state\.seconds must be a number/],
    ['loss sum null', { epochLossSum: null }, /state\.epochLossSum must be a number/],
    ['best epoch a string', { best: { epoch: 'x', valDice: 0.5 } }, /state\.best must be/],
  ];
  const expectRefused = async (name: string, message: RegExp) => {
    const m = learnedModel();
    try {
      await trainModel(m, data, options({ checkpointPath: ckpt, resume: true }));
      assert.unreachable(`${name}: resumed`);
    } catch (e) {
      assert.ok(e instanceof UserError && e.file === ckpt && message.test(e.message), `${name}: ${e instanceof Error ? e.stack : String(e)}`);
    } finally {
      m.dispose();
    }
  };
  for (const [name, over, message] of cases) {
    writeFileSync(ckpt, encodeCheckpoint({ state: { ...good.state, ...over }, arrays: good.arrays }));
    await expectRefused(name, message);
  }
  // Eval reads the kept epoch's weights through the same state.
  writeFileSync(ckpt, encodeCheckpoint({ state: { ...good.state, best: { epoch: 'x' } }, arrays: good.arrays }));
  const m = learnedModel();
  assert.throws(() => restoreModelState(m, ckpt), (e: unknown) => e instanceof UserError && /state\.best must be/.test(e.message));
  m.dispose();
  // A moment missing from the optimiser state: Adam.restore threw a plain Error (a stack).
  const oneMomentShort = good.arrays.filter((a) => a.name !== 'adam:1');
  writeFileSync(ckpt, encodeCheckpoint({ state: good.state, arrays: oneMomentShort }));
  await expectRefused('a moment missing', /does not match this model \(optimiser moments\)/);
});

test('a folder or a FIFO in place of a checkpoint is a UserError naming it (was: EISDIR with a stack, a read blocked forever)', () => {
  const folder = join(dir, 'folder.ckpt');
  mkdirSync(folder);
  assert.throws(() => loadCheckpoint(folder), (e: unknown) => e instanceof UserError && e.file === folder && /expected a checkpoint file, found a folder/.test(e.message));
  const fifo = join(dir, 'fifo.ckpt');
  if (spawnSync('mkfifo', [fifo]).status !== 0) return assert.unreachable('mkfifo failed');
  assert.throws(() => loadCheckpoint(fifo), (e: unknown) => e instanceof UserError && e.file === fifo && /found a FIFO/.test(e.message));
});

test('batches: every slice once per epoch, order fixed by (seed, epoch)', () => {
  const n = 10;
  const steps = stepsPerEpoch(n, 3);
  assert.is(steps, 3);
  const seen = Array.from({ length: steps }, (_, s) => batchIndices(n, 3, 1, 0, s)).flat();
  assert.is(new Set(seen).size, 9);
  assert.equal(batchIndices(n, 3, 1, 2, 1), batchIndices(n, 3, 1, 2, 1));
  assert.not.equal(batchIndices(n, 3, 1, 0, 0), batchIndices(n, 3, 1, 1, 0));
});

test('resume after an interruption reaches the same weights as an uninterrupted run', async () => {
  const full = learnedModel();
  const a = await trainModel(full, data, options());
  assert.is(a.stopped, false);
  const expected = weightsOf(full);
  const lossA = a.history.map((h) => h.loss);
  full.dispose();

  const ckpt = join(dir, 'resume.ckpt');
  const first = learnedModel();
  const b = await trainModel(first, data, options({ checkpointPath: ckpt, stopAfterStep: 3 }));
  assert.is(b.stopped, true);
  assert.ok(existsSync(ckpt));
  first.dispose();

  const second = learnedModel();
  const c = await trainModel(second, data, options({ checkpointPath: ckpt, resume: true }));
  assert.is(c.stopped, false);
  assert.equal(weightsOf(second), expected);
  assert.equal(c.history.map((h) => h.loss), lossA);
  second.dispose();
});

test('resume is bit-exact for the tile and grid families, with straight-through masks and the layout penalties', async () => {
  const cases: { family: { layout: LayoutFamily; straightThrough?: boolean }; extra: Partial<TrainOptions> }[] = [
    { family: { layout: { family: 'tile', tile: 8 }, straightThrough: true }, extra: {} },
    { family: { layout: { family: 'grid', granularity: 'block', block: 6 } }, extra: { layoutPenalty: { entropy: 0.1, totalVariation: 0.05 } } },
    { family: { layout: { family: 'grid', granularity: 'column' } }, extra: {} },
  ];
  for (const [i, { family, extra }] of cases.entries()) {
    const full = learnedModel(family);
    const a = await trainModel(full, data, options(extra));
    const expected = weightsOf(full);
    const layoutA = await (full.stage as { layer: TrainableQuantization }).layer.hardwareLayout();
    full.dispose();
    const ckpt = join(dir, `family-${i}.ckpt`);
    const first = learnedModel(family);
    assert.is((await trainModel(first, data, options({ ...extra, checkpointPath: ckpt, stopAfterStep: 3 }))).stopped, true);
    first.dispose();
    const second = learnedModel(family);
    const c = await trainModel(second, data, options({ ...extra, checkpointPath: ckpt, resume: true }));
    assert.equal(weightsOf(second), expected, JSON.stringify(family));
    assert.equal(c.history.map((h) => h.loss), a.history.map((h) => h.loss));
    const layer = (second.stage as { layer: TrainableQuantization }).layer;
    assert.equal(await layer.hardwareLayout(), layoutA);
    assert.equal(layer.getWeights()[0]!.shape, layer.cellShape);
    second.dispose();
  }
  // The penalty and the straight-through mask change the run (neither is silently ignored).
  const weightsAfter = async (family: { layout: LayoutFamily; straightThrough?: boolean }, extra: Partial<TrainOptions>) => {
    const m = learnedModel(family);
    await trainModel(m, data, options(extra));
    const w = weightsOf(m);
    m.dispose();
    return w;
  };
  assert.not.equal(await weightsAfter(cases[1]!.family, cases[1]!.extra), await weightsAfter(cases[1]!.family, {}));
  assert.not.equal(await weightsAfter(cases[0]!.family, {}), await weightsAfter({ layout: cases[0]!.family.layout }, {}));
});

test('a multi-level point with the uniform prior records it and keeps its bit budget', async () => {
  const config = resolveConfig({ size: 32, epochs: 1, batchSize: 4, unet: { depth: 2, baseFilters: 4, normalization: 'batch' }, layoutTraining: { prior: 'uniform' } });
  const split = { train: { ...data, slices: data.slices.slice(0, 8) }, validation: { ...data, slices: data.slices.slice(8, 12) }, test: { ...data, slices: data.slices.slice(12) } };
  const profile = { ...studyProfile(32), modes: [4, 2, 1] };
  const outDir = mkdtempSync(join(tmpdir(), 'ctquant-uniform-prior-'));
  const { results } = await runPoint({ profile, config, data: split, outDir, backend: 'wasm', resume: false }, { id: 'multilevel-b4-s1', setup: 'multilevel', seed: 1, budget: 4 });
  const run = results[0]!;
  assert.is(run.layoutPrior, 'uniform');
  assert.ok(run.bitsPerPixel <= 4 + 1e-9 && run.bitsPerPixel > 4 - 4 / (32 * 32), `bits per pixel ${run.bitsPerPixel}`);
});

test('a learned point with a grid family records the family, cell shape and training options; its layout is per pixel with the exact count', async () => {
  const config = resolveConfig({
    size: 32, epochs: 1, batchSize: 4, unet: { depth: 2, baseFilters: 4, normalization: 'batch' },
    layout: { family: 'grid', granularity: 'column' }, layoutTraining: { hardMask: 'ste', entropyWeight: 0.01, prior: 'content' },
  });
  const split = { train: { ...data, slices: data.slices.slice(0, 8) }, validation: { ...data, slices: data.slices.slice(8, 12) }, test: { ...data, slices: data.slices.slice(12) } };
  const outDir = mkdtempSync(join(tmpdir(), 'ctquant-family-point-'));
  const { results } = await runPoint({ profile: studyProfile(32), config, data: split, outDir, backend: 'wasm', resume: false }, { id: 'learned-b0.25-s1', setup: 'learned', seed: 1, keptBits: 1, budget: 0.25 });
  const run = results[0]!;
  assert.equal(run.layoutFamily, { family: 'grid', granularity: 'column' });
  assert.equal(run.layoutCells, [1, 32]);
  assert.is(run.straightThrough, true);
  assert.is(run.layoutPrior, 'content');
  assert.is(run.hardwareLayout!.length, 32 * 32);
  assert.is(run.hardwareLayout!.reduce((a, b) => a + b, 0), 256);
  // 256 = 8 whole columns: every column is all reduced or all native.
  for (let c = 0; c < 32; c++) assert.is(new Set(Array.from({ length: 32 }, (_, r) => run.hardwareLayout![r * 32 + c])).size, 1);
  assert.ok(JSON.parse(readFileSync(join(outDir, 'runs', 'learned-b0.25-s1.json'), 'utf8')).layoutCells);
  // How far training moved the layout: the pixels that differ from the prior's starting layout.
  const fresh = modelForPoint(studyProfile(32), config, { id: 'learned-b0.25-s1', setup: 'learned', seed: 1, keptBits: 1, budget: 0.25 }, split.train, split.train);
  const layer = (fresh.stage as { layer: TrainableQuantization }).layer;
  if (!layer.built) layer.build([null, 32, 32, 1]);
  const start = await layer.hardwareLayout();
  assert.equal(layer.startingLayout(), start);
  assert.is(run.layoutMovedPixels, run.hardwareLayout!.filter((v, i) => v !== start[i]).length);
  fresh.dispose();
});

test('a learned point with the content prior made hard records the shape; after two steps no pixel has moved from the content layout', async () => {
  const config = resolveConfig({ size: 32, epochs: 1, batchSize: 4, unet: { depth: 2, baseFilters: 4, normalization: 'batch' }, layoutTraining: { prior: 'content', priorShape: 'hard' } });
  const split = { train: { ...data, slices: data.slices.slice(0, 8) }, validation: { ...data, slices: data.slices.slice(8, 12) }, test: { ...data, slices: data.slices.slice(12) } };
  const outDir = mkdtempSync(join(tmpdir(), 'ctquant-hard-prior-'));
  const { results } = await runPoint({ profile: studyProfile(32), config, data: split, outDir, backend: 'wasm', resume: false }, { id: 'learned-b0.5-s1', setup: 'learned', seed: 1, keptBits: 1, budget: 0.5 });
  const run = results[0]!;
  assert.is(run.layoutPrior, 'content');
  assert.is(run.layoutPriorShape, 'hard');
  assert.equal(run.hardwareLayout, Array.from(contentLayout(split.train, 0.5)));
  assert.is(run.layoutMovedPixels, 0);
});

test('a NaN loss stops with a clear error and keeps the last good checkpoint', async () => {
  const ckpt = join(dir, 'nan.ckpt');
  const m = learnedModel();
  await trainModel(m, data, options({ epochs: 1, checkpointPath: ckpt }));
  const before = readFileSync(ckpt);
  const poisoned: CtDataset = { ...data, slices: data.slices.map((s) => ({ ...s, image: s.image.map((v, i) => (i === 5 ? NaN : v)) })) };
  try {
    await trainModel(m, poisoned, options({ epochs: 2, checkpointPath: ckpt, resume: true }));
    assert.unreachable('NaN was not noticed');
  } catch (e) {
    assert.instance(e, UserError);
    assert.match((e as Error).message, /NaN at epoch 2/);
    assert.match((e as Error).message, /last good checkpoint/);
    assert.is((e as UserError).exitCode, 3);
  }
  assert.ok(readFileSync(ckpt).equals(before), 'checkpoint changed');
  m.dispose();
});

test('losses read back in groups (lossReadEvery) give the same run, and a NaN is still pinned to its step', async () => {
  const every = learnedModel();
  const a = await trainModel(every, data, options());
  const expected = weightsOf(every);
  every.dispose();
  const grouped = learnedModel();
  const b = await trainModel(grouped, data, options({ lossReadEvery: 3 }));
  assert.equal(weightsOf(grouped), expected);
  assert.equal(b.history.map((h) => h.loss), a.history.map((h) => h.loss));
  const poisoned: CtDataset = { ...data, slices: data.slices.map((s) => ({ ...s, image: s.image.map((v, i) => (i === 5 ? NaN : v)) })) };
  try {
    await trainModel(grouped, poisoned, options({ lossReadEvery: 3 }));
    assert.unreachable('NaN was not noticed');
  } catch (e) {
    assert.instance(e, UserError);
    assert.match((e as Error).message, /NaN at epoch 1, step 1\b/);
  }
  grouped.dispose();
});

test('collapse: all-empty predictions on data with lesions are flagged, a sound run is not', () => {
  const withLesion = data.slices.filter((s) => s.mask.some((v) => v)).length;
  assert.ok(withLesion > 0);
  const empty = { perImage: [], mean: 0.2, pooled: 0, emptyPredictionShare: 1 };
  assert.match(collapseReason(empty, data) ?? '', /empty/);
  const low = { perImage: [], mean: 0.2, pooled: 0.001, emptyPredictionShare: 0.5 };
  assert.match(collapseReason(low, data) ?? '', /Dice/);
  const sound = { perImage: [], mean: 0.6, pooled: 0.5, emptyPredictionShare: 0.1 };
  assert.is(collapseReason(sound, data), null);
});

test('collapse message: the printed Dice is below the printed limit (never "0.020 < 0.02")', () => {
  for (const pooled of [0.0199996, 0.01996, 0.0195, 0.019999999, 0.001]) {
    const reason = collapseReason({ perImage: [], mean: 0.2, pooled, emptyPredictionShare: 0.5 }, data) ?? '';
    const m = /Dice (\S+) < (\S+)/.exec(reason);
    assert.ok(m, reason);
    assert.ok(Number(m![1]) < Number(m![2]), reason);
  }
  assert.match(collapseReason({ perImage: [], mean: 0.2, pooled: 0.0199996, emptyPredictionShare: 0.5 }, data) ?? '', /Dice 0\.0199996 < 0\.02 /);
  assert.match(collapseReason({ perImage: [], mean: 0.2, pooled: 0.001, emptyPredictionShare: 0.5 }, data) ?? '', /Dice 0\.001 < 0\.02 /);
});

test('plan: shards are disjoint and cover the plan; bad shard specs are refused', () => {
  const p = studyProfile(32);
  const plan = [...planStudy(p, seedList(1, 2)), ...planSweep(p, [0.25, 0.75], [1])];
  const shards = [0, 1, 2].map((index) => shardPoints(plan, { index, count: 3 }));
  const ids = shards.flat().map((x) => x.id);
  assert.is(ids.length, plan.length);
  assert.equal(new Set(ids), new Set(plan.map((x) => x.id)));
  assert.equal(parseShard('2/3'), { index: 1, count: 3 });
  assert.throws(() => parseShard('0/3'));
  assert.throws(() => parseShard('4/3'));
  assert.throws(() => parseShard('a/b'));
  const study = planStudy(p, [1]);
  assert.is(study.filter((x) => x.setup === 'all-pixels-retrained').length, 7);
  assert.equal(study.find((x) => x.setup === 'baseline')!.evaluateAllPixelsAt, [7, 6, 5, 4, 3, 2, 1]);
});

test('multi-level random control spends its budget: 4 and 5 bits per pixel of [8, 4, 2, 1] differ and each is met to within one level step', () => {
  // Flat scores: a pixel's first-visited level is random, about 3.75 bits on average; the greedy's
  // second pass raises pixels until the budget is spent (it once stopped at 3.75 for both budgets).
  const n = 32 * 32;
  const means = [4, 5].map((budget) => {
    const bits = randomLevelLayout(32, 32, [8, 4, 2, 1], budget, 11);
    const total = bits.reduce((a, b) => a + b, 0);
    assert.ok(total <= budget * n && total >= budget * n - (8 - 1), `budget ${budget}: ${total / n} bits per pixel`);
    return total / n;
  });
  assert.ok(means[1]! - means[0]! > 0.99, `${means}`);
});

test('multi-level random control: bits within budget, deterministic, applied per pixel', () => {
  const bits = randomLevelLayout(16, 16, [12, 4, 2], 6, 9);
  assert.equal(bits, randomLevelLayout(16, 16, [12, 4, 2], 6, 9));
  const total = bits.reduce((a, b) => a + b, 0);
  assert.ok(total <= 6 * 256, `${total} bits`);
  assert.ok(total > 5.5 * 256, `${total} bits: far below the budget`);
  assert.ok(bits.every((b) => b === 12 || b === 4 || b === 2));
  const model = new JointModel({
    height: 16, width: 16, nativeBits: 12, rule: 'floor',
    stage: { kind: 'fixedBits', bitsMap: bits },
    unet: { depth: 1, baseFilters: 2, normalization: 'none' }, seed: 1,
  });
  const counts = Float32Array.from({ length: 256 }, (_, i) => (i * 37) % 4096);
  const out = model.applyStage(tf.tensor4d(counts, [1, 16, 16, 1]), 'hardware').dataSync();
  for (let i = 0; i < 256; i++) assert.is(out[i], quantizeValue(counts[i]!, 12, bits[i]!, 'floor') , `pixel ${i}`);
  model.dispose();
});

test.run();
