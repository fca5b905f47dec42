/**
 * NIfTI-1 volumes (`.nii`, `.nii.gz`): a small reader (either byte order, the common voxel types,
 * scl_slope/scl_inter applied) and a writer for round trips and test fixtures. A 3-D volume
 * X×Y×Z is cut into Z axial slices of Y rows × X columns; rows are flipped (row 0 = the
 * largest y index) so that a RAS-oriented scan shows anterior up, as DICOM rows do.
 */
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { printable, UserError } from '../errors.js';
import { readRegularFile } from '../util/fs-safe.js';
import { limitsOf, type PixelLimits } from './limits.js';
import { niftiAxes, type Direction, type NiftiForms } from './orientation.js';

export interface NiftiVolume {
  /** Voxels along x, y, z. */
  dims: [number, number, number];
  /** Scaled voxel values (raw × slope + intercept), x fastest, then y, then z. */
  data: Float32Array;
  /** Raw values before scaling, for masks (same layout). */
  raw: ArrayLike<number>;
  /** Voxel size in mm along x, y, z (pixdim). */
  spacing: [number, number, number];
  /** Directions (RAS) of the i and j voxel axes from the header's sform / qform, and which one gave them. */
  axes: { i: Direction; j: Direction; source: string };
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

/**
 * Where the header fields ctquant uses sit and how wide they are (nifti1.h): the checks and the
 * writer go through this table, not through offsets of their own.
 */
interface Layout {
  version: 1 | 2;
  /** sizeof_hdr, which is also the header's length. */
  size: 348 | 540;
  magicAt: number;
  magic: string;
  dim: number;
  datatype: number;
  bitpix: number;
  pixdim: number;
  voxOffset: number;
  slope: number;
  inter: number;
  qformCode: number;
  sformCode: number;
  quatern: number;
  srow: number;
  /** Bytes of dim[i]; of a real field (pixdim, scl_*, quatern_*, srow_*); of qform_code / sform_code. */
  dimBytes: 2 | 8;
  realBytes: 4 | 8;
  codeBytes: 2 | 4;
}

const NIFTI1: Layout = {
  version: 1, size: 348, magicAt: 344, magic: 'n+1\0',
  dim: 40, datatype: 70, bitpix: 72, pixdim: 76, voxOffset: 108, slope: 112, inter: 116,
  qformCode: 252, sformCode: 254, quatern: 256, srow: 280,
  dimBytes: 2, realBytes: 4, codeBytes: 2,
};

/** The header fields ctquant uses, as read, before any check. */
interface NiftiFields {
  dim: bigint[];
  datatype: number;
  voxOffset: number | bigint;
  pixdim: number[];
  slope: number;
  inter: number;
  forms: NiftiForms;
}

interface NiftiHeader {
  dims: [number, number, number];
  datatype: number;
  le: boolean;
  voxOffset: number;
  /** Bytes the file must hold: voxOffset + voxels × bytes per voxel. */
  need: number;
  fields: NiftiFields;
}

const real = (v: DataView, L: Layout, at: number, le: boolean) => (L.realBytes === 4 ? v.getFloat32(at, le) : v.getFloat64(at, le));

/** Reads the fields of a header whose layout and byte order are known (the buffer holds all of it). */
function readFields(v: DataView, L: Layout, le: boolean): NiftiFields {
  const code = (at: number) => (L.codeBytes === 2 ? v.getInt16(at, le) : v.getInt32(at, le));
  const reals = (at: number, n: number) => Array.from({ length: n }, (_, k) => real(v, L, at + k * L.realBytes, le));
  // dims as bigint: NIfTI-2 stores int64, which a Number cannot hold exactly.
  const dim = Array.from({ length: 8 }, (_, i) => (L.dimBytes === 2 ? BigInt(v.getInt16(L.dim + 2 * i, le)) : v.getBigInt64(L.dim + 8 * i, le)));
  const row = (r: number) => reals(L.srow + 4 * r * L.realBytes, 4);
  return {
    dim,
    datatype: v.getInt16(L.datatype, le),
    voxOffset: L.version === 1 ? v.getFloat32(L.voxOffset, le) : v.getBigInt64(L.voxOffset, le),
    pixdim: reals(L.pixdim, 8),
    slope: real(v, L, L.slope, le),
    inter: real(v, L, L.inter, le),
    forms: { qformCode: code(L.qformCode), sformCode: code(L.sformCode), quatern: reals(L.quatern, 3) as [number, number, number], srow: [row(0), row(1), row(2)] },
  };
}

/** Checks the 348-byte NIfTI-1 header (and the size limits) and returns what the body needs. */
function parseHeader(buf: Uint8Array, file: string, limits: Required<PixelLimits>): NiftiHeader {
  if (buf.length < 348) throw new UserError(`too short for a NIfTI-1 header (${buf.length} bytes)`, { file });
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let le = true;
  if (view.getInt32(0, true) !== 348) {
    if (view.getInt32(0, false) === 348) le = false;
    else if (view.getInt32(0, true) === 540 || view.getInt32(0, false) === 540) throw new UserError('NIfTI-2 is not supported; save as NIfTI-1', { file });
    else throw new UserError('not a NIfTI-1 file (sizeof_hdr is not 348)', { file });
  }
  const L = NIFTI1;
  const magic = String.fromCharCode(buf[344]!, buf[345]!, buf[346]!);
  if (magic !== 'n+1') throw new UserError(`unsupported NIfTI magic "${printable(magic)}" (only single-file n+1)`, { file });
  const fields = readFields(view, L, le);
  const dims = checkDims(fields.dim, file, limits);
  const type = TYPES[fields.datatype];
  if (!type) throw new UserError(`unsupported NIfTI datatype ${fields.datatype}`, { file });
  const voxOffset = checkVoxOffset(fields.voxOffset, L, file);
  return { dims, datatype: fields.datatype, le, voxOffset, need: voxOffset + dims[0] * dims[1] * dims[2] * type.bytes, fields };
}

/**
 * dim[0] (2..7), 3-D only, positive sizes, within --max-pixels / --max-voxels. In bigint, so that
 * no int64 size is rounded before it is compared; what passes fits a Number exactly.
 */
function checkDims(dim: bigint[], file: string, limits: Required<PixelLimits>): [number, number, number] {
  const ndim = dim[0]!;
  if (ndim < 2n || ndim > 7n) throw new UserError(`header dim[0] = ${ndim}, expected 2..7`, { file });
  const [x, y, z] = [dim[1]!, dim[2]!, ndim >= 3n ? dim[3]! : 1n];
  for (let i = 4; i <= Number(ndim); i++) if (dim[i] !== 1n) throw new UserError(`4-D or higher volume (dim[${i}] = ${dim[i]}); only 3-D volumes are supported`, { file });
  if (!(x > 0n && y > 0n && z > 0n)) throw new UserError(`header gives non-positive size ${x}×${y}×${z}`, { file });
  if (x * y > limits.maxPixels) throw new UserError(`slices are ${x}×${y} = ${x * y} pixels, more than --max-pixels ${limits.maxPixels}`, { file });
  if (x * y * z > limits.maxVoxels) throw new UserError(`volume is ${x}×${y}×${z} = ${x * y * z} voxels, more than --max-voxels ${limits.maxVoxels}`, { file });
  const sizes = [x, y, z].map(Number) as [number, number, number];
  if (!sizes.every(Number.isSafeInteger)) throw new UserError(`header size ${x}×${y}×${z} is past ${Number.MAX_SAFE_INTEGER}`, { file });
  return sizes;
}

/** vox_offset must point after the header (NaN, infinities and offsets inside it are refused); at most 2 GiB. */
function checkVoxOffset(field: number | bigint, L: Layout, file: string): number {
  const at = Number(field);
  if (!Number.isFinite(at) || at < L.size || at > 2 ** 31) {
    throw new UserError(`header vox_offset ${field} is not a byte offset after the ${L.size}-byte header`, { file });
  }
  // A float in NIfTI-1: a fraction is dropped.
  return Math.floor(at);
}

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;

/**
 * Inflates a .nii.gz without ever holding more than the header allows: first only enough for
 * the header (from growing prefixes of the compressed bytes; deflate expands at most ~1032:1),
 * then the whole stream capped at the byte count the header's dims give.
 */
function inflateBounded(bytes: Uint8Array, file: string, limits: Required<PixelLimits>): { buf: Uint8Array; header: NiftiHeader } {
  let head: Uint8Array = new Uint8Array(0);
  for (let take = 1024; head.length < 352; take *= 4) {
    try {
      head = gunzipSync(bytes.subarray(0, take), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: 64 * 2 ** 20 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw new UserError(`corrupt gzip data (${e instanceof Error ? e.message : String(e)})`, { file });
      break; // a prefix of 64 MiB certainly holds the header
    }
    if (take >= bytes.length) break;
  }
  if (head.length < 348) throw new UserError(`truncated gzip data: it inflates to ${head.length} bytes, less than a NIfTI-1 header`, { file });
  const header = parseHeader(head, file, limits);
  try {
    return { buf: gunzipSync(bytes, { maxOutputLength: header.need + 2 ** 20 }), header };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new UserError(`gzip data inflates to more than the ${header.need} bytes its header describes (a decompression bomb?)`, { file });
    }
    throw new UserError(`corrupt gzip data (${e instanceof Error ? e.message : String(e)})`, { file });
  }
}

/**
 * Parses NIfTI-1 bytes (gzip-compressed or not); a UserError naming `file` on anything wrong,
 * including sizes above `limits` (checked from the header before inflating or decoding) and
 * voxels that are NaN or infinite after scaling.
 */
export function parseNifti(bytes: Uint8Array, file: string, pixelLimits?: PixelLimits): NiftiVolume {
  const limits = limitsOf(pixelLimits);
  const { buf, header } = isGzip(bytes) ? inflateBounded(bytes, file, limits) : { buf: bytes, header: parseHeader(bytes, file, limits) };
  const { dims, datatype, le, voxOffset, need, fields } = header;
  const [x, y, z] = dims;
  const type = TYPES[datatype]!;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const count = x * y * z;
  if (need > buf.length) {
    throw new UserError(`header says ${x}×${y}×${z} ${type.name} voxels from byte ${voxOffset} (${need} bytes) but the data has ${buf.length} bytes`, { file });
  }
  // scl_slope 0 or not finite means no scaling (nifti1.h, nifti2.h); so does an intercept that is not finite.
  const slope = Number.isFinite(fields.slope) && fields.slope !== 0 ? fields.slope : 1;
  const intercept = Number.isFinite(fields.inter) ? fields.inter : 0;
  const raw = new Float64Array(count);
  const read = readerFor(datatype, view, le);
  for (let i = 0; i < count; i++) raw[i] = read(voxOffset + i * type.bytes);
  const data = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const v = raw[i]! * slope + intercept;
    data[i] = v;
    if (!Number.isFinite(data[i]!)) {
      throw new UserError(`voxel (${i % x}, ${Math.floor(i / x) % y}, ${Math.floor(i / (x * y))}) is ${Number.isNaN(v) ? 'NaN' : 'infinite'}`, { file });
    }
  }
  const pix = (i: number) => Math.abs(fields.pixdim[i]!) || 1;
  return { dims: [x, y, z], data, raw, spacing: [pix(1), pix(2), pix(3)], axes: niftiAxes(fields.forms) };
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

/** Reads a `.nii` or `.nii.gz` file; files larger than any volume within the limits are refused unread. */
export function readNifti(path: string, pixelLimits?: PixelLimits): NiftiVolume {
  const limits = limitsOf(pixelLimits);
  // 8 bytes a voxel (float64) plus header and extensions: no allowed volume is larger, compressed or not.
  const bytes = readRegularFile(path, 'NIfTI file', limits.maxVoxels * 8 + 16 * 2 ** 20);
  return parseNifti(bytes, path, limits);
}

/**
 * Encodes a 3-D NIfTI-1 (little-endian, single file, vox_offset 352): int16 for Int16Array,
 * uint8 for Uint8Array, float32 for Float32Array. Data is x fastest, then y, then z.
 */
export function encodeNifti1(dims: [number, number, number], data: Int16Array | Uint8Array | Float32Array, opts: NiftiWriteOptions = {}): Uint8Array {
  return encodeWith(NIFTI1, dims, data, opts);
}

export interface NiftiWriteOptions {
  slope?: number;
  intercept?: number;
  spacing?: [number, number, number];
  /** srow_x, srow_y, srow_z (sform_code 1, scanner anatomical): voxel (i, j, k, 1) → RAS mm. */
  sform?: [number[], number[], number[]];
}

function encodeWith(L: Layout, dims: [number, number, number], data: Int16Array | Uint8Array | Float32Array, opts: NiftiWriteOptions): Uint8Array {
  const [x, y, z] = dims;
  if (data.length !== x * y * z) throw new RangeError(`NIfTI data has ${data.length} voxels, expected ${x}×${y}×${z}`);
  const datatype = data instanceof Int16Array ? 4 : data instanceof Uint8Array ? 2 : 16;
  const bytes = TYPES[datatype]!.bytes;
  // The header, then 4 zero bytes (no extensions; both specs), then the voxels.
  const offset = L.size + 4;
  const out = new Uint8Array(offset + data.length * bytes);
  const v = new DataView(out.buffer);
  const setReal = (at: number, value: number) => (L.realBytes === 4 ? v.setFloat32(at, value, true) : v.setFloat64(at, value, true));
  const setCode = (at: number, value: number) => (L.codeBytes === 2 ? v.setInt16(at, value, true) : v.setInt32(at, value, true));
  v.setInt32(0, L.size, true);
  out.set(Array.from(L.magic, (c) => c.charCodeAt(0)), L.magicAt);
  [3, x, y, z, 1, 1, 1, 1].forEach((d, i) => (L.dimBytes === 2 ? v.setInt16(L.dim + 2 * i, d, true) : v.setBigInt64(L.dim + 8 * i, BigInt(d), true)));
  v.setInt16(L.datatype, datatype, true);
  v.setInt16(L.bitpix, bytes * 8, true);
  const spacing = opts.spacing ?? [1, 1, 1];
  [1, spacing[0], spacing[1], spacing[2]].forEach((p, i) => setReal(L.pixdim + L.realBytes * i, p));
  if (L.version === 1) v.setFloat32(L.voxOffset, offset, true);
  else v.setBigInt64(L.voxOffset, BigInt(offset), true);
  setReal(L.slope, opts.slope ?? 1);
  setReal(L.inter, opts.intercept ?? 0);
  if (opts.sform) {
    setCode(L.sformCode, 1);
    opts.sform.forEach((row, r) => row.forEach((value, c) => setReal(L.srow + L.realBytes * (4 * r + c), value)));
  }
  for (let i = 0; i < data.length; i++) {
    const at = offset + i * bytes;
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
