/**
 * Volumetric loading keeps slice order (issue 21): NIfTI z order, DICOM series sorted by position
 * along the slice normal (InstanceNumber as the stated fallback) whatever the file names, folder
 * volumes in file order; the 2.5D neighbours of a slice follow that order and never cross volumes.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeNifti1 } from '../src/data/nifti.js';
import { loadDicomFolder, loadNiftiFolder } from '../src/data/scan.js';
import { loadPngFolder, positionsWithinVolumes, writePngFolder } from '../src/data/folder.js';
import { seriesOrder, sliceNormal } from '../src/data/slice-order.js';
import { contextIndices, checkContextSlices } from '../src/data/context.js';
import { splitByVolume } from '../src/data/split.js';
import { huToCount } from '../src/data/hu.js';
import { Rng } from '../src/util/rng.js';
import type { CtDataset, CtSlice } from '../src/data/types.js';
import { encodeDicom } from './helpers/dicom.js';

const root = mkdtempSync(join(tmpdir(), 'ctquant-volume-order-'));
const X = 4, Y = 3, Z = 6;
/** Every voxel of slice z holds HU = −900 + 100·z (+ 10·volume), so a slice's counts name its z. */
const huOf = (z: number, v: number) => -900 + 100 * z + 10 * v;

function volume(v: number): Int16Array {
  const out = new Int16Array(X * Y * Z);
  for (let z = 0; z < Z; z++) out.fill(huOf(z, v), z * X * Y, (z + 1) * X * Y);
  return out;
}

/** Mask with the one voxel (0, 0, z) set on slices z ∈ lesion. */
function maskVolume(lesion: number[]): Uint8Array {
  const out = new Uint8Array(X * Y * Z);
  for (const z of lesion) out[z * X * Y] = 1;
  return out;
}

const zOf = (s: CtSlice, v: number) => (Array.from({ length: Z }, (_, z) => z).find((z) => s.image[0] === huToCount(huOf(z, v), 12)) ?? -1);

test('NIfTI volumes: slices in z order with sliceIndex, whatever order the files lie in on disk', () => {
  const d = join(root, 'nii');
  mkdirSync(join(d, 'ct'), { recursive: true });
  mkdirSync(join(d, 'covid'), { recursive: true });
  // Written out of name order: each volume's slice order comes from its own z index.
  for (const [name, v] of [['case-c', 2], ['case-a', 0], ['case-b', 1]] as const) {
    writeFileSync(join(d, 'ct', `${name}.nii`), encodeNifti1([X, Y, Z], volume(v)));
    writeFileSync(join(d, 'covid', `${name}.nii`), encodeNifti1([X, Y, Z], maskVolume([2, 3])));
  }
  const ds = loadNiftiFolder(d, { nativeBits: 12 });
  assert.is(ds.sliceOrder, 'NIfTI z index');
  for (const [name, v] of [['case-a', 0], ['case-b', 1], ['case-c', 2]] as const) {
    const slices = ds.slices.filter((s) => s.volumeId === name);
    assert.equal(slices.map((s) => s.sliceIndex), [0, 1, 2, 3, 4, 5]);
    assert.equal(slices.map((s) => zOf(s, v)), [0, 1, 2, 3, 4, 5]);
  }
  // Lesion slices only: the kept slices keep their z index (gaps stay visible).
  const lesions = loadNiftiFolder(d, { nativeBits: 12, lesionSlicesOnly: true });
  assert.equal(lesions.slices.filter((s) => s.volumeId === 'case-a').map((s) => s.sliceIndex), [2, 3]);
});

/** A DICOM slice X × Y of this file's volumes, with optional geometry. */
const dicomFile = (opts: { pixels: Int16Array; patient: string; position?: number[]; orientation?: number[]; instance?: number }) =>
  encodeDicom({ rows: Y, cols: X, ...opts });

/**
 * A series of Z slices written under shuffled random names. `tilted`: a sagittal orientation
 * (normal −x) with positions whose z component runs against the scan order, so only the
 * projection on the normal sorts them right. `noPosition`: only InstanceNumber is given.
 */
function writeSeries(d: string, series: string, v: number, how: 'tilted' | 'noPosition', rng: Rng): void {
  const dir = join(d, 'ct', series);
  mkdirSync(dir, { recursive: true });
  const order = rng.shuffle(Array.from({ length: Z }, (_, z) => z));
  order.forEach((z, k) => {
    const pixels = new Int16Array(X * Y).fill(huOf(z, v));
    const name = `IM${String(rng.int(1_000_000)).padStart(6, '0')}-${k}.dcm`;
    const geometry =
      how === 'tilted'
        ? { position: [-2.5 * z, 10, 7 - 3 * z * z], orientation: [0, 1, 0, 0, 0, -1], instance: 100 - z }
        : { instance: z + 1 };
    writeFileSync(join(dir, name), dicomFile({ pixels, patient: series, ...geometry }));
  });
  mkdirSync(join(d, 'covid'), { recursive: true });
  writeFileSync(join(d, 'covid', `${series}.nii`), encodeNifti1([X, Y, Z], maskVolume([z2(v)])));
}
/** The lesion slice of volume v (its mask marks where the scan-order slice k = that index lies). */
const z2 = (v: number) => (v + 1) % Z;

test('DICOM series shuffled on disk: sorted by position along the slice normal, else by InstanceNumber, and the rule is stated', async () => {
  const d = join(root, 'dcm');
  const rng = new Rng(4);
  writeSeries(d, 'patT', 0, 'tilted', rng);
  writeSeries(d, 'patN', 1, 'noPosition', rng);
  const ds = await loadDicomFolder(d, { nativeBits: 12 });
  for (const [series, v] of [['patT', 0], ['patN', 1]] as const) {
    const slices = ds.slices.filter((s) => s.volumeId === series);
    assert.equal(slices.map((s) => zOf(s, v)), [0, 1, 2, 3, 4, 5], series);
    assert.equal(slices.map((s) => s.sliceIndex), [0, 1, 2, 3, 4, 5]);
    // The mask volume's slice k belongs to the k-th image in scan order.
    assert.equal(slices.map((s) => s.mask[(Y - 1) * X]), [0, 1, 2, 3, 4, 5].map((k) => (k === z2(v) ? 1 : 0)), `${series} mask`);
  }
  assert.match(ds.sliceOrder ?? '', /ImagePositionPatient along the slice normal/);
  assert.match(ds.sliceOrder ?? '', /InstanceNumber \(no ImagePositionPatient/);
});

test('seriesOrder: the projection on the normal, then InstanceNumber, then file name; sliceNormal is row × column', () => {
  assert.equal(sliceNormal([1, 0, 0, 0, 1, 0]), [0, 0, 1]);
  assert.equal(sliceNormal([0, 1, 0, 0, 0, -1]), [-1, 0, 0]);
  assert.equal(sliceNormal(undefined), [0, 0, 1]);
  const sag = [0, 1, 0, 0, 0, -1] as [number, number, number, number, number, number];
  const byPosition = seriesOrder([
    { file: 'a', position: [-5, 0, 0], orientation: sag, instance: 1 },
    { file: 'b', position: [0, 0, 9], orientation: sag, instance: 2 },
    { file: 'c', position: [-10, 0, -9], orientation: sag, instance: 3 },
  ]);
  assert.equal(byPosition, { order: [1, 0, 2], rule: 'position' });
  assert.equal(seriesOrder([{ file: 'a', position: [0, 0, 1], instance: 2 }, { file: 'b', instance: 1 }]), { order: [1, 0], rule: 'instance' });
  assert.equal(seriesOrder([{ file: 'b', instance: NaN }, { file: 'a', instance: 1 }]), { order: [1, 0], rule: 'file name' });
});

test('PNG folder: sliceIndex counts file order within each volume; the split stays by volume', async () => {
  assert.equal(positionsWithinVolumes(['a', 'a', 'b', 'a', 'b']), [0, 1, 0, 2, 1]);
  const slices: CtSlice[] = [];
  for (let i = 0; i < 6; i++) slices.push({ image: new Float32Array(X * Y).fill(i), mask: new Uint8Array(X * Y), volumeId: i % 2 ? 'odd' : 'even', name: String(i) });
  const d = join(root, 'png');
  await writePngFolder({ height: Y, width: X, nativeBits: 8, slices, source: 'test' }, d);
  const ds = await loadPngFolder(d);
  assert.equal(ds.slices.map((s) => [s.volumeId, s.sliceIndex, s.image[0]]), [
    ['even', 0, 0], ['odd', 0, 1], ['even', 1, 2], ['odd', 1, 3], ['even', 2, 4], ['odd', 2, 5],
  ]);
  const split = splitByVolume(ds, ['odd']);
  assert.ok(split.test.slices.every((s) => s.volumeId === 'odd') && split.train.slices.every((s) => s.volumeId === 'even'));
});

function dataset(slices: { v: string; k?: number }[]): CtDataset {
  return {
    height: 1,
    width: 1,
    nativeBits: 8,
    source: 'test',
    slices: slices.map((s, i) => ({ image: Float32Array.of(i), mask: Uint8Array.of(0), volumeId: s.v, name: String(i), ...(s.k !== undefined ? { sliceIndex: s.k } : {}) })),
  };
}

test('contextIndices: slices i−1..i+1 of the same volume, ends repeated, never across volumes, in sliceIndex order', () => {
  // Volume a (dataset order 0..3), volume b (4..5), volume c one slice.
  const ds = dataset([{ v: 'a' }, { v: 'a' }, { v: 'a' }, { v: 'a' }, { v: 'b' }, { v: 'b' }, { v: 'c' }]);
  assert.equal(contextIndices(ds, 1, 3), [0, 1, 2]);
  assert.equal(contextIndices(ds, 0, 3), [0, 0, 1]);
  assert.equal(contextIndices(ds, 3, 3), [2, 3, 3]);
  assert.equal(contextIndices(ds, 4, 3), [4, 4, 5]);
  assert.equal(contextIndices(ds, 6, 5), [6, 6, 6, 6, 6]);
  assert.equal(contextIndices(ds, 2, 5), [0, 1, 2, 3, 3]);
  assert.equal(contextIndices(ds, 2, 1), [2]);
  // Shuffled dataset order, interleaved volumes: the scan order comes from sliceIndex.
  const shuffled = dataset([{ v: 'a', k: 2 }, { v: 'b', k: 1 }, { v: 'a', k: 0 }, { v: 'a', k: 1 }, { v: 'b', k: 0 }]);
  assert.equal(contextIndices(shuffled, 3, 3), [2, 3, 0]);
  assert.equal(contextIndices(shuffled, 0, 3), [3, 0, 0]);
  assert.equal(contextIndices(shuffled, 4, 3), [4, 4, 1]);
  assert.throws(() => checkContextSlices(2), /positive odd integer/);
  assert.throws(() => checkContextSlices(0), /positive odd integer/);
});

test.run();
