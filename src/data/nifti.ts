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
import { niftiAxes, type Direction } from './orientation.js';

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

interface NiftiHeader {
  dims: [number, number, number];
  datatype: number;
  le: boolean;
  voxOffset: number;
  /** Bytes the file must hold: voxOffset + voxels × bytes per voxel. */
  need: number;
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
  const magic = String.fromCharCode(buf[344]!, buf[345]!, buf[346]!);
  if (magic !== 'n+1') throw new UserError(`unsupported NIfTI magic "${printable(magic)}" (only single-file n+1)`, { file });
  const dim = Array.from({ length: 8 }, (_, i) => view.getInt16(40 + 2 * i, le));
  const ndim = dim[0]!;
  if (ndim < 2 || ndim > 7) throw new UserError(`header dim[0] = ${ndim}, expected 2..7`, { file });
  const [x, y, z] = [dim[1]!, dim[2]!, ndim >= 3 ? dim[3]! : 1];
  for (let i = 4; i <= ndim; i++) if (dim[i] !== 1) throw new UserError(`4-D or higher volume (dim[${i}] = ${dim[i]}); only 3-D volumes are supported`, { file });
  if (!(x > 0 && y > 0 && z > 0)) throw new UserError(`header gives non-positive size ${x}×${y}×${z}`, { file });
  if (x * y > limits.maxPixels) throw new UserError(`slices are ${x}×${y} = ${x * y} pixels, more than --max-pixels ${limits.maxPixels}`, { file });
  if (x * y * z > limits.maxVoxels) throw new UserError(`volume is ${x}×${y}×${z} = ${x * y * z} voxels, more than --max-voxels ${limits.maxVoxels}`, { file });
  const datatype = view.getInt16(70, le);
  const type = TYPES[datatype];
  if (!type) throw new UserError(`unsupported NIfTI datatype ${datatype}`, { file });
  const offsetField = view.getFloat32(108, le);
  // vox_offset is a float in NIfTI-1; NaN, infinities and offsets inside the header are refused.
  if (!Number.isFinite(offsetField) || offsetField < 348 || offsetField > 2 ** 31) {
    throw new UserError(`header vox_offset ${offsetField} is not a byte offset after the 348-byte header`, { file });
  }
  const voxOffset = Math.floor(offsetField);
  return { dims: [x, y, z], datatype, le, voxOffset, need: voxOffset + x * y * z * type.bytes };
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
  const { dims, datatype, le, voxOffset, need } = header;
  const [x, y, z] = dims;
  const type = TYPES[datatype]!;
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const count = x * y * z;
  if (need > buf.length) {
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
  for (let i = 0; i < count; i++) {
    const v = raw[i]! * slope + intercept;
    data[i] = v;
    if (!Number.isFinite(data[i]!)) {
      throw new UserError(`voxel (${i % x}, ${Math.floor(i / x) % y}, ${Math.floor(i / (x * y))}) is ${Number.isNaN(v) ? 'NaN' : 'infinite'}`, { file });
    }
  }
  const pix = (i: number) => Math.abs(view.getFloat32(76 + 4 * i, le)) || 1;
  return { dims: [x, y, z], data, raw, spacing: [pix(1), pix(2), pix(3)], axes: niftiAxes(buf.subarray(0, 348)) };
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
export function encodeNifti1(
  dims: [number, number, number],
  data: Int16Array | Uint8Array | Float32Array,
  opts: { slope?: number; intercept?: number; spacing?: [number, number, number]; sform?: [number[], number[], number[]] } = {},
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
  if (opts.sform) {
    // sform_code 1 (scanner anatomical) and srow_x, srow_y, srow_z: voxel (i, j, k, 1) → RAS mm.
    v.setInt16(254, 1, true);
    opts.sform.forEach((row, r) => row.forEach((value, c) => v.setFloat32(280 + 16 * r + 4 * c, value, true)));
  }
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
