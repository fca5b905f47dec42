import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { encodeNifti1, encodeNifti2, parseNifti } from '../src/data/nifti.js';
import { applyFix, canonicalFix, describeOrientation, dicomOrientation, niftiSliceOrientation } from '../src/data/orientation.js';

test('DICOM: the canonical axial orientation needs nothing; mirrored, transposed and coronal slices are recognised', () => {
  assert.equal(canonicalFix(dicomOrientation([1, 0, 0, 0, 1, 0])), { transpose: false, flipColumns: false, flipRows: false });
  assert.equal(canonicalFix(dicomOrientation([-1, 0, 0, 0, 1, 0])), { transpose: false, flipColumns: true, flipRows: false });
  assert.equal(canonicalFix(dicomOrientation([1, 0, 0, 0, -1, 0])), { transpose: false, flipColumns: false, flipRows: true });
  assert.equal(canonicalFix(dicomOrientation([0, 1, 0, 1, 0, 0])), { transpose: true, flipColumns: false, flipRows: false });
  // Slightly tilted gantry: still axial.
  assert.equal(canonicalFix(dicomOrientation([0.99, 0.1, 0, -0.1, 0.98, 0.17])), { transpose: false, flipColumns: false, flipRows: false });
  assert.is(canonicalFix(dicomOrientation([1, 0, 0, 0, 0, -1])), null);
  assert.is(describeOrientation(dicomOrientation([-1, 0, 0, 0, 1, 0])), 'columns→R rows→P (dicom)');
  assert.throws(() => dicomOrientation([1, 0, 0]), /6 numbers/);
});

/** The voxel axes the reader finds in a NIfTI-1 header with the given form. */
function axesOf(form: 'none' | 'sform' | 'qform', srow?: number[][], quatern?: [number, number, number]) {
  const bytes = encodeNifti1([2, 2, 1], new Int16Array(4));
  const v = new DataView(bytes.buffer);
  if (form === 'sform') {
    v.setInt16(254, 1, true);
    srow!.forEach((r, k) => r.forEach((x, i) => v.setFloat32(280 + 16 * k + 4 * i, x, true)));
  }
  if (form === 'qform') {
    v.setInt16(252, 1, true);
    quatern!.forEach((q, i) => v.setFloat32(256 + 4 * i, q, true));
  }
  return parseNifti(bytes, 'o.nii').axes;
}

test('NIfTI: sform, qform and no form give the slice orientation as ctquant cuts slices (rows along −j)', () => {
  // No form: assumed RAS; the row flip of axialSlice puts anterior up, patient right on the image right.
  const ras = niftiSliceOrientation(axesOf('none'));
  assert.is(describeOrientation(ras), 'columns→R rows→P (nifti none (assumed RAS))');
  assert.equal(canonicalFix(ras), { transpose: false, flipColumns: true, flipRows: false });
  // LPS storage (i → Left, j → Posterior, as DICOM converters often write): rows then run anterior.
  const lps = niftiSliceOrientation(axesOf('sform', [[-0.7, 0, 0, 0], [0, -0.7, 0, 0], [0, 0, 2, 0]]));
  assert.is(describeOrientation(lps), 'columns→L rows→A (nifti sform)');
  assert.equal(canonicalFix(lps), { transpose: false, flipColumns: false, flipRows: true });
  // qform of a 180° turn about z (b=c=0, d=1): i → −x, j → −y, the same as LPS storage.
  const q = niftiSliceOrientation(axesOf('qform', undefined, [0, 0, 1]));
  assert.equal(canonicalFix(q), canonicalFix(lps));
  assert.is(q.source, 'nifti qform');
});

test('NIfTI-2: qform and sform at the nifti2.h offsets (int32 codes, float64 values) give the same axes as in NIfTI-1', () => {
  const bytes = () => encodeNifti2([2, 2, 1], new Int16Array(4));
  const q = bytes();
  const qv = new DataView(q.buffer);
  qv.setInt32(344, 1, true); // qform_code
  [0, 0, 1].forEach((x, i) => qv.setFloat64(352 + 8 * i, x, true)); // quatern_b, c, d
  assert.equal(parseNifti(q, 'q.nii').axes, axesOf('qform', undefined, [0, 0, 1]));
  const srow = [[-0.75, 0, 0, 0], [0, 0, 0.5, 0], [0, 2, 0, 0]];
  const sf = bytes();
  const sv = new DataView(sf.buffer);
  sv.setInt32(344, 1, true);
  [0, 0, 1].forEach((x, i) => sv.setFloat64(352 + 8 * i, x, true));
  sv.setInt32(348, 1, true); // sform_code: wins over the qform
  srow.forEach((r, k) => r.forEach((x, i) => sv.setFloat64(400 + 32 * k + 8 * i, x, true))); // srow_x, srow_y, srow_z
  assert.equal(parseNifti(sf, 's.nii').axes, axesOf('sform', srow));
  assert.is(parseNifti(bytes(), 'n.nii').axes.source, 'nifti none (assumed RAS)');
});

test('applyFix: flips and transpose move pixels as stated', () => {
  // 2 rows × 3 columns: [[0,1,2],[3,4,5]].
  const a = Float32Array.from([0, 1, 2, 3, 4, 5]);
  assert.equal(Array.from(applyFix(a, 2, 3, { transpose: false, flipColumns: true, flipRows: false }).values), [2, 1, 0, 5, 4, 3]);
  assert.equal(Array.from(applyFix(a, 2, 3, { transpose: false, flipColumns: false, flipRows: true }).values), [3, 4, 5, 0, 1, 2]);
  const t = applyFix(a, 2, 3, { transpose: true, flipColumns: false, flipRows: false });
  assert.equal([t.height, t.width, Array.from(t.values)], [3, 2, [0, 3, 1, 4, 2, 5]]);
  const m = applyFix(Uint8Array.from([1, 0, 0, 0, 0, 0]), 2, 3, { transpose: false, flipColumns: true, flipRows: true });
  assert.ok(m.values instanceof Uint8Array);
  assert.equal(Array.from(m.values), [0, 0, 0, 0, 0, 1]);
});

test.run();
