/**
 * Slice orientation: where a file format records it (NIfTI qform/sform, DICOM
 * ImageOrientationPatient), which patient direction the image's columns and rows point to, and
 * the flips / transpose that bring a slice to the canonical display of DICOM axial images:
 * increasing column → patient Left, increasing row → Posterior (LPS; anterior up, the patient's
 * right on the image's left). PNG slices carry no orientation.
 */
import { UserError } from '../errors.js';

/** What the loaders do with a recorded orientation: keep the slices as stored (the default) or turn them canonical. */
export const ORIENT_MODES = ['as-stored', 'canonical'] as const;
export type OrientMode = (typeof ORIENT_MODES)[number];

/** A direction in patient LPS coordinates (+x Left, +y Posterior, +z Superior). */
export type Direction = [number, number, number];

export interface SliceOrientation {
  /** Direction of increasing column index. */
  column: Direction;
  /** Direction of increasing row index. */
  row: Direction;
  /** Where it came from: `dicom`, `nifti sform`, `nifti qform`, `nifti none (assumed RAS)`. */
  source: string;
}

/** What brings a slice to the canonical orientation: transpose first, then flips. */
export interface CanonicalFix {
  transpose: boolean;
  flipColumns: boolean;
  flipRows: boolean;
}

/** DICOM ImageOrientationPatient (0020,0037): 6 numbers, row direction cosines then column cosines, LPS. */
export function dicomOrientation(iop: number[]): SliceOrientation {
  if (iop.length !== 6 || iop.some((v) => !Number.isFinite(v))) throw new UserError(`ImageOrientationPatient needs 6 numbers, got [${iop.join(', ')}]`);
  // DICOM's "row direction" is the direction along a row: increasing column index.
  return { column: [iop[0]!, iop[1]!, iop[2]!], row: [iop[3]!, iop[4]!, iop[5]!], source: 'dicom' };
}

/** The orientation fields of a NIfTI header, as numbers, whichever version (nifti1.h, nifti2.h) stored them. */
export interface NiftiForms {
  qformCode: number;
  sformCode: number;
  /** quatern_b, quatern_c, quatern_d. */
  quatern: [number, number, number];
  /** srow_x, srow_y, srow_z: rows of the voxel → RAS affine. */
  srow: [number[], number[], number[]];
}

/** Axis directions (columns of the 3×3 linear part) of a NIfTI voxel→RAS map: the sform, else the qform, else RAS assumed. */
export function niftiAxes({ qformCode, sformCode, quatern, srow }: NiftiForms): { i: Direction; j: Direction; source: string } {
  if (sformCode > 0) {
    const [x, y, z] = srow;
    return { i: [x[0]!, y[0]!, z[0]!], j: [x[1]!, y[1]!, z[1]!], source: 'nifti sform' };
  }
  if (qformCode > 0) {
    const [b, c, d] = quatern;
    const a = Math.sqrt(Math.max(0, 1 - (b * b + c * c + d * d)));
    // Rotation matrix of the quaternion (nifti1.h; nifti2.h keeps it); qfac only flips k.
    return {
      i: [a * a + b * b - c * c - d * d, 2 * (b * c + a * d), 2 * (b * d - a * c)],
      j: [2 * (b * c - a * d), a * a + c * c - b * b - d * d, 2 * (c * d + a * b)],
      source: 'nifti qform',
    };
  }
  return { i: [1, 0, 0], j: [0, 1, 0], source: 'nifti none (assumed RAS)' };
}

/**
 * The orientation of a NIfTI axial slice as ctquant cuts it (nifti.ts `axialSlice`: columns follow
 * +i, rows follow −j, i.e. row 0 is the last j index), in LPS.
 */
export function niftiSliceOrientation(axes: { i: Direction; j: Direction; source: string }): SliceOrientation {
  const toLps = (v: Direction): Direction => [-v[0], -v[1], v[2]];
  return { column: toLps(axes.i), row: toLps([-axes.j[0], -axes.j[1], -axes.j[2]]), source: axes.source };
}

const dominant = (v: Direction) => {
  const a = v.map(Math.abs);
  return a[0]! >= a[1]! && a[0]! >= a[2]! ? 0 : a[1]! >= a[2]! ? 1 : 2;
};

/**
 * The transpose / flips that make columns run toward Left and rows toward Posterior, judged by each
 * axis's dominant component; null when the slice is not axial (a column or row mostly along z).
 */
export function canonicalFix(o: SliceOrientation): CanonicalFix | null {
  const c = dominant(o.column);
  const r = dominant(o.row);
  if (c === 2 || r === 2 || c === r) return null;
  const transpose = c === 1;
  // After a transpose, the old row direction runs along the columns and vice versa.
  const column = transpose ? o.row : o.column;
  const row = transpose ? o.column : o.row;
  return { transpose, flipColumns: column[0] < 0, flipRows: row[1] < 0 };
}

/** A short description for summaries, e.g. "columns→L rows→P (dicom)". */
export function describeOrientation(o: SliceOrientation): string {
  const name = (v: Direction) => {
    const k = dominant(v);
    return (v[k]! >= 0 ? ['L', 'P', 'S'] : ['R', 'A', 'I'])[k]!;
  };
  return `columns→${name(o.column)} rows→${name(o.row)} (${o.source})`;
}

/** Applies a fix to an H×W row-major slice; returns the new array and its height / width (swapped by a transpose). */
export function applyFix<T extends Float32Array | Uint8Array>(values: T, height: number, width: number, fix: CanonicalFix): { values: T; height: number; width: number } {
  const outH = fix.transpose ? width : height;
  const outW = fix.transpose ? height : width;
  const out = new (values.constructor as { new (n: number): T })(values.length);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const ty = fix.flipRows ? outH - 1 - y : y;
      const tx = fix.flipColumns ? outW - 1 - x : x;
      const [sy, sx] = fix.transpose ? [tx, ty] : [ty, tx];
      out[y * outW + x] = values[sy * width + sx]!;
    }
  }
  return { values: out, height: outH, width: outW };
}

/**
 * What a loader does with one scan's orientation `found` under `mode`: the fix to apply (null:
 * keep as stored) and the text the dataset summary records. A scan that is not axial cannot be
 * made canonical: a UserError naming `file`.
 */
export function orientationPlan(found: SliceOrientation | null, mode: OrientMode | undefined, file: string): { fix: CanonicalFix | null; text: string } {
  if (!found) return { fix: null, text: 'none recorded' };
  const text = describeOrientation(found);
  if (mode !== 'canonical') return { fix: null, text };
  const fix = canonicalFix(found);
  if (!fix) throw new UserError(`slices are not axial (${text}): --orient canonical cannot turn them`, { file });
  return { fix, text: `${text}, made canonical (columns→L rows→P)` };
}

/** The distinct orientation texts of a folder's scans, in first-seen order, for its summary. */
export function joinOrientations(texts: readonly string[]): string | undefined {
  const distinct = [...new Set(texts)];
  return distinct.length ? distinct.join('; ') : undefined;
}
