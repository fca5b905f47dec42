/**
 * NIfTI-1 and NIfTI-2 volumes (single-file `.nii`, `.nii.gz`): a small reader (either byte order,
 * the common voxel types, scl_slope/scl_inter applied) and a writer for round trips and test
 * fixtures. NIfTI-2 (540-byte header: int64 dims, float64 fields) goes through the same checks,
 * scaling and orientation as NIfTI-1; only the field offsets and widths differ. A 3-D volume
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

type RawArray = Uint8Array | Int8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array;

/** The datatypes read; each voxel's raw value is kept in an array of its own type, which holds it exactly (an int16 CT volume: 2 bytes a voxel, not 8). */
const TYPES: Record<number, { bytes: number; name: string; array: new (n: number) => RawArray }> = {
  2: { bytes: 1, name: 'uint8', array: Uint8Array },
  4: { bytes: 2, name: 'int16', array: Int16Array },
  8: { bytes: 4, name: 'int32', array: Int32Array },
  16: { bytes: 4, name: 'float32', array: Float32Array },
  64: { bytes: 8, name: 'float64', array: Float64Array },
  256: { bytes: 1, name: 'int8', array: Int8Array },
  512: { bytes: 2, name: 'uint16', array: Uint16Array },
  768: { bytes: 4, name: 'uint32', array: Uint32Array },
};

/**
 * Where the header fields ctquant uses sit and how wide they are (nifti1.h, nifti2.h): the checks
 * and the writer go through this table, so both versions share one code path.
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

/** NIfTI-2: the same fields reordered and widened (int64 dims and vox_offset, float64 reals, int32 codes). */
const NIFTI2: Layout = {
  version: 2, size: 540, magicAt: 4, magic: 'n+2\0\r\n\x1a\n',
  dim: 16, datatype: 12, bitpix: 14, pixdim: 104, voxOffset: 168, slope: 176, inter: 184,
  qformCode: 344, sformCode: 348, quatern: 352, srow: 400,
  dimBytes: 8, realBytes: 8, codeBytes: 4,
};

/** The layout and byte order sizeof_hdr gives (348: NIfTI-1, 540: NIfTI-2, either byte order); null for neither. */
function layoutOf(buf: Uint8Array): { layout: Layout; le: boolean } | null {
  if (buf.length < 4) return null;
  const view = new DataView(buf.buffer, buf.byteOffset, 4);
  for (const layout of [NIFTI1, NIFTI2]) {
    for (const le of [true, false]) if (view.getInt32(0, le) === layout.size) return { layout, le };
  }
  return null;
}

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

/** Checks a NIfTI-1 or NIfTI-2 header (and the size limits) and returns what the body needs. */
function parseHeader(buf: Uint8Array, file: string, limits: Required<PixelLimits>): NiftiHeader {
  const found = layoutOf(buf);
  if (!found) {
    if (buf.length < 348) throw new UserError(`too short for a NIfTI-1 header (${buf.length} bytes)`, { file });
    throw new UserError('not a NIfTI-1 or NIfTI-2 file (sizeof_hdr is neither 348 nor 540)', { file });
  }
  const { layout: L, le } = found;
  if (buf.length < L.size) throw new UserError(`too short for a NIfTI-${L.version} header (${buf.length} bytes)`, { file });
  checkMagic(buf, L, file);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const fields = readFields(view, L, le);
  const dims = checkDims(fields.dim, file, limits);
  const type = TYPES[fields.datatype];
  if (!type) throw new UserError(`unsupported NIfTI datatype ${fields.datatype}`, { file });
  const voxOffset = checkVoxOffset(fields.voxOffset, L, file);
  return { dims, datatype: fields.datatype, le, voxOffset, need: voxOffset + dims[0] * dims[1] * dims[2] * type.bytes, fields };
}

/**
 * Single-file magic only ("n+1", "n+2"; "ni1" / "ni2" name a separate .img). NIfTI-2 follows "n+2"
 * with \0\r\n\x1a\n, as PNG does, so that a file mangled by a text-mode transfer is caught (nifti2.h).
 */
function checkMagic(buf: Uint8Array, L: Layout, file: string): void {
  const text = (n: number) => String.fromCharCode(...buf.subarray(L.magicAt, L.magicAt + n));
  if (text(3) !== L.magic.slice(0, 3)) throw new UserError(`unsupported NIfTI magic "${printable(text(3))}" (only single-file ${L.magic.slice(0, 3)})`, { file });
  if (L.version === 2 && text(8) !== L.magic) {
    throw new UserError(`NIfTI-2 magic "${printable(text(8))}" should be "${printable(L.magic)}" (line ends changed in a text-mode transfer?)`, { file });
  }
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
  // The largest header (NIfTI-2, 540 bytes) and its 4 extension bytes.
  for (let take = 1024; head.length < NIFTI2.size + 4; take *= 4) {
    try {
      head = gunzipSync(bytes.subarray(0, take), { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: 64 * 2 ** 20 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw new UserError(`corrupt gzip data (${e instanceof Error ? e.message : String(e)})`, { file });
      break; // a prefix of 64 MiB certainly holds the header
    }
    if (take >= bytes.length) break;
  }
  const L = layoutOf(head)?.layout ?? NIFTI1;
  if (head.length < L.size) throw new UserError(`truncated gzip data: it inflates to ${head.length} bytes, less than a NIfTI-${L.version} header`, { file });
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
 * The number of slices (z) a NIfTI file's header gives, from the file's first bytes only (a .nii.gz
 * prefix is inflated as far as it goes, at most 8 MiB): for counting a folder before loading it.
 * Undefined when the bytes do not parse or break `limits`; the loader then says why.
 */
export function niftiSliceCount(prefix: Uint8Array, pixelLimits?: PixelLimits): number | undefined {
  try {
    const head = isGzip(prefix) ? gunzipSync(prefix, { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: 8 * 2 ** 20 }) : prefix;
    return parseHeader(head, '', limitsOf(pixelLimits)).dims[2];
  } catch {
    return undefined;
  }
}

/**
 * Parses NIfTI-1 or NIfTI-2 bytes (gzip-compressed or not); a UserError naming `file` on anything wrong,
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
  const raw = new type.array(count);
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

export interface NiftiWriteOptions {
  slope?: number;
  intercept?: number;
  spacing?: [number, number, number];
  /** srow_x, srow_y, srow_z (sform_code 1, scanner anatomical): voxel (i, j, k, 1) → RAS mm. */
  sform?: [number[], number[], number[]];
  /** Big-endian header and voxels (little-endian by default); readers take either. */
  bigEndian?: boolean;
}

/**
 * Encodes a 3-D NIfTI-1 (single file, vox_offset 352): int16 for Int16Array,
 * uint8 for Uint8Array, float32 for Float32Array. Data is x fastest, then y, then z.
 */
export function encodeNifti1(dims: [number, number, number], data: Int16Array | Uint8Array | Float32Array, opts: NiftiWriteOptions = {}): Uint8Array {
  return encodeWith(NIFTI1, dims, data, opts);
}

/** The same volume as a NIfTI-2 (540-byte header, vox_offset 544), e.g. to check that both versions read alike. */
export function encodeNifti2(dims: [number, number, number], data: Int16Array | Uint8Array | Float32Array, opts: NiftiWriteOptions = {}): Uint8Array {
  return encodeWith(NIFTI2, dims, data, opts);
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
  const le = !opts.bigEndian;
  const setReal = (at: number, value: number) => (L.realBytes === 4 ? v.setFloat32(at, value, le) : v.setFloat64(at, value, le));
  const setCode = (at: number, value: number) => (L.codeBytes === 2 ? v.setInt16(at, value, le) : v.setInt32(at, value, le));
  v.setInt32(0, L.size, le);
  out.set(Array.from(L.magic, (c) => c.charCodeAt(0)), L.magicAt);
  [3, x, y, z, 1, 1, 1, 1].forEach((d, i) => (L.dimBytes === 2 ? v.setInt16(L.dim + 2 * i, d, le) : v.setBigInt64(L.dim + 8 * i, BigInt(d), le)));
  v.setInt16(L.datatype, datatype, le);
  v.setInt16(L.bitpix, bytes * 8, le);
  const spacing = opts.spacing ?? [1, 1, 1];
  [1, spacing[0], spacing[1], spacing[2]].forEach((p, i) => setReal(L.pixdim + L.realBytes * i, p));
  if (L.version === 1) v.setFloat32(L.voxOffset, offset, le);
  else v.setBigInt64(L.voxOffset, BigInt(offset), le);
  setReal(L.slope, opts.slope ?? 1);
  setReal(L.inter, opts.intercept ?? 0);
  if (opts.sform) {
    setCode(L.sformCode, 1);
    opts.sform.forEach((row, r) => row.forEach((value, c) => setReal(L.srow + L.realBytes * (4 * r + c), value)));
  }
  for (let i = 0; i < data.length; i++) {
    const at = offset + i * bytes;
    if (datatype === 4) v.setInt16(at, data[i]!, le);
    else if (datatype === 2) v.setUint8(at, data[i]!);
    else v.setFloat32(at, data[i]!, le);
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
