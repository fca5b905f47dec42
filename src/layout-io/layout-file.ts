/**
 * `.ctql`: the compact per-pixel ADC layout a detector team loads (format in docs/layout-format.md).
 * Little-endian: magic "CTQL", version, encoding (0 raw, 1 run-length per row), nativeBits,
 * mode count, rows, cols, modes, payload, CRC-32 of everything before it.
 */
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { crc32 } from '../util/crc32.js';
import { readRegularFile } from '../util/fs-safe.js';

export const LAYOUT_MAGIC = 'CTQL';
export const LAYOUT_VERSION = 1;
const HEADER_BYTES = 16;
/**
 * Largest rows or cols a file may claim: the detector profile schema's largest geometry. A
 * run-length file states its size in 30 bytes, so without it a tiny file could ask for 4 GB.
 */
export const MAX_LAYOUT_SIDE = 16384;

/** The ADC bit depth of every readout pixel of a detector. */
export interface AdcLayout {
  rows: number;
  cols: number;
  nativeBits: number;
  /** Reduced modes (kept bits), descending, each < nativeBits. */
  modes: number[];
  /** Row-major rows×cols: ADC bits of each pixel, nativeBits or one of `modes`. */
  bits: Uint8Array;
}

export type LayoutEncoding = 'raw' | 'rle' | 'auto';

/** Builds a layout from a 0/1 hardware mask (1 = pixel switched to `reducedBits`), row-major. */
export function layoutFromMask(mask: ArrayLike<number>, rows: number, cols: number, nativeBits: number, reducedBits: number): AdcLayout {
  if (mask.length !== rows * cols) throw new RangeError(`layout mask has ${mask.length} values, expected ${rows}×${cols}`);
  const bits = new Uint8Array(rows * cols);
  for (let i = 0; i < bits.length; i++) bits[i] = mask[i] ? reducedBits : nativeBits;
  return { rows, cols, nativeBits, modes: [reducedBits], bits };
}

/** Checks the layout's invariants; throws RangeError naming the first violation. */
export function checkLayout(layout: AdcLayout): void {
  const { rows, cols, nativeBits, modes, bits } = layout;
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1 || rows > 0xffffffff || cols > 0xffffffff) {
    throw new RangeError(`layout size ${rows}×${cols} is not a positive integer size`);
  }
  if (!Number.isInteger(nativeBits) || nativeBits < 1 || nativeBits > 32) throw new RangeError(`nativeBits ${nativeBits} not in 1..32`);
  if (modes.length > 255) throw new RangeError('more than 255 modes');
  for (let i = 0; i < modes.length; i++) {
    const m = modes[i]!;
    if (!Number.isInteger(m) || m < 1 || m >= nativeBits) throw new RangeError(`mode ${m} must be an integer in 1..${nativeBits - 1}`);
    if (i > 0 && m >= modes[i - 1]!) throw new RangeError('modes must be strictly descending');
  }
  if (bits.length !== rows * cols) throw new RangeError(`layout has ${bits.length} pixels, expected ${rows}×${cols}`);
  const allowed = new Set([nativeBits, ...modes]);
  for (let i = 0; i < bits.length; i++) {
    if (!allowed.has(bits[i]!)) {
      throw new RangeError(`pixel (${Math.floor(i / cols)}, ${i % cols}) has ${bits[i]} bits, not native or a mode`);
    }
  }
}

/** Serialises a layout; 'auto' (default) picks whichever of raw and run-length is smaller. */
export function encodeLayout(layout: AdcLayout, encoding: LayoutEncoding = 'auto'): Uint8Array {
  checkLayout(layout);
  const { rows, cols, bits } = layout;
  const runs: Array<Array<[number, number]>> = [];
  let rleBytes = 0;
  if (encoding !== 'raw') {
    for (let r = 0; r < rows; r++) {
      const row: Array<[number, number]> = [];
      let start = 0;
      for (let c = 1; c <= cols; c++) {
        if (c === cols || bits[r * cols + c] !== bits[r * cols + start]) {
          row.push([c - start, bits[r * cols + start]!]);
          start = c;
        }
      }
      runs.push(row);
      rleBytes += 4 + 5 * row.length;
    }
  }
  const useRle = encoding === 'rle' || (encoding === 'auto' && rleBytes < rows * cols);
  const payload = useRle ? rleBytes : rows * cols;
  const out = new Uint8Array(HEADER_BYTES + layout.modes.length + payload + 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < 4; i++) out[i] = LAYOUT_MAGIC.charCodeAt(i);
  out[4] = LAYOUT_VERSION;
  out[5] = useRle ? 1 : 0;
  out[6] = layout.nativeBits;
  out[7] = layout.modes.length;
  view.setUint32(8, rows, true);
  view.setUint32(12, cols, true);
  let p = HEADER_BYTES;
  for (const m of layout.modes) out[p++] = m;
  if (useRle) {
    for (const row of runs) {
      view.setUint32(p, row.length, true);
      p += 4;
      for (const [length, b] of row) {
        view.setUint32(p, length, true);
        out[p + 4] = b;
        p += 5;
      }
    }
  } else {
    out.set(bits, p);
    p += bits.length;
  }
  view.setUint32(p, crc32(out.subarray(0, p)), true);
  return out;
}

/** Parses a `.ctql` file's bytes; throws UserError (naming `source`) on anything malformed. */
export function decodeLayout(bytes: Uint8Array, source?: string): AdcLayout {
  const fail = (msg: string): never => {
    throw new UserError(`not a valid layout file: ${msg}`, { file: source });
  };
  if (bytes.length < HEADER_BYTES + 4) fail(`only ${bytes.length} bytes`);
  const magic = String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!);
  if (magic !== LAYOUT_MAGIC) fail(`magic is ${JSON.stringify(magic)}, expected "${LAYOUT_MAGIC}"`);
  if (bytes[4] !== LAYOUT_VERSION) fail(`version ${bytes[4]} (this reader knows version ${LAYOUT_VERSION})`);
  const encoding = bytes[5]!;
  if (encoding !== 0 && encoding !== 1) fail(`unknown encoding ${encoding}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stored = view.getUint32(bytes.length - 4, true);
  if (stored !== crc32(bytes.subarray(0, bytes.length - 4))) fail('CRC-32 mismatch (file damaged or truncated)');
  const nativeBits = bytes[6]!;
  const modeCount = bytes[7]!;
  const rows = view.getUint32(8, true);
  const cols = view.getUint32(12, true);
  if (rows > MAX_LAYOUT_SIDE || cols > MAX_LAYOUT_SIDE) fail(`size ${rows}×${cols} is larger than any detector (${MAX_LAYOUT_SIDE}×${MAX_LAYOUT_SIDE} at most)`);
  const end = bytes.length - 4;
  let p = HEADER_BYTES;
  if (p + modeCount > end) fail('header cut short');
  const modes = Array.from(bytes.subarray(p, p + modeCount));
  p += modeCount;
  const n = rows * cols;
  if (encoding === 0 && end - p !== n) fail(`raw payload has ${end - p} bytes, expected ${rows}×${cols}`);
  if (encoding === 1 && end - p < 4 * rows) fail('run-length payload cut short');
  const bits = new Uint8Array(n);
  if (encoding === 0) {
    bits.set(bytes.subarray(p, end));
  } else {
    for (let r = 0; r < rows; r++) {
      if (p + 4 > end) fail(`row ${r}: cut short`);
      const count = view.getUint32(p, true);
      p += 4;
      let c = 0;
      for (let k = 0; k < count; k++) {
        if (p + 5 > end) fail(`row ${r}: cut short`);
        const length = view.getUint32(p, true);
        const b = bytes[p + 4]!;
        p += 5;
        if (length === 0 || c + length > cols) fail(`row ${r}: runs do not add up to ${cols} columns`);
        bits.fill(b, r * cols + c, r * cols + c + length);
        c += length;
      }
      if (c !== cols) fail(`row ${r}: runs cover ${c} of ${cols} columns`);
    }
    if (p !== end) fail(`${end - p} unexpected bytes after the last row`);
  }
  const layout: AdcLayout = { rows, cols, nativeBits, modes, bits };
  try {
    checkLayout(layout);
  } catch (e) {
    fail((e as Error).message);
  }
  return layout;
}

/** Writes a layout atomically to `path`. */
export function writeLayoutFile(path: string, layout: AdcLayout, encoding: LayoutEncoding = 'auto'): void {
  writeFileAtomic(path, encodeLayout(layout, encoding));
}

/** Reads and checks a `.ctql` file. */
export function readLayoutFile(path: string): AdcLayout {
  // readRegularFile: a FIFO or device would block or never end; a read failure is one line.
  return decodeLayout(readRegularFile(path, 'layout file'), path);
}

/** CRC-32 as zlib and PNG use it (moved to util/crc32.ts; re-exported for existing callers). */
export { crc32 };
