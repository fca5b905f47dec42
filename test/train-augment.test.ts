import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startBackend } from '../src/backend/index.js';
import type { CtDataset, CtSlice } from '../src/data/types.js';
import { DEFAULT_CONFIG, loadConfig, resolveConfig } from '../src/config/experiment-config.js';
import { normaliseInput } from '../src/model/input-normalisation.js';
import {
  augmentSlice,
  drawAugmentParams,
  NO_AUGMENTATION,
  sourceMap,
  warp,
  type AugmentConfig,
  type AugmentParams,
} from '../src/train/augment.js';
import { makeBatch } from '../src/train/batches.js';
import { JointModel } from '../src/train/joint.js';
import { trainModel, type TrainOptions } from '../src/train/trainer.js';
import { shortTrainOptions, weightsOf } from './helpers/train.js';

await startBackend('wasm');
const dir = mkdtempSync(join(tmpdir(), 'ctquant-augment-'));

/** A body of soft tissue with a brighter lesion blob and a noisy texture, 8-bit counts. */
function slice(size: number, k: number): CtSlice {
  const image = new Float32Array(size * size);
  const mask = new Uint8Array(size * size);
  const c = (size - 1) / 2;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const body = (x - c) ** 2 / (0.42 * size) ** 2 + (y - c) ** 2 / (0.36 * size) ** 2 < 1;
      const lesion = (x - c - 0.15 * size + (k % 3)) ** 2 + (y - c + 0.1 * size - (k % 2)) ** 2 < (0.12 * size) ** 2;
      const texture = ((x * 7 + y * 13 + k * 5) % 11) - 5;
      image[y * size + x] = body ? (lesion ? 200 : 100) + texture : 10;
      mask[y * size + x] = lesion && body ? 1 : 0;
    }
  }
  return { image, mask, volumeId: `v${k >> 1}`, name: `s${k}` };
}

const SIZE = 32;
const data: CtDataset = { height: SIZE, width: SIZE, nativeBits: 8, slices: Array.from({ length: 8 }, (_, k) => slice(SIZE, k)), source: 'test blobs' };
const threshold = (img: Float32Array) => Uint8Array.from(img, (v) => (v > 150 ? 1 : 0));
const GEOMETRIC: AugmentConfig = { ...NO_AUGMENTATION, flip: true, rotate90: true, scale: 0.3, rotateDegrees: 20 };
const ALL: AugmentConfig = { ...GEOMETRIC, contrast: 0.2, gamma: 0.2, windowShift: 0.05, noise: 0.02 };

/** The default augmentation: the set measured across covid-ct-20's two sources (RESULTS.md, issue 19). */
const DEFAULT_AUGMENT: AugmentConfig = { flip: true, rotate90: false, scale: 0.2, rotateDegrees: 10, contrast: 0.2, gamma: 0.2, windowShift: 0.05, noise: 0.02 };

test('defaults: the measured augmentation, fixed normalisation, stretch fit; a field given replaces only itself', () => {
  const c = resolveConfig({});
  assert.equal(c.augment, DEFAULT_AUGMENT);
  assert.equal(c.normalisation, { kind: 'fixed' });
  assert.is(c.fit, 'stretch');
  assert.equal(resolveConfig({ augment: { flip: false } }).augment, { ...DEFAULT_AUGMENT, flip: false });
  assert.equal(resolveConfig({ augment: { ...NO_AUGMENTATION } }).augment, NO_AUGMENTATION);
  assert.is(DEFAULT_CONFIG.augment.noise, 0.02);
});

test('config files: the new fields validate; a bad window or an unknown augmentation key is a UserError', () => {
  const write = (name: string, doc: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(doc));
    return path;
  };
  const c = loadConfig(write('ok.json', { augment: { flip: true, noise: 0.01 }, normalisation: { kind: 'window', low: 10, high: 200 }, fit: 'pad' }));
  assert.equal(c.augment, { ...DEFAULT_AUGMENT, flip: true, noise: 0.01 });
  assert.equal(c.normalisation, { kind: 'window', low: 10, high: 200 });
  assert.is(c.fit, 'pad');
  assert.is(loadConfig(write('std.json', { normalisation: { kind: 'standardise' } })).normalisation.kind, 'standardise');
  assert.throws(() => loadConfig(write('bad-window.json', { normalisation: { kind: 'window', low: 200, high: 10 } })), /low < high/);
  assert.throws(() => loadConfig(write('bad-key.json', { augment: { flop: true } })), /flop/);
  assert.throws(() => loadConfig(write('bad-fit.json', { fit: 'squash' })), /squash/);
});

test('geometric transforms keep image and mask aligned (nearest on both)', () => {
  const s = data.slices[0]!;
  // The mask of this test is exactly the threshold of the image.
  assert.equal(threshold(s.image), s.mask);
  let changed = 0;
  for (const cfg of [{ ...NO_AUGMENTATION, flip: true }, { ...NO_AUGMENTATION, rotate90: true }, { ...NO_AUGMENTATION, scale: 0.4 }, { ...NO_AUGMENTATION, rotateDegrees: 30 }, GEOMETRIC]) {
    for (let epoch = 0; epoch < 3; epoch++) {
      for (let index = 0; index < 6; index++) {
        const out = augmentSlice(s.image, s.mask, SIZE, SIZE, 8, cfg, { seed: 3, epoch, index }, 'nearest');
        assert.equal(threshold(out.image), out.mask, `${JSON.stringify(cfg)} epoch ${epoch} index ${index}`);
        if (out.mask.some((v, i) => v !== s.mask[i])) changed += 1;
      }
    }
  }
  assert.ok(changed > 40, `the transforms moved the mask in ${changed} of 90 draws`);
});

test('flips and quarter turns are exact permutations, also with bilinear sampling', () => {
  const s = data.slices[1]!;
  const params = (extra: Partial<AugmentParams>): AugmentParams => ({
    flipX: false, flipY: false, quarterTurns: 0, zoom: 1, shiftX: 0, shiftY: 0, angle: 0, contrast: 1, gamma: 1, offset: 0, noise: 0, noiseSeed: 0, ...extra,
  });
  const flipped = warp(s.image, SIZE, SIZE, sourceMap(params({ flipX: true }), SIZE, SIZE), 'bilinear', -1);
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) assert.is(flipped[y * SIZE + x], s.image[y * SIZE + SIZE - 1 - x]);
  const turned = warp(s.image, SIZE, SIZE, sourceMap(params({ quarterTurns: 1 }), SIZE, SIZE), 'bilinear', -1);
  // One quarter turn: output (x, y) reads source (SIZE−1−y, x) (a point right of centre moves up).
  for (let y = 0; y < SIZE; y++) for (let x = 0; x < SIZE; x++) assert.is(turned[y * SIZE + x], s.image[x * SIZE + SIZE - 1 - y]);
  const four = [0, 1, 2, 3].reduce((img) => warp(img, SIZE, SIZE, sourceMap(params({ quarterTurns: 1 }), SIZE, SIZE), 'bilinear', -1), s.image as Float32Array);
  assert.equal(Array.from(four), Array.from(s.image));
});

test('intensity transforms give integer counts inside the native range; image and mask stay aligned geometrically', () => {
  const s = data.slices[2]!;
  for (let index = 0; index < 8; index++) {
    const out = augmentSlice(s.image, s.mask, SIZE, SIZE, 8, ALL, { seed: 9, epoch: 1, index });
    assert.ok(out.image.every((v) => Number.isInteger(v) && v >= 0 && v <= 255));
    // The same geometry with intensity off gives the same mask: intensity never touches it.
    const geo = augmentSlice(s.image, s.mask, SIZE, SIZE, 8, GEOMETRIC, { seed: 9, epoch: 1, index });
    assert.equal(out.mask, geo.mask);
    assert.ok(out.image.some((v, i) => v !== geo.image[i]), 'intensity changed the image');
  }
  // Turning one option on leaves the other draws unchanged (fixed draw order).
  const a = drawAugmentParams({ ...NO_AUGMENTATION, flip: true }, 4, 2, 5, true);
  const b = drawAugmentParams({ ...NO_AUGMENTATION, flip: true, noise: 0.1 }, 4, 2, 5, true);
  assert.equal([a.flipX, a.flipY], [b.flipX, b.flipY]);
});

test('the transform is a pure function of (seed, epoch, slice): the same arrays again, different across epochs', () => {
  const idx = [3, 0, 5, 6];
  const at = (epoch: number) => {
    const { counts, masks } = makeBatch(data, idx, { config: ALL, seed: 21, epoch });
    const out = [Array.from(counts.dataSync()), Array.from(masks.dataSync())];
    tf.dispose([counts, masks]);
    return out;
  };
  assert.equal(at(1), at(1));
  assert.not.equal(at(1)[0], at(2)[0]);
});

test('augmentation switched off in a config gives bit-identical batches to no augmentation', () => {
  const idx = [1, 4, 7];
  const plain = makeBatch(data, idx);
  const off = makeBatch(data, idx, { config: resolveConfig({ augment: { ...NO_AUGMENTATION } }).augment, seed: 5, epoch: 3 });
  assert.equal(Array.from(off.counts.dataSync()), Array.from(plain.counts.dataSync()));
  assert.equal(Array.from(off.masks.dataSync()), Array.from(plain.masks.dataSync()));
  const expected = idx.flatMap((i) => Array.from(data.slices[i]!.image));
  assert.equal(Array.from(plain.counts.dataSync()), expected);
  tf.dispose([plain.counts, plain.masks, off.counts, off.masks]);
});

function baselineModel(normalisation?: JointModel['options']['normalisation']): JointModel {
  return new JointModel({
    height: SIZE,
    width: SIZE,
    nativeBits: 8,
    rule: 'floor',
    stage: { kind: 'all', keptBits: 2 },
    unet: { depth: 2, baseFilters: 4, normalization: 'group' },
    seed: 7,
    ...(normalisation ? { normalisation } : {}),
  });
}

const options = (extra: Partial<TrainOptions> = {}): TrainOptions => shortTrainOptions({ augment: ALL, ...extra });

test('an augmented run resumed after an interruption reaches the same weights as an uninterrupted one', async () => {
  const full = baselineModel();
  const a = await trainModel(full, data, options());
  const expected = weightsOf(full);
  full.dispose();
  const plain = baselineModel();
  await trainModel(plain, data, options({ augment: undefined }));
  assert.not.equal(weightsOf(plain), expected, 'augmentation changed training');
  plain.dispose();

  const ckpt = join(dir, 'aug.ckpt');
  const first = baselineModel();
  assert.is((await trainModel(first, data, options({ checkpointPath: ckpt, stopAfterStep: 1 }))).stopped, true);
  first.dispose();
  const second = baselineModel();
  const c = await trainModel(second, data, options({ checkpointPath: ckpt, resume: true }));
  assert.equal(weightsOf(second), expected);
  assert.equal(c.history.map((h) => h.loss), a.history.map((h) => h.loss));
  second.dispose();
});

test('normalisation: fixed is the default scaling; window clips; standardise gives zero mean, unit variance per image', () => {
  const counts = tf.tensor4d(Float32Array.from([...data.slices[0]!.image, ...data.slices[1]!.image.map((v) => v / 2)]), [2, SIZE, SIZE, 1]);
  const fixedModel = baselineModel({ kind: 'fixed' });
  const defaultModel = baselineModel();
  const p1 = fixedModel.forward(counts, { training: false, mode: 'hardware' });
  const p2 = defaultModel.forward(counts, { training: false, mode: 'hardware' });
  assert.equal(Array.from(p1.dataSync()), Array.from(p2.dataSync()));
  const w = normaliseInput(counts, { kind: 'window', low: 50, high: 150 }, 8).dataSync();
  assert.ok(w.every((v) => v >= 0 && v <= 1));
  assert.is(w[0], 0); // 10 counts, below the window
  const z = normaliseInput(counts, { kind: 'standardise' }, 8);
  const { mean, variance } = tf.moments(z, [1, 2, 3]);
  for (const m of mean.dataSync()) assert.ok(Math.abs(m) < 1e-4, `mean ${m}`);
  for (const v of variance.dataSync()) assert.ok(Math.abs(v - 1) < 1e-3, `variance ${v}`);
  assert.throws(() => baselineModel({ kind: 'window', low: 100, high: 100 }), /low < high/);
  tf.dispose([counts, p1, p2, z, mean, variance]);
  fixedModel.dispose();
  defaultModel.dispose();
});

test.run();
