import { test } from 'uvu';
import * as assert from 'uvu/assert';
import sharp from 'sharp';
import { generatePhantoms } from '../src/data/phantom.js';
import { splitByVolume } from '../src/data/split.js';
import { resizeDataset, resizeImage, resizeMask } from '../src/data/resize.js';
import { renderPreviewSheet, choosePreviewSlices } from '../src/data/preview.js';
import { summarizeDataset } from '../src/data/summary.js';
import type { CtDataset } from '../src/data/types.js';
import { UserError } from '../src/errors.js';
import { assignVolumes, COVID_CT_20_TEST_VOLUMES, COVID_CT_20_VOLUME_STARTS } from '../src/data/volumes.js';

/** A tiny dataset with uneven volumes: volume i has i + 1 slices of 2×2. */
function uneven(volumes: number): CtDataset {
  const slices = [];
  for (let v = 0; v < volumes; v++) {
    for (let k = 0; k <= v; k++) slices.push({ image: new Float32Array(4), mask: new Uint8Array(4), volumeId: `p${v}`, name: `p${v}-${k}` });
  }
  return { height: 2, width: 2, nativeBits: 8, slices, source: 'test' };
}

test('a split never puts one volume on both sides and is deterministic per seed', () => {
  const ds = uneven(9); // 45 slices
  for (let seed = 0; seed < 30; seed++) {
    const { train, test: held, testVolumes } = splitByVolume(ds, 0.25, seed);
    const trainIds = new Set(train.slices.map((s) => s.volumeId));
    const testIds = new Set(held.slices.map((s) => s.volumeId));
    for (const id of testIds) assert.not.ok(trainIds.has(id), `seed ${seed}: ${id} on both sides`);
    assert.is(train.slices.length + held.slices.length, 45);
    assert.ok(testIds.size >= 1 && trainIds.size >= 1);
    assert.equal([...testIds].sort(), [...testVolumes].sort());
    assert.ok(Math.abs(held.slices.length - 11.25) <= 5, `seed ${seed}: ${held.slices.length} test slices`);
    assert.equal(splitByVolume(ds, 0.25, seed).testVolumes, testVolumes);
  }
  const seeds = new Set(Array.from({ length: 10 }, (_, s) => splitByVolume(ds, 0.25, s).testVolumes.join()));
  assert.ok(seeds.size > 1, 'different seeds give different splits');
});

test('an explicit list of test volumes; unknown ids are a UserError; edge fractions', () => {
  const ds = uneven(4);
  const s = splitByVolume(ds, ['p1', 'p3']);
  assert.equal(s.test.slices.map((x) => x.volumeId), ['p1', 'p1', 'p3', 'p3', 'p3', 'p3']);
  assert.equal([...new Set(s.train.slices.map((x) => x.volumeId))], ['p0', 'p2']);
  assert.throws(() => splitByVolume(ds, ['p9']), (e: unknown) => e instanceof UserError && /p9/.test(e.message));
  assert.is(splitByVolume(ds, 0, 1).test.slices.length, 0);
  const tiny = splitByVolume(ds, 0.01, 1);
  assert.is(tiny.testVolumes.length, 1, 'a positive fraction takes at least one volume');
  assert.ok(splitByVolume(ds, 0.99, 1).train.slices.length > 0, 'and leaves one for training');
});

test('resize: area average when shrinking, linear when enlarging, nearest for masks', () => {
  const img = Float32Array.from([0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30]); // 4×4
  assert.equal(Array.from(resizeImage(img, 4, 4, 2, 2)), [5, 9, 21, 25]);
  const up = resizeImage(Float32Array.from([0, 100]), 1, 2, 1, 4);
  assert.equal(Array.from(up), [0, 25, 75, 100]);
  const m = Uint8Array.from([1, 0, 0, 1]); // 2×2
  assert.equal(Array.from(resizeMask(m, 2, 2, 4, 4)), [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 1]);
  const ds = generatePhantoms({ n: 2, size: 64, seed: 3, nativeBits: 12, lesionFreeShare: 0 });
  const small = resizeDataset(ds, 40);
  assert.is(small.height, 40);
  for (const s of small.slices) {
    assert.is(s.image.length, 1600);
    assert.ok(s.image.every((v) => Number.isInteger(v) && v >= 0 && v <= 4095));
    assert.ok(s.mask.every((v) => v === 0 || v === 1));
    assert.ok(s.mask.some((v) => v === 1));
  }
  const before = summarizeDataset(ds).lesionFraction;
  const after = summarizeDataset(small).lesionFraction;
  assert.ok(Math.abs(after - before) < 0.3 * before, `lesion fraction ${before} → ${after}`);
  assert.is(resizeDataset(ds, 64), ds);
});

test('preview sheet: a PNG with one tile per slice and red lesion outlines', async () => {
  const ds = generatePhantoms({ n: 6, size: 32, seed: 8, nativeBits: 12, lesionFreeShare: 0 });
  const png = await renderPreviewSheet(ds, { indices: [0, 1, 2], columns: 3, minTile: 64 });
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.is(info.width, 3 * 64 + 4 * 4);
  assert.is(info.height, 64 + 2 * 4);
  let red = 0;
  for (let i = 0; i < data.length; i += 3) if (data[i] === 255 && data[i + 1] === 40 && data[i + 2] === 40) red++;
  assert.ok(red > 10, `${red} outline pixels`);
  const picked = choosePreviewSlices(ds, 4);
  assert.is(picked.length, 4);
  assert.equal(picked, [...picked].sort((a, b) => a - b));
});

test('covid-ct-20 constants: the suggested test volumes are the README ranges (385 slices)', () => {
  const stems = Array.from({ length: 1614 }, (_, i) => String(i).padStart(4, '0'));
  const { ids } = assignVolumes('/nonexistent', stems, { volumeStarts: [...COVID_CT_20_VOLUME_STARTS] });
  const held = stems.filter((_, i) => COVID_CT_20_TEST_VOLUMES.includes(ids[i]!)).map(Number);
  assert.is(held.length, 385);
  const inRanges = (i: number) => [[159, 278], [696, 788], [1258, 1375], [1511, 1564]].some(([a, b]) => i >= a! && i <= b!);
  assert.ok(held.every(inRanges));
});

test.run();
