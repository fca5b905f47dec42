/**
 * NIfTI-1 volumes (`.nii`, `.nii.gz`): a small reader (either byte order, the common voxel types,
 * scl_slope/scl_inter applied) and a writer for round trips and test fixtures. A 3-D volume
 * X×Y×Z is cut into Z axial slices of Y rows × X columns; rows are flipped (row 0 = the
 * largest y index) so that a RAS-oriented scan shows anterior up, as DICOM rows do.
 */
import { gunzipSync } from 'node:zlib';
import { UserError } from '../errors.js';
import { readInputFile } from './input-file.js';

export interface NiftiVolume {
  /** Voxels along x, y, z. */
  dims: [number, number, number];
  /** Scaled voxel values (raw × slope + intercept), x fastest, then y, then z. */
  data: Float32Array;
  /** Raw values before scaling, for masks (same layout). */
  raw: ArrayLike<number>;
  /** Voxel size in mm along x, y, z (pixdim). */
  spacing: [number, number, number];
}

const TYPES: Record<number, { bytes: number; name: string }> = {
  2: { bytes: 1, name: 'uint8' },
  4: { bytes: 2, name: 'int16' },
  8: { bytes: 4, name: 'int32' },
  16: { bytes: 4, name: 'float32' },
  64: { bytes: 8, name: 'float64' },
  256: { bytes: 1, name: 'int8' },
  512: { bytes: 2, name: 'uint16' },
  768: { bytes: 4, name: 'uint32' },
};

/** Parses NIfTI-1 bytes (gzip-compressed or not); a UserError naming `file` on anything wrong. */
export function parseNifti(bytes: Uint8Array, file: string): NiftiVolume {
  let buf = bytes;
  if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
    try {
      buf = gunzipSync(buf);
    } catch (e) {
      throw new UserError(`corrupt gzip data (${e instanceof Error ? e.message : String(e)})`, { file });
    }
  }
  if (buf.length < 348) throw new UserError(`too short for a NIfTI-1 header (${buf.length} bytes)`, { file });
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let le = true;
  if (view.getInt32(0, true) !== 348) {
    if (view.getInt32(0, false) === 348) le = false;
    else if (view.getInt32(0, true) === 540 || view.getInt32(0, false) === 540) throw new UserError('NIfTI-2 is not supported; save as NIfTI-1', { file });
    else throw new UserError('not a NIfTI-1 file (sizeof_hdr is not 348)', { file });
  }
  const magic = String.fromCharCode(buf[344]!, buf[345]!, buf[346]!);
  if (magic !== 'n+1') throw new UserError(`unsupported NIfTI magic "${magic}" (only single-file n+1)`, { file });
  const dim = Array.from({ length: 8 }, (_, i) => view.getInt16(40 + 2 * i, le));
  const ndim = dim[0]!;
  if (ndim < 2 || ndim > 7) throw new UserError(`header dim[0] = ${ndim}, expected 2..7`, { file });
  const [x, y, z] = [dim[1]!, dim[2]!, ndim >= 3 ? dim[3]! : 1];
  for (let i = 4; i <= ndim; i++) if (dim[i] !== 1) throw new UserError(`4-D or higher volume (dim[${i}] = ${dim[i]}); only 3-D volumes are supported`, { file });
  if (!(x > 0 && y > 0 && z > 0)) throw new UserError(`header gives non-positive size ${x}×${y}×${z}`, { file });
  const datatype = view.getInt16(70, le);
  const type = TYPES[datatype];
  if (!type) throw new UserError(`unsupported NIfTI datatype ${datatype}`, { file });
  const voxOffset = Math.floor(view.getFloat32(108, le));
  const count = x * y * z;
  const need = voxOffset + count * type.bytes;
  if (voxOffset < 348 || need > buf.length) {
    throw new UserError(`header says ${x}×${y}×${z} ${type.name} voxels from byte ${voxOffset} (${need} bytes) but the data has ${buf.length} bytes`, { file });
  }
  let slope = view.getFloat32(112, le);
  const inter = view.getFloat32(116, le);
  if (!Number.isFinite(slope) || slope === 0) slope = 1;
  const raw = new Float64Array(count);
  const read = readerFor(datatype, view, le);
  for (let i = 0; i < count; i++) raw[i] = read(voxOffset + i * type.bytes);
  const data = new Float32Array(count);
  const intercept = Number.isFinite(inter) ? inter : 0;
  for (let i = 0; i < count; i++) data[i] = raw[i]! * slope + intercept;
  const pix = (i: number) => Math.abs(view.getFloat32(76 + 4 * i, le)) || 1;
  return { dims: [x, y, z], data, raw, spacing: [pix(1), pix(2), pix(3)] };
}

function readerFor(datatype: number, v: DataView, le: boolean): (at: number) => number {
  switch (datatype) {
    case 2: return (at) => v.getUint8(at);
    case 4: return (at) => v.getInt16(at, le);
    case 8: return (at) => v.getInt32(at, le);
    case 16: return (at) => v.getFloat32(at, le);
    case 64: return (at) => v.getFloat64(at, le);
    case 256: return (at) => v.getInt8(at);
    case 512: return (at) => v.getUint16(at, le);
    default: return (at) => v.getUint32(at, le);
  }
}

/** Reads a `.nii` or `.nii.gz` file. */
export function readNifti(path: string): NiftiVolume {
  return parseNifti(readInputFile(path), path);
}

/**
 * Encodes a 3-D NIfTI-1 (little-endian, single file, vox_offset 352): int16 for Int16Array,
 * uint8 for Uint8Array, float32 for Float32Array. Data is x fastest, then y, then z.
 */
export function encodeNifti1(
  dims: [number, number, number],
  data: Int16Array | Uint8Array | Float32Array,
  opts: { slope?: number; intercept?: number; spacing?: [number, number, number] } = {},
): Uint8Array {
  const [x, y, z] = dims;
  if (data.length !== x * y * z) throw new RangeError(`NIfTI data has ${data.length} voxels, expected ${x}×${y}×${z}`);
  const datatype = data instanceof Int16Array ? 4 : data instanceof Uint8Array ? 2 : 16;
  const bytes = TYPES[datatype]!.bytes;
  const out = new Uint8Array(352 + data.length * bytes);
  const v = new DataView(out.buffer);
  v.setInt32(0, 348, true);
  [3, x, y, z, 1, 1, 1, 1].forEach((d, i) => v.setInt16(40 + 2 * i, d, true));
  v.setInt16(70, datatype, true);
  v.setInt16(72, bytes * 8, true);
  const spacing = opts.spacing ?? [1, 1, 1];
  [1, spacing[0], spacing[1], spacing[2]].forEach((p, i) => v.setFloat32(76 + 4 * i, p, true));
  v.setFloat32(108, 352, true);
  v.setFloat32(112, opts.slope ?? 1, true);
  v.setFloat32(116, opts.intercept ?? 0, true);
  out.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"
  for (let i = 0; i < data.length; i++) {
    const at = 352 + i * bytes;
    if (datatype === 4) v.setInt16(at, data[i]!, true);
    else if (datatype === 2) v.setUint8(at, data[i]!);
    else v.setFloat32(at, data[i]!, true);
  }
  return out;
}

/** Axial slice k of a volume as a Y×X row-major array, rows flipped (row 0 = y index Y−1). */
export function axialSlice<T extends ArrayLike<number>>(vol: { dims: [number, number, number] }, values: T, k: number): Float32Array {
  const [x, y] = vol.dims;
  const out = new Float32Array(x * y);
  const base = k * x * y;
  for (let r = 0; r < y; r++) {
    const src = base + (y - 1 - r) * x;
    for (let c = 0; c < x; c++) out[r * x + c] = values[src + c]!;
  }
  return out;
}
