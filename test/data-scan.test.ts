import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeNifti1, encodeNifti2, parseNifti } from '../src/data/nifti.js';
import { bareDataSetSyntax, loadDicomSeries, loadNiftiFolder, loadNiftiPair, deflatedLimit, pixelCellProblem, readDicomHu, storedValue, type PixelCell } from '../src/data/scan.js';
import { loadDataset } from '../src/data/load.js';
import { summarizeDataset } from '../src/data/summary.js';
import { huImageToCounts, huToCount } from '../src/data/hu.js';
import { encodeGreyPng } from '../src/data/png.js';
import { UserError } from '../src/errors.js';
import { DEFLATED_LE, encodeDicom, EXPLICIT_LE, IMPLICIT_LE } from './helpers/dicom.js';

const root = mkdtempSync(join(tmpdir(), 'ctquant-data-scan-'));
const X = 6, Y = 4, Z = 3;
/** HU of voxel (x, y, z): distinct per voxel, even (exact after the /2 storage), inside the default window. */
const huAt = (x: number, y: number, z: number) => -1000 + 38 * x + 212 * y + 504 * z;
const maskAt = (x: number, y: number, z: number) => (z === 1 && x >= 2 && y <= 1 ? 1 : 0);

function volume(f: (x: number, y: number, z: number) => number): number[] {
  const out: number[] = [];
  for (let z = 0; z < Z; z++) for (let y = 0; y < Y; y++) for (let x = 0; x < X; x++) out.push(f(x, y, z));
  return out;
}

function expectUserError(f: () => unknown, file: RegExp, message: RegExp): void {
  try {
    f();
  } catch (e) {
    assert.instance(e, UserError);
    assert.match((e as UserError).file ?? '', file);
    assert.match((e as UserError).message, message);
    return;
  }
  assert.unreachable('expected a UserError');
}

test('NIfTI-1 writer/reader round trip with slope and intercept, plain and gzip', () => {
  // Stored raw = (HU + 1024) / 2 as int16 with slope 2, intercept −1024.
  const raw = Int16Array.from(volume((x, y, z) => (huAt(x, y, z) + 1024) / 2));
  const bytes = encodeNifti1([X, Y, Z], raw, { slope: 2, intercept: -1024, spacing: [0.7, 0.7, 5] });
  for (const b of [bytes, gzipSync(bytes)]) {
    const v = parseNifti(b, 'x.nii');
    assert.equal(v.dims, [X, Y, Z]);
    assert.equal(Array.from(v.data), volume(huAt));
    assert.ok(Math.abs(v.spacing[2] - 5) < 1e-6);
  }
});

/**
 * A NIfTI-2 int16 volume built field by field at the offsets printed in nifti2.h (not through the
 * reader's layout table), so that a wrong offset in that table shows.
 */
function nifti2ByHand(dims: [number, number, number], raw: Int16Array, o: { slope: number; intercept: number; spacing: number[]; srow: number[][]; le: boolean }): Uint8Array {
  const out = new Uint8Array(544 + raw.length * 2);
  const v = new DataView(out.buffer);
  const le = o.le;
  v.setInt32(0, 540, le); // sizeof_hdr
  out.set([0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4); // magic "n+2\0\r\n\032\n"
  v.setInt16(12, 4, le); // datatype int16
  v.setInt16(14, 16, le); // bitpix
  [3, ...dims, 1, 1, 1, 1].forEach((d, i) => v.setBigInt64(16 + 8 * i, BigInt(d), le)); // dim[8]
  [1, ...o.spacing].forEach((p, i) => v.setFloat64(104 + 8 * i, p, le)); // pixdim
  v.setBigInt64(168, 544n, le); // vox_offset
  v.setFloat64(176, o.slope, le); // scl_slope
  v.setFloat64(184, o.intercept, le); // scl_inter
  v.setInt32(348, 1, le); // sform_code
  o.srow.forEach((row, r) => row.forEach((x, c) => v.setFloat64(400 + 32 * r + 8 * c, x, le))); // srow_x, srow_y, srow_z
  raw.forEach((x, i) => v.setInt16(544 + 2 * i, x, le));
  return out;
}

test('NIfTI-2 reads exactly like NIfTI-1 (slope, intercept, sform, spacing), plain and gzip, either byte order', () => {
  const raw = Int16Array.from(volume((x, y, z) => (huAt(x, y, z) + 1024) / 2));
  // Values a float32 holds exactly, so NIfTI-1 and NIfTI-2 can agree bit for bit.
  const srow = [[-0.75, 0, 0, 12.5], [0, -0.75, 0, -40], [0, 0, 2.5, 100]];
  const opts = { slope: 2, intercept: -1024, spacing: [0.75, 0.75, 2.5] as [number, number, number], sform: srow as [number[], number[], number[]] };
  const one = parseNifti(encodeNifti1([X, Y, Z], raw, opts), 'one.nii');
  assert.equal(Array.from(one.data), volume(huAt));
  assert.is(one.axes.source, 'nifti sform');
  for (const bigEndian of [false, true]) {
    const two = encodeNifti2([X, Y, Z], raw, { ...opts, bigEndian });
    assert.equal(two, nifti2ByHand([X, Y, Z], raw, { ...opts, srow, le: !bigEndian }), 'the writer follows nifti2.h');
    for (const b of [two, gzipSync(two)]) {
      const v = parseNifti(b, 'two.nii');
      assert.equal(v.dims, one.dims);
      assert.equal(v.data, one.data);
      assert.equal(Array.from(v.raw), Array.from(one.raw));
      assert.equal(v.spacing, one.spacing);
      assert.equal(v.axes, one.axes);
    }
  }
});

test('NIfTI pair → axial slices of native counts, rows flipped, masks 0/1; a folder of pairs', () => {
  const d = join(root, 'nii');
  mkdirSync(join(d, 'ct'), { recursive: true });
  mkdirSync(join(d, 'covid'), { recursive: true });
  writeFileSync(join(d, 'ct', 'case1.nii.gz'), gzipSync(encodeNifti1([X, Y, Z], Int16Array.from(volume(huAt)))));
  writeFileSync(join(d, 'covid', 'case1.nii.gz'), gzipSync(encodeNifti1([X, Y, Z], Uint8Array.from(volume(maskAt)))));
  writeFileSync(join(d, 'ct', 'case2.nii'), encodeNifti1([X, Y, Z], Float32Array.from(volume(huAt))));
  writeFileSync(join(d, 'covid', 'case2.nii'), encodeNifti1([X, Y, Z], Uint8Array.from(volume(maskAt))));
  const one = loadNiftiPair(join(d, 'ct', 'case1.nii.gz'), join(d, 'covid', 'case1.nii.gz'), { nativeBits: 12 });
  assert.is(one.height, Y);
  assert.is(one.width, X);
  assert.is(one.slices.length, Z);
  const s1 = one.slices[1]!;
  // Row 0 of the slice is y = Y − 1.
  assert.is(s1.image[0 * X + 2], huToCount(huAt(2, Y - 1, 1), 12));
  assert.is(s1.image[(Y - 1) * X + 5], huToCount(huAt(5, 0, 1), 12));
  assert.is(s1.mask[(Y - 1) * X + 2], 1);
  assert.is(s1.mask[0 * X + 2], 0);
  const ds = loadNiftiFolder(d, { lesionSlicesOnly: true });
  assert.equal(ds.slices.map((s) => s.volumeId), ['case1', 'case2']);
  assert.equal(Array.from(ds.slices[1]!.image), Array.from(s1.image));
});

test('every: a NIfTI folder keeps every n-th slice counted across its volumes, the slices the full load gives; loadDataset passes it on; progress counts volumes', async () => {
  const d = join(root, 'nii-every');
  mkdirSync(join(d, 'ct'), { recursive: true });
  mkdirSync(join(d, 'covid'), { recursive: true });
  for (const name of ['a', 'b']) {
    writeFileSync(join(d, 'ct', `${name}.nii`), encodeNifti1([X, Y, Z], Int16Array.from(volume(huAt))));
    writeFileSync(join(d, 'covid', `${name}.nii`), encodeNifti1([X, Y, Z], Uint8Array.from(volume(maskAt))));
  }
  const full = loadNiftiFolder(d, {});
  const calls: [number, number][] = [];
  const thinned = loadNiftiFolder(d, { every: 4, onProgress: (done, total) => calls.push([done, total]) });
  assert.equal(calls, [[1, 2], [2, 2]], 'progress counts the volumes read');
  // 2 volumes × 3 slices: global indices 0 and 4 are a-z000 and b-z001.
  assert.equal(thinned.slices.map((s) => s.name), ['a-z000', 'b-z001']);
  assert.equal(thinned.slices, [full.slices[0], full.slices[4]]);
  assert.is(thinned.thinnedFrom, 6);
  assert.equal((await loadDataset(d, { every: 4 })).slices.map((s) => s.name), ['a-z000', 'b-z001']);
  // heldLimit: the volume whose slices pass it is named, under skipBad too.
  const perSlice = X * Y * 4 + X * Y;
  expectUserError(() => loadNiftiFolder(d, { skipBad: true, heldLimit: { maxBytes: 4 * perSlice, remedy: 'r' } }), /b\.nii$/, /^the 6 slices read up to this file hold/);
});

test('a NIfTI folder mixing NIfTI-1 and NIfTI-2 volumes (and masks) loads, each volume as the other version would', () => {
  const d = join(root, 'nii-mixed');
  mkdirSync(join(d, 'ct'), { recursive: true });
  mkdirSync(join(d, 'covid'), { recursive: true });
  const img = Int16Array.from(volume(huAt));
  const msk = Uint8Array.from(volume(maskAt));
  const sform: [number[], number[], number[]] = [[-1, 0, 0, 0], [0, -1, 0, 0], [0, 0, 2, 0]];
  writeFileSync(join(d, 'ct', 'a.nii.gz'), gzipSync(encodeNifti1([X, Y, Z], img, { sform })));
  writeFileSync(join(d, 'covid', 'a.nii'), encodeNifti2([X, Y, Z], msk));
  writeFileSync(join(d, 'ct', 'b.nii'), encodeNifti2([X, Y, Z], img, { sform }));
  writeFileSync(join(d, 'covid', 'b.nii.gz'), gzipSync(encodeNifti1([X, Y, Z], msk)));
  const ds = loadNiftiFolder(d, { nativeBits: 12 });
  assert.equal(ds.slices.map((s) => s.volumeId), ['a', 'a', 'a', 'b', 'b', 'b']);
  for (let k = 0; k < Z; k++) {
    assert.equal(ds.slices[Z + k]!.image, ds.slices[k]!.image, `slice ${k} image`);
    assert.equal(ds.slices[Z + k]!.mask, ds.slices[k]!.mask, `slice ${k} mask`);
  }
  assert.is(summarizeDataset(ds).orientation, 'columns→L rows→A (nifti sform)');
});

test('NIfTI bad input: header that lies about its size, size mismatch, non-binary mask, not NIfTI', () => {
  const d = join(root, 'niibad');
  mkdirSync(d, { recursive: true });
  const good = encodeNifti1([X, Y, Z], Int16Array.from(volume(huAt)));
  const lying = good.slice();
  new DataView(lying.buffer).setInt16(46, 40, true); // dim[3] = 40 slices, data holds 3
  writeFileSync(join(d, 'lie.nii'), lying);
  writeFileSync(join(d, 'm.nii'), encodeNifti1([X, Y, Z], Uint8Array.from(volume(maskAt))));
  expectUserError(() => loadNiftiPair(join(d, 'lie.nii'), join(d, 'm.nii')), /lie\.nii$/, /header says 6×4×40 int16 voxels.*data has 496 bytes/);
  writeFileSync(join(d, 'small.nii'), encodeNifti1([X, Y, 2], new Uint8Array(X * Y * 2)));
  writeFileSync(join(d, 'img.nii'), good);
  expectUserError(() => loadNiftiPair(join(d, 'img.nii'), join(d, 'small.nii')), /small\.nii$/, /6×4×2 but its image is 6×4×3/);
  writeFileSync(join(d, 'm3.nii'), encodeNifti1([X, Y, Z], Uint8Array.from(volume((x) => x % 3))));
  expectUserError(() => loadNiftiPair(join(d, 'img.nii'), join(d, 'm3.nii')), /m3\.nii$/, /not binary/);
  writeFileSync(join(d, 'text.nii'), 'hello'.repeat(100));
  expectUserError(() => loadNiftiPair(join(d, 'text.nii'), join(d, 'm.nii')), /text\.nii$/, /not a NIfTI-1/);
  writeFileSync(join(d, 'short.nii.gz'), gzipSync(good).subarray(0, 40));
  expectUserError(() => loadNiftiPair(join(d, 'short.nii.gz'), join(d, 'm.nii')), /short\.nii\.gz$/, /gzip/);
});

/** A DICOM slice at table position z (mm) on the axial axis; `iop` a sagittal or other orientation. */
const dicomFile = (opts: { rows: number; cols: number; pixels: Int16Array; slope: number; intercept: number; z: number; instance: number; patient: string; iop?: number[]; part10?: boolean }) => {
  const { z, iop, ...rest } = opts;
  return encodeDicom({ ...rest, position: [0, 0, z], orientation: iop });
};

test('DICOM rows × columns above --max-pixels are refused before the pixels are read', () => {
  const d = join(root, 'dicom-limit');
  mkdirSync(d, { recursive: true });
  const file = join(d, 'big.dcm');
  writeFileSync(file, dicomFile({ rows: 4, cols: 6, pixels: new Int16Array(24), slope: 1, intercept: 0, z: 0, instance: 1, patient: 'P' }));
  assert.is(readDicomHu(file).hu.length, 24);
  expectUserError(() => readDicomHu(file, { maxPixels: 20 }), /big\.dcm$/, /6×4 = 24 pixels, more than --max-pixels 20/);
});

test('DICOM rescale slope or intercept that is not a finite number ("NaN", "abc", Infinity), or a zero slope, is refused, not read as NaN HU or a blank image', () => {
  const d = join(root, 'dicom-rescale');
  mkdirSync(d, { recursive: true });
  const cases: [string, number, number, RegExp][] = [
    ['slope-nan', NaN, 0, /rescale slope \(0028,1053\) "NaN" is not a finite number/],
    ['slope-inf', Infinity, 0, /rescale slope \(0028,1053\) "Infinity" is not a finite number/],
    ['intercept-nan', 1, NaN, /rescale intercept \(0028,1052\) "NaN" is not a finite number/],
    ['slope-zero', 0, -1024, /rescale slope \(0028,1053\) is 0: every pixel would be the intercept/],
  ];
  for (const [name, slope, intercept, message] of cases) {
    const file = join(d, `${name}.dcm`);
    writeFileSync(file, dicomFile({ rows: 2, cols: 2, pixels: Int16Array.from([0, 1, 2, 3]), slope, intercept, z: 0, instance: 1, patient: 'P' }));
    expectUserError(() => readDicomHu(file), new RegExp(`${name}\\.dcm$`), message);
  }
  // A text that is no number at all: dicom-parser's floatString gives NaN for it too.
  const text = join(d, 'slope-text.dcm');
  const bytes = Buffer.from(dicomFile({ rows: 2, cols: 2, pixels: new Int16Array(4), slope: 1.5, intercept: 0, z: 0, instance: 1, patient: 'P' }));
  bytes.write('abc ', bytes.indexOf('1.5 ', 0, 'latin1'), 'latin1');
  writeFileSync(text, bytes);
  expectUserError(() => readDicomHu(text), /slope-text\.dcm$/, /rescale slope \(0028,1053\) "abc" is not a finite number/);
});

test('a multi-frame DICOM file is refused naming its frame count, not read as its first frame', () => {
  const d = join(root, 'dicom-frames');
  mkdirSync(d, { recursive: true });
  const file = join(d, 'enhanced.dcm');
  writeFileSync(file, encodeDicom({ rows: 2, cols: 2, pixels: Int16Array.from({ length: 12 }, (_, i) => i), patient: 'P', frames: 3 }));
  expectUserError(() => readDicomHu(file), /enhanced\.dcm$/, /has 3 frames \(NumberOfFrames\); only single-frame images are read/);
  const single = join(d, 'single.dcm');
  writeFileSync(single, encodeDicom({ rows: 2, cols: 2, pixels: Int16Array.from([0, 1, 2, 3]), patient: 'P', frames: 1 }));
  assert.is(readDicomHu(single).hu.length, 4);
});

test('storedValue: bits above High Bit are dropped, signed values sign-extended from Bits Stored (PS3.5 §8.1.1)', () => {
  const cell = (bitsAllocated: number, bitsStored: number, signed: boolean, highBit = bitsStored - 1): PixelCell => ({ bitsAllocated, bitsStored, highBit, signed });
  const u12 = cell(16, 12, false);
  const s12 = cell(16, 12, true);
  // Unsigned 12 of 16 bits: an overlay bit (12 … 15) set must not add 4096 · k.
  assert.is(storedValue(0x0005, u12), 5);
  assert.is(storedValue(0xf005, u12), 5);
  assert.is(storedValue(0x1fff, u12), 4095);
  // Signed 12 of 16 bits: −2000 is 0x830 in 12 bits, whatever bits 12 … 15 hold (sign-extended or not, or garbage).
  for (const word of [0x0830, 0xf830, 0x7830, 0x8830]) assert.is(storedValue(word, s12), -2000, word.toString(16));
  for (const word of [0x07ff, 0xf7ff]) assert.is(storedValue(word, s12), 2047, word.toString(16));
  assert.is(storedValue(0x0800, s12), -2048);
  assert.is(storedValue(0xffff, s12), -1);
  // 16 of 16 bits: the word itself.
  assert.is(storedValue(0xffff, cell(16, 16, true)), -1);
  assert.is(storedValue(0xffff, cell(16, 16, false)), 65535);
  assert.is(storedValue(0x8000, cell(16, 16, true)), -32768);
  // High Bit 15 with 12 bits stored: the value sits in bits 4 … 15, the low 4 bits are not part of it.
  assert.is(storedValue(0x123f, cell(16, 12, false, 15)), 0x123);
  assert.is(storedValue(0xfff7, cell(16, 12, true, 15)), -1);
  // 8-bit cells.
  assert.is(storedValue(0xff, cell(8, 8, true)), -1);
  assert.is(storedValue(0xff, cell(8, 8, false)), 255);
  assert.is(storedValue(0xf3, cell(8, 4, false)), 3);
  // Layouts that cannot be read are named by their tag.
  assert.is(pixelCellProblem(s12), null);
  assert.is(pixelCellProblem(cell(16, 12, false, 15)), null);
  assert.match(pixelCellProblem(cell(16, 0, false, 11)) ?? '', /^DICOM bits stored \(0028,0101\) is 0, must be 1 … 16 \(bits allocated\)$/);
  assert.match(pixelCellProblem(cell(16, 17, false)) ?? '', /bits stored \(0028,0101\) is 17, must be 1 … 16/);
  assert.match(pixelCellProblem(cell(8, 12, false)) ?? '', /bits stored \(0028,0101\) is 12, must be 1 … 8/);
  assert.match(pixelCellProblem(cell(16, 12, false, 16)) ?? '', /^DICOM high bit \(0028,0102\) is 16, must be 11 … 15/);
  assert.match(pixelCellProblem(cell(16, 12, false, 10)) ?? '', /high bit \(0028,0102\) is 10, must be 11 … 15/);
  assert.match(pixelCellProblem(cell(32, 32, false)) ?? '', /bits allocated 32, expected 8 or 16/);
});

test('DICOM with 12 of 16 bits stored: overlay / garbage bits above High Bit are masked off, signed values sign-extended, to the right HU', () => {
  const d = join(root, 'dicom-bits');
  mkdirSync(d, { recursive: true });
  // Signed 12-bit CT, intercept 0: HU −2000 (outside the scan circle), −1000, 40, 2047, each with other bits 12 … 15.
  const hu = [-2000, -1000, 40, 2047];
  const words = Uint16Array.from(hu, (v, i) => [0xf000, 0x5000, 0x8000, 0xf000][i]! | (v & 0xfff));
  const signed = join(d, 'signed12.dcm');
  writeFileSync(signed, encodeDicom({ rows: 2, cols: 2, pixels: words, patient: 'P', slope: 1, intercept: 0, bitsStored: 12, pixelRepresentation: 1 }));
  assert.equal(Array.from(readDicomHu(signed).hu), hu);
  // Unsigned 12-bit, intercept −1024 (the common layout): an overlay bit 12 must not add 4096 HU.
  const unsigned = join(d, 'unsigned12.dcm');
  writeFileSync(unsigned, encodeDicom({ rows: 1, cols: 3, pixels: Uint16Array.from([0x1000 | 1024, 0xf000 | 0, 4095]), patient: 'P', slope: 1, intercept: -1024, bitsStored: 12, pixelRepresentation: 0 }));
  assert.equal(Array.from(readDicomHu(unsigned).hu), [0, -1024, 3071]);
  // Nonsense layouts are refused naming the tag.
  for (const [name, bitsStored, highBit, message] of [
    ['stored0', 0, 11, /bits stored \(0028,0101\) is 0, must be 1 … 16/],
    ['stored17', 17, 16, /bits stored \(0028,0101\) is 17, must be 1 … 16/],
    ['high16', 12, 16, /high bit \(0028,0102\) is 16, must be 11 … 15/],
  ] as const) {
    const file = join(d, `${name}.dcm`);
    writeFileSync(file, encodeDicom({ rows: 2, cols: 2, pixels: words, patient: 'P', bitsStored, highBit }));
    expectUserError(() => readDicomHu(file), new RegExp(`${name}\\.dcm$`), message);
  }
});

test('DICOM without the Part 10 preamble and meta group (a bare implicit-VR data set) is read; other bytes keep the one-line refusal', () => {
  const d = join(root, 'dicom-bare');
  mkdirSync(d, { recursive: true });
  const opts = { rows: 2, cols: 2, pixels: Int16Array.from([0, 1, 2, 3]), patient: 'P-bare', slope: 2, intercept: -1024, position: [0, 0, 7.5], instance: 4 };
  const bare = encodeDicom({ ...opts, part10: false });
  assert.is(bareDataSetSyntax(bare), IMPLICIT_LE);
  assert.is(bareDataSetSyntax(encodeDicom(opts)), null, 'a Part 10 file');
  // The same data set explicit VR, as a few exports write it without the meta group.
  const part10 = Buffer.from(encodeDicom(opts));
  const explicit = part10.subarray(part10.indexOf(Buffer.from([0x08, 0x00, 0x16, 0x00, 0x55, 0x49]))); // from (0008,0016) UI on
  assert.is(bareDataSetSyntax(explicit), EXPLICIT_LE);
  for (const [name, bytes] of [['bare.dcm', bare], ['bare-explicit.dcm', explicit]] as const) {
    const file = join(d, name);
    writeFileSync(file, bytes);
    const im = readDicomHu(file);
    assert.equal(Array.from(im.hu), [-1024, -1022, -1020, -1018], name);
    assert.equal([im.rows, im.cols, im.z, im.instance, im.patientId], [2, 2, 7.5, 4, 'P-bare'], name);
  }
  // Bytes that do not start like a data set keep the old refusal.
  const text = join(d, 'text.dcm');
  writeFileSync(text, 'hello, this is no DICOM file at all'.repeat(8));
  assert.is(bareDataSetSyntax(readFileSync(text)), null);
  expectUserError(() => readDicomHu(text), /text\.dcm$/, /^not a readable DICOM file \(.*DICM prefix not found/);
});

test('DICOM Pixel Padding Value (0028,0120) needs no handling: padding (−2000 stored → −3024 HU) reads as count 0, the same as air', () => {
  const d = join(root, 'dicom-padding');
  mkdirSync(d, { recursive: true });
  // Outside the scan circle GE-style files store −2000 (16 bits) or its 12-bit pattern 0xF830; intercept −1024.
  const cases = [
    ['pad16.dcm', Int16Array.from([-2000, 0, 1024, 2048]), {}],
    ['pad12.dcm', Uint16Array.from([0xf830, 0, 1024, 2047]), { bitsStored: 12 }],
  ] as const;
  for (const [name, pixels, layout] of cases) {
    const file = join(d, name);
    writeFileSync(file, encodeDicom({ rows: 2, cols: 2, pixels, patient: 'P', slope: 1, intercept: -1024, paddingValue: -2000, ...layout }));
    const hu = readDicomHu(file).hu;
    assert.is(hu[0], -3024, name);
    // huImageToCounts clips below the window's low end: padding and air (−1024 HU) share count 0, nothing else moves.
    const counts = huImageToCounts(hu, 12);
    assert.equal(Array.from(counts), [0, 0, huToCount(0, 12), huToCount(hu[3]!, 12)], name);
  }
});

test('DICOM pixel data of undefined length (encapsulated) under an uncompressed transfer syntax is refused, not read as pixels', () => {
  const d = join(root, 'dicom-encapsulated');
  mkdirSync(d, { recursive: true });
  const file = join(d, 'encapsulated.dcm');
  writeFileSync(file, encodeDicom({ rows: 2, cols: 2, pixels: Int16Array.from([0, 1, 2, 3]), patient: 'P', encapsulated: true }));
  expectUserError(() => readDicomHu(file), /encapsulated\.dcm$/, /^DICOM pixel data is encapsulated \(undefined length\) but transfer syntax 1\.2\.840\.10008\.1\.2\.1 is uncompressed/);
});

test('Deflated explicit VR little endian DICOM is inflated (bounded) and read like the plain file; a bomb or corrupt stream is one line', () => {
  const d = join(root, 'dicom-deflated');
  mkdirSync(d, { recursive: true });
  const opts = { rows: 2, cols: 3, pixels: Int16Array.from([-1000, 0, 40, 500, 1000, 3]), patient: 'P-defl', slope: 1, intercept: -24, position: [0, 0, 2.5], instance: 9 };
  const plain = join(d, 'plain.dcm');
  const deflated = join(d, 'deflated.dcm');
  writeFileSync(plain, encodeDicom(opts));
  writeFileSync(deflated, encodeDicom({ ...opts, transferSyntax: DEFLATED_LE }));
  const a = readDicomHu(plain);
  const b = readDicomHu(deflated);
  assert.equal(Array.from(b.hu), Array.from(a.hu));
  assert.equal([b.rows, b.cols, b.z, b.instance, b.patientId], [2, 3, 2.5, 9, 'P-defl']);
  // A few KB that inflate past 2 × --max-pixels + 16 MiB are refused before they fill memory.
  assert.is(deflatedLimit(4), 8 + 16 * 2 ** 20);
  const bomb = join(d, 'bomb.dcm');
  writeFileSync(bomb, encodeDicom({ ...opts, rows: 2, cols: 2, pixels: new Uint8Array(deflatedLimit(4) + 2), bitsAllocated: 16, transferSyntax: DEFLATED_LE }));
  expectUserError(() => readDicomHu(bomb, { maxPixels: 4 }), /bomb\.dcm$/, /^deflated DICOM data set inflates to more than 16777224 bytes/);
  // A stream cut short or garbled.
  const bytes = Buffer.from(readFileSync(deflated));
  const corrupt = join(d, 'corrupt.dcm');
  bytes.fill(0xff, bytes.length - 20);
  writeFileSync(corrupt, bytes);
  expectUserError(() => readDicomHu(corrupt), /corrupt\.dcm$/, /^deflated DICOM data set does not inflate \(/);
});

test('DICOM photometric interpretation: MONOCHROME1 reads the same HU as MONOCHROME2; PALETTE COLOR (palette indices) is refused', () => {
  const d = join(root, 'dicom-photometric');
  mkdirSync(d, { recursive: true });
  const opts = { rows: 2, cols: 2, pixels: Int16Array.from([0, 1, 2, 3]), patient: 'P', slope: 1, intercept: -1024 };
  for (const photometric of ['MONOCHROME1', 'MONOCHROME2']) {
    const file = join(d, `${photometric}.dcm`);
    writeFileSync(file, encodeDicom({ ...opts, photometric }));
    assert.equal(Array.from(readDicomHu(file).hu), [-1024, -1023, -1022, -1021], photometric);
  }
  const file = join(d, 'palette.dcm');
  writeFileSync(file, encodeDicom({ ...opts, photometric: 'PALETTE COLOR' }));
  expectUserError(() => readDicomHu(file), /palette\.dcm$/, /^DICOM photometric interpretation \(0028,0004\) is PALETTE COLOR, expected MONOCHROME1 or MONOCHROME2/);
});

test('DICOM modality: CT, OT (converters) and none are read; an MR or PET slice in a series folder is refused, not read as HU', () => {
  const d = join(root, 'dicom-modality');
  mkdirSync(d, { recursive: true });
  const opts = { rows: 2, cols: 2, pixels: Int16Array.from([0, 1, 2, 3]), patient: 'P', slope: 1, intercept: -1024 };
  for (const modality of ['CT', 'OT', undefined]) {
    const file = join(d, `${modality ?? 'none'}.dcm`);
    writeFileSync(file, encodeDicom({ ...opts, ...(modality ? { modality } : {}) }));
    assert.equal(Array.from(readDicomHu(file).hu), [-1024, -1023, -1022, -1021], modality);
  }
  for (const modality of ['MR', 'PT']) {
    const file = join(d, `${modality}.dcm`);
    writeFileSync(file, encodeDicom({ ...opts, modality }));
    expectUserError(() => readDicomHu(file), new RegExp(`${modality}\\.dcm$`), new RegExp(`^DICOM modality \\(0008,0060\\) is ${modality}: only CT images hold HU`));
  }
});

test('DICOM float pixel data (7FE0,0008) or 32 bits allocated is refused naming what it is, not as "no image"', () => {
  const d = join(root, 'dicom-float');
  mkdirSync(d, { recursive: true });
  const float = join(d, 'float.dcm');
  writeFileSync(float, encodeDicom({ rows: 2, cols: 2, pixels: new Uint16Array(8), patient: 'P', bitsAllocated: 32, pixelElement: 0x0008 }));
  expectUserError(() => readDicomHu(float), /float\.dcm$/, /^DICOM float pixel data \(7FE0,0008\) is not supported: only integer Pixel Data \(7FE0,0010\) is read$/);
  const int32 = join(d, 'int32.dcm');
  writeFileSync(int32, encodeDicom({ rows: 2, cols: 2, pixels: new Uint16Array(8), patient: 'P', bitsAllocated: 32 }));
  expectUserError(() => readDicomHu(int32), /int32\.dcm$/, /^DICOM bits allocated 32, expected 8 or 16$/);
});

test('DICOM files straight in ct/ (named .dcm or not) are refused naming the folder layout, not sent to the PNG loader', async () => {
  for (const [name, ext, part10] of [['dicom-flat', '.dcm', true], ['dicom-flat-noext', '', true], ['dicom-flat-bare', '', false]] as const) {
    const d = join(root, name);
    mkdirSync(join(d, 'ct'), { recursive: true });
    mkdirSync(join(d, 'covid'), { recursive: true });
    for (let z = 0; z < 2; z++) {
      // A bare data set (no preamble, no "DICM") without .dcm: only its first bytes say it is DICOM.
      writeFileSync(join(d, 'ct', `IM${z}${ext}`), dicomFile({ rows: 2, cols: 2, pixels: new Int16Array(4), slope: 1, intercept: 0, z, instance: z + 1, patient: 'P', part10 }));
      writeFileSync(join(d, 'covid', `IM${z}.png`), await encodeGreyPng(new Uint8Array(4), 2, 2));
    }
    try {
      await loadDataset(d);
      assert.unreachable('expected a UserError');
    } catch (e) {
      assert.instance(e, UserError);
      assert.is((e as UserError).file, join(d, 'ct'));
      assert.match((e as UserError).message, /DICOM file IM0(\.dcm)? lies directly in the image folder: put each series in its own sub-folder \(ct\/<series>\/\)/);
    }
  }
});

test('DICOM series: rescale to HU, sort by position, masks from NIfTI or PNG; bad files; the series held is bounded', async () => {
  const d = join(root, 'dcm');
  const series = join(d, 'ct', 'patA');
  mkdirSync(series, { recursive: true });
  mkdirSync(join(d, 'covid', 'patA'), { recursive: true });
  // Files named in reverse z order: sorting must follow ImagePositionPatient.
  for (let z = 0; z < Z; z++) {
    const pixels = new Int16Array(X * Y);
    for (let r = 0; r < Y; r++) for (let c = 0; c < X; c++) pixels[r * X + c] = (huAt(c, Y - 1 - r, z) + 1024) / 2; // slope 2, intercept −1024
    const name = `IM${9 - z}`;
    writeFileSync(join(series, `${name}.dcm`), dicomFile({ rows: Y, cols: X, pixels, slope: 2, intercept: -1024, z: z * 5, instance: z + 1, patient: 'P-001' }));
    const m = new Uint8Array(X * Y);
    for (let r = 0; r < Y; r++) for (let c = 0; c < X; c++) m[r * X + c] = maskAt(c, Y - 1 - r, z) * 255;
    writeFileSync(join(d, 'covid', 'patA', `${name}.png`), await encodeGreyPng(m, X, Y));
  }
  writeFileSync(join(d, 'maskA.nii'), encodeNifti1([X, Y, Z], Uint8Array.from(volume(maskAt))));
  const fromNifti = await loadDicomSeries(series, join(d, 'maskA.nii'), { nativeBits: 12 });
  const fromPng = await loadDataset(d, { nativeBits: 12 });
  const nifti = loadNiftiPair(writeNii(d), join(d, 'maskA.nii'), { nativeBits: 12 });
  for (const ds of [fromNifti, fromPng]) {
    assert.is(ds.slices.length, Z);
    assert.ok(ds.slices.every((s) => s.volumeId === 'P-001'));
    ds.slices.forEach((s, k) => {
      assert.equal(Array.from(s.image), Array.from(nifti.slices[k]!.image), `slice ${k} image`);
      assert.equal(Array.from(s.mask), Array.from(nifti.slices[k]!.mask), `slice ${k} mask`);
    });
  }
  assert.equal(fromPng.slices.map((s) => s.name), ['IM9', 'IM8', 'IM7']);
  // A non-DICOM file in the series: an error naming it, or skipped under skipBad.
  writeFileSync(join(series, 'notes.txt'), 'hello');
  try {
    await loadDicomSeries(series, join(d, 'maskA.nii'));
    assert.unreachable('expected a UserError');
  } catch (e) {
    assert.instance(e, UserError);
    assert.match((e as UserError).file!, /notes\.txt$/);
  }
  const skipped = await loadDicomSeries(series, join(d, 'maskA.nii'), { skipBad: true });
  assert.is(skipped.slices.length, Z);
  assert.is(skipped.skipped!.length, 1);
  // A series is held whole before it is fitted: bounded as it is read (was: every file of any series held), under skipBad too.
  rmSync(join(series, 'notes.txt'));
  for (const skipBad of [false, true]) {
    await expectAsyncUserError(
      loadDicomSeries(series, join(d, 'maskA.nii'), { heldLimit: { maxBytes: 2 * X * Y * 4, remedy: 'r' }, skipBad }),
      join(series, 'IM9.dcm'),
      /^the 3 slices read up to this file hold 0\.0 GB, more than the 0\.0 GB this machine has for them: r$/,
    );
  }
  assert.is((await loadDicomSeries(series, join(d, 'maskA.nii'), { heldLimit: { maxBytes: 3 * X * Y * 4, remedy: 'r' } })).slices.length, Z);
});

async function expectAsyncUserError(p: Promise<unknown>, file: string, message: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, UserError);
    assert.is((e as UserError).file, file);
    assert.match((e as UserError).message, message);
    return;
  }
  assert.unreachable('expected a UserError');
}

test('--orient canonical: a NIfTI stored with a flipped affine gives the same slices as the plain one; the default keeps them as stored', () => {
  const d = join(root, 'orient');
  mkdirSync(join(d, 'ct'), { recursive: true });
  mkdirSync(join(d, 'covid'), { recursive: true });
  // a: the usual RAS affine (i → Right, j → Anterior). b: the same anatomy stored with i running
  // to the Left (voxel x holds a's X − 1 − x), which its sform says with a negative first column.
  const mirrored = (f: (x: number, y: number, z: number) => number) => (x: number, y: number, z: number) => f(X - 1 - x, y, z);
  const ras: [number[], number[], number[]] = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0]];
  const flipped: [number[], number[], number[]] = [[-1, 0, 0, X - 1], [0, 1, 0, 0], [0, 0, 1, 0]];
  writeFileSync(join(d, 'ct', 'a.nii'), encodeNifti1([X, Y, Z], Int16Array.from(volume(huAt)), { sform: ras }));
  writeFileSync(join(d, 'covid', 'a.nii'), encodeNifti1([X, Y, Z], Uint8Array.from(volume(maskAt)), { sform: ras }));
  writeFileSync(join(d, 'ct', 'b.nii'), encodeNifti1([X, Y, Z], Int16Array.from(volume(mirrored(huAt))), { sform: flipped }));
  writeFileSync(join(d, 'covid', 'b.nii'), encodeNifti1([X, Y, Z], Uint8Array.from(volume(mirrored(maskAt))), { sform: flipped }));
  const pair = (stem: string, orient?: 'canonical') => loadNiftiPair(join(d, 'ct', `${stem}.nii`), join(d, 'covid', `${stem}.nii`), { nativeBits: 12, ...(orient ? { orient } : {}) });
  const slicesOf = (ds: { slices: { image: Float32Array; mask: Uint8Array }[] }) => ds.slices.map((s) => [Array.from(s.image), Array.from(s.mask)]);
  const [a, b, aCanon, bCanon] = [pair('a'), pair('b'), pair('a', 'canonical'), pair('b', 'canonical')];
  assert.equal(slicesOf(aCanon), slicesOf(bCanon), 'canonical: the same slices whatever the storage');
  assert.not.equal(slicesOf(a), slicesOf(b), 'as stored: mirror images');
  // As stored, a's columns run to the patient's right; canonical (columns → left) mirrors them.
  const mirrorRows = (v: ArrayLike<number>) => Array.from({ length: X * Y }, (_, i) => v[Math.floor(i / X) * X + (X - 1 - (i % X))]!);
  assert.equal(Array.from(aCanon.slices[1]!.image), mirrorRows(a.slices[1]!.image));
  assert.equal(Array.from(b.slices[1]!.image), Array.from(aCanon.slices[1]!.image), 'b is stored canonically already');
  assert.is(a.orientation, 'columns→R rows→P (nifti sform)');
  assert.is(bCanon.orientation, 'columns→L rows→P (nifti sform), made canonical (columns→L rows→P)');
  // The default is the loader as it was: the plain volume of the earlier test, bit for bit.
  assert.equal(slicesOf(a), slicesOf(loadNiftiPair(join(d, 'ct', 'a.nii'), join(d, 'covid', 'a.nii'), { nativeBits: 12, orient: 'as-stored' })));
  const summary = summarizeDataset(loadNiftiFolder(d, { orient: 'canonical' }));
  assert.match(summary.orientation ?? '', /columns→R rows→P \(nifti sform\), made canonical.*; columns→L rows→P/);
  // A coronal volume (j along z) cannot be made canonical: an error naming the file.
  writeFileSync(join(d, 'ct', 'c.nii'), encodeNifti1([X, Y, Z], Int16Array.from(volume(huAt)), { sform: [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]] }));
  writeFileSync(join(d, 'covid', 'c.nii'), encodeNifti1([X, Y, Z], Uint8Array.from(volume(maskAt))));
  expectUserError(() => pair('c', 'canonical'), /c\.nii$/, /not axial/);
  assert.is(pair('c').slices.length, Z, 'as stored, it loads as before');
});

test('--orient canonical on DICOM: ImageOrientationPatient with columns to the right is mirrored; the series records it', async () => {
  const d = join(root, 'dcm-orient');
  const series = join(d, 'ct', 'patR');
  mkdirSync(series, { recursive: true });
  mkdirSync(join(d, 'covid'), { recursive: true });
  const pixels = new Int16Array(X * Y);
  for (let i = 0; i < X * Y; i++) pixels[i] = i * 10;
  writeFileSync(join(series, 'IM1.dcm'), dicomFile({ rows: Y, cols: X, pixels, slope: 1, intercept: -1024, z: 0, instance: 1, patient: 'R', iop: [-1, 0, 0, 0, 1, 0] }));
  writeFileSync(join(d, 'covid', 'patR.nii'), encodeNifti1([X, Y, 1], new Uint8Array(X * Y)));
  const asStored = await loadDataset(d, { nativeBits: 12 });
  const canonical = await loadDataset(d, { nativeBits: 12, orient: 'canonical' });
  assert.is(asStored.orientation, 'columns→R rows→P (dicom)');
  assert.match(canonical.orientation ?? '', /made canonical/);
  const img = asStored.slices[0]!.image;
  const mirrored = Array.from({ length: X * Y }, (_, i) => img[Math.floor(i / X) * X + (X - 1 - (i % X))]!);
  assert.equal(Array.from(canonical.slices[0]!.image), mirrored);
});

/** The same phantom volume as a NIfTI file, for comparing loaders. */
function writeNii(d: string): string {
  const p = join(d, 'imgA.nii');
  writeFileSync(p, encodeNifti1([X, Y, Z], Float32Array.from(volume(huAt))));
  return p;
}

test('NIfTI folder: a volume of another slice size stops the load, or is skipped under skipBad; a missing file is named', () => {
  const d = join(root, 'niishape');
  mkdirSync(join(d, 'ct'), { recursive: true });
  mkdirSync(join(d, 'covid'), { recursive: true });
  writeFileSync(join(d, 'ct', 'a.nii'), encodeNifti1([X, Y, Z], Int16Array.from(volume(huAt))));
  writeFileSync(join(d, 'covid', 'a.nii'), encodeNifti1([X, Y, Z], Uint8Array.from(volume(maskAt))));
  writeFileSync(join(d, 'ct', 'b.nii'), encodeNifti1([X + 1, Y, Z], new Int16Array((X + 1) * Y * Z)));
  writeFileSync(join(d, 'covid', 'b.nii'), encodeNifti1([X + 1, Y, Z], new Uint8Array((X + 1) * Y * Z)));
  expectUserError(() => loadNiftiFolder(d), /b\.nii$/, /^slices are 7×4, other volumes' are 6×4$/);
  const ds = loadNiftiFolder(d, { skipBad: true });
  assert.equal(ds.skipped, [{ file: join(d, 'ct', 'b.nii'), reason: "slices are 7×4, other volumes' are 6×4" }]);
  assert.is(ds.slices.length, Z);
  // Fitted as each volume is read, both volumes load at one slice size.
  const fitted = loadNiftiFolder(d, { fitTo: { height: 4, width: 4, fit: 'stretch' } });
  assert.is(fitted.slices.length, 2 * Z);
  assert.equal([fitted.height, fitted.width], [4, 4]);
  assert.ok(fitted.slices.every((s) => s.image.length === 16 && s.mask.length === 16));
  expectUserError(() => loadNiftiPair(join(d, 'ct', 'none.nii'), join(d, 'covid', 'a.nii')), /none\.nii$/, /^cannot read: not found \(ENOENT\)$/);
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
