/**
 * 2.5D context (issue 21): the input of slice i holds slices i−1..i+1 of its volume (ends
 * repeated), augmentation moves all of them alike, one layout reads every slice and channel,
 * k = 1 is the 2D model unchanged, and a k = 3 run resumes bit-exactly.
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
import { TrainableQuantization } from '../src/quant/layer.js';
import { MultiLevelQuantization } from '../src/quant/multilevel.js';
import { augmentSlice } from '../src/train/augment.js';
import { makeBatch } from '../src/train/batches.js';
import { JointModel, type InputStage } from '../src/train/joint.js';
import { trainModel, type TrainOptions } from '../src/train/trainer.js';
import { shortTrainOptions, weightsOf } from './helpers/train.js';
import { evaluateSlicesAndVolumes, evaluate } from '../src/train/evaluate.js';
import { modelForPoint, runPoint } from '../src/experiments/run-point.js';
import { prepareData } from '../src/experiments/data.js';
import { writePngFolder } from '../src/data/folder.js';
import { studyProfile } from '../src/profile/load.js';
import { readRunFile } from '../src/runs/store.js';
import type { UserError } from '../src/errors.js';

await startBackend('wasm');
const dir = mkdtempSync(join(tmpdir(), 'ctquant-context-'));
const S = 32;
// Two volumes of 4 slices each: slices 0..3 are volume v0, 4..7 volume v1.
const data = generatePhantoms({ n: 8, size: S, seed: 5, nativeBits: 8, slicesPerVolume: 4 });
const hw = S * S;

/** Channel c of batch entry b of an NHWC tensor's values, row-major H×W. */
function channel(values: Float32Array, b: number, c: number, k: number): number[] {
  return Array.from({ length: hw }, (_, i) => values[(b * hw + i) * k + c]!);
}

test('the 2.5D input of slice i holds slices i−1, i, i+1 of its volume, ends repeated; the mask is the centre slice\'s', () => {
  const idx = [0, 1, 3, 4, 6];
  const { counts, masks } = makeBatch(data, idx, undefined, 3);
  assert.equal(counts.shape, [5, S, S, 3]);
  assert.equal(masks.shape, [5, S, S, 1]);
  const values = counts.dataSync() as Float32Array;
  const expected = [[0, 0, 1], [0, 1, 2], [2, 3, 3], [4, 4, 5], [5, 6, 7]];
  idx.forEach((_, b) => {
    for (let c = 0; c < 3; c++) assert.equal(channel(values, b, c, 3), Array.from(data.slices[expected[b]![c]!]!.image), `entry ${b} channel ${c}`);
    assert.equal(Array.from(masks.dataSync().subarray(b * hw, (b + 1) * hw)), Array.from(data.slices[idx[b]!]!.mask, Number));
  });
  tf.dispose([counts, masks]);
  // k = 1 is the 2D batch.
  const one = makeBatch(data, idx, undefined, 1);
  const plain = makeBatch(data, idx);
  assert.equal(Array.from(one.counts.dataSync()), Array.from(plain.counts.dataSync()));
  assert.equal(one.counts.shape, [5, S, S, 1]);
  tf.dispose([one.counts, one.masks, plain.counts, plain.masks]);
});

test('augmentation moves all k slices with the centre slice\'s geometric transform', () => {
  // Geometry only: each neighbour's intensity noise is its own draw by design (augment.ts augmentStack).
  const config = { ...resolveConfig({}).augment, flip: true, rotate90: true, noise: 0 };
  const idx = [1, 2, 5, 7];
  const stacks = [[0, 1, 2], [1, 2, 3], [4, 5, 6], [6, 7, 7]];
  for (const epoch of [0, 1, 2]) {
    const { counts, masks } = makeBatch(data, idx, { config, seed: 9, epoch }, 3);
    const values = counts.dataSync() as Float32Array;
    idx.forEach((i, b) => {
      const centre = augmentSlice(data.slices[i]!.image, data.slices[i]!.mask, S, S, 8, config, { seed: 9, epoch, index: i });
      assert.equal(Array.from(masks.dataSync().subarray(b * hw, (b + 1) * hw)), Array.from(centre.mask, Number));
      stacks[b]!.forEach((neighbour, c) => {
        // The neighbour's image under the CENTRE slice's transform (index i).
        const moved = augmentSlice(data.slices[neighbour]!.image, data.slices[i]!.mask, S, S, 8, config, { seed: 9, epoch, index: i });
        assert.equal(channel(values, b, c, 3), Array.from(moved.image), `epoch ${epoch} entry ${b} channel ${c}`);
      });
    });
    tf.dispose([counts, masks]);
  }
});

function learnedLayer(): TrainableQuantization {
  return new TrainableQuantization({ rows: S, cols: S, nativeBits: 8, keptBits: 2, rule: 'floor', budget: 0.4, seed: 3 });
}

test('one layout reads every slice and every channel: the trainable layer, hardware and sampled masks', async () => {
  const layer = learnedLayer();
  layer.apply(tf.zeros([1, S, S, 1]), { mode: 'expected' });
  const { counts } = makeBatch(data, [0, 1, 2, 3], undefined, 3); // one whole volume, k = 3
  for (const mode of ['hardware', 'stochastic'] as const) {
    layer.resetNoise(21);
    const out = (layer.apply(counts, { mode }) as tf.Tensor).dataSync() as Float32Array;
    const inValues = counts.dataSync() as Float32Array;
    for (let c = 0; c < 3; c++) {
      // Each channel alone, with the same noise stream, gives exactly the same values.
      layer.resetNoise(21);
      const alone = tf.tidy(() => tf.slice(counts, [0, 0, 0, c], [4, S, S, 1]));
      const single = (layer.apply(alone, { mode }) as tf.Tensor).dataSync() as Float32Array;
      for (let b = 0; b < 4; b++) assert.equal(channel(out, b, c, 3), Array.from(single.subarray(b * hw, (b + 1) * hw)), `${mode} slice ${b} channel ${c}`);
      alone.dispose();
    }
    if (mode === 'hardware') {
      // The pixels a hardware layout changes are a subset of the layout, the same map on every slice and channel.
      const lay = await layer.hardwareLayout();
      for (let b = 0; b < 4; b++) for (let c = 0; c < 3; c++) {
        const changed = channel(out, b, c, 3).map((v, i) => v !== inValues[(b * hw + i) * 3 + c]);
        assert.ok(changed.every((ch, i) => !ch || lay[i] === 1), `slice ${b} channel ${c}: only layout pixels change`);
      }
    }
  }
  counts.dispose();
  layer.dispose();
});

test('the multi-level layer and the fixed stages read every channel with the same selection', () => {
  const layer = new MultiLevelQuantization({ rows: S, cols: S, nativeBits: 8, modes: [4, 2], rule: 'floor', budgetBits: 5, seed: 4 });
  layer.apply(tf.zeros([1, S, S, 1]), { mode: 'expected' });
  const { counts } = makeBatch(data, [4, 5, 6], undefined, 3);
  for (const mode of ['hardware', 'stochastic'] as const) {
    layer.resetNoise(5);
    const out = (layer.apply(counts, { mode }) as tf.Tensor).dataSync() as Float32Array;
    for (let c = 0; c < 3; c++) {
      layer.resetNoise(5);
      const alone = tf.tidy(() => tf.slice(counts, [0, 0, 0, c], [3, S, S, 1]));
      const single = (layer.apply(alone, { mode }) as tf.Tensor).dataSync() as Float32Array;
      for (let b = 0; b < 3; b++) {
        const got = channel(out, b, c, 3);
        const want = Array.from(single.subarray(b * hw, (b + 1) * hw));
        assert.ok(got.every((v, i) => Math.abs(v - want[i]!) <= 1e-4 * Math.max(1, Math.abs(want[i]!))), `${mode} slice ${b} channel ${c}`);
      }
      alone.dispose();
    }
  }
  layer.dispose();
  const layout = Uint8Array.from({ length: hw }, (_, i) => (i % 3 === 0 ? 1 : 0));
  const fixed = new JointModel({ ...modelOptions({ kind: 'fixed', keptBits: 2, layout }), contextSlices: 3 });
  const staged = fixed.applyStage(counts, 'hardware').dataSync() as Float32Array;
  const values = counts.dataSync() as Float32Array;
  for (let b = 0; b < 3; b++) for (let c = 0; c < 3; c++) {
    channel(staged, b, c, 3).forEach((v, i) => assert.is(v, layout[i] ? Math.floor(values[(b * hw + i) * 3 + c]! / 64) * 64 : values[(b * hw + i) * 3 + c]!));
  }
  fixed.dispose();
  counts.dispose();
});

function modelOptions(stage: InputStage) {
  return { height: S, width: S, nativeBits: 8, rule: 'floor' as const, stage, unet: { depth: 2, baseFilters: 4, normalization: 'group' as const }, seed: 7 };
}

test('k = 3 builds a U-Net with 3 input channels; k = 1 keeps the 2D one; an even k is refused', () => {
  const three = new JointModel({ ...modelOptions({ kind: 'none' }), contextSlices: 3 });
  assert.equal(three.unet.inputs[0]!.shape, [null, S, S, 3]);
  const { counts } = makeBatch(data, [0, 1], undefined, 3);
  const p = three.forward(counts, { training: false, mode: 'hardware' });
  assert.equal(p.shape, [2, S, S, 1]);
  tf.dispose([p, counts]);
  three.dispose();
  const one = new JointModel(modelOptions({ kind: 'none' }));
  const oneExplicit = new JointModel({ ...modelOptions({ kind: 'none' }), contextSlices: 1 });
  assert.equal(one.unet.inputs[0]!.shape, [null, S, S, 1]);
  assert.equal(weightsOf(oneExplicit), weightsOf(one));
  one.dispose();
  oneExplicit.dispose();
  assert.throws(() => new JointModel({ ...modelOptions({ kind: 'none' }), contextSlices: 2 }), /positive odd integer/);
});

const options = (extra: Partial<TrainOptions> = {}): TrainOptions =>
  shortTrainOptions({ augment: { ...resolveConfig({}).augment, flip: true, contrast: 0.1, noise: 0.01 }, ...extra });

const learnedModel = () => new JointModel({ ...modelOptions({ kind: 'learned', layer: learnedLayer() }), contextSlices: 3 });

test('resume with k = 3 (learned layout, augmentation) reaches the same weights as an uninterrupted run', async () => {
  const full = learnedModel();
  const a = await trainModel(full, data, options());
  const expected = weightsOf(full);
  full.dispose();
  const ckpt = join(dir, 'context.ckpt');
  const first = learnedModel();
  assert.is((await trainModel(first, data, options({ checkpointPath: ckpt, stopAfterStep: 3 }))).stopped, true);
  assert.ok(existsSync(ckpt));
  first.dispose();
  const second = learnedModel();
  const c = await trainModel(second, data, options({ checkpointPath: ckpt, resume: true }));
  assert.equal(weightsOf(second), expected);
  assert.equal(c.history.map((h) => h.loss), a.history.map((h) => h.loss));
  // Per slice and per volume from one pass: the per-slice numbers are evaluate's.
  const both = await evaluateSlicesAndVolumes(second, data, { mode: 'hardware', batchSize: 4 });
  assert.equal(both.dice, await evaluate(second, data, { mode: 'hardware', batchSize: 4 }));
  assert.equal(both.diceVolume.perVolume.map((v) => v.id), ['synth-v000', 'synth-v001']);
  second.dispose();
});

test('a k = 3 point from the config trains, records 3D Dice per test volume, and one layout; --every > 1 is refused for 2.5D', async () => {
  const config = resolveConfig({ size: S, epochs: 1, batchSize: 4, unet: { depth: 2, baseFilters: 4, normalization: 'group' }, context: { slices: 3 } });
  const split = { train: { ...data, slices: data.slices.slice(0, 4) }, validation: { ...data, slices: [] }, test: { ...data, slices: data.slices.slice(4) } };
  const outDir = mkdtempSync(join(tmpdir(), 'ctquant-context-point-'));
  const point = { id: 'learned-b0.25-s1', setup: 'learned' as const, seed: 1, keptBits: 1, budget: 0.25 };
  const built = modelForPoint(studyProfile(S), config, point);
  assert.equal(built.unet.inputs[0]!.shape, [null, S, S, 3]);
  built.dispose();
  const { results } = await runPoint({ profile: studyProfile(S), config, data: split, outDir, backend: 'wasm', resume: false }, point);
  const run = results[0]!;
  assert.equal(run.diceVolume!.perVolume.map((v) => v.id), ['synth-v001']);
  assert.is(run.hardwareLayout!.length, S * S);
  assert.equal(readRunFile(join(outDir, 'runs', `${point.id}.json`)).diceVolume, run.diceVolume);
  const folder = join(dir, 'folder');
  await writePngFolder(data, folder);
  const source = { kind: 'folder' as const, path: folder, skipBad: false, every: 2 };
  await prepareData(source, studyProfile(S), config).then(
    () => assert.unreachable('expected a UserError'),
    (e: unknown) => assert.match((e as UserError).message, /context.slices 3 reads adjacent slices.*--every 1/),
  );
});

test.run();
