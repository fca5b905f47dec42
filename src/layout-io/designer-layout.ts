/**
 * A designer's own layout (`--layout FILE`), read into the detector's ADC layout at the training size:
 * - `.ctql`: the project's layout file (parser: src/report/layoutFile.ts; it belongs at this level and
 *   moves here in the wiring phase);
 * - `.csv`: rows of integers, one per pixel;
 * - `.png`: a greyscale image, one sample per pixel.
 * A CSV or PNG holds either a hardware mask or kept bits per pixel:
 * - mask: the values are 0 and at most one nonzero value v (0/1, 0/255), or all 1: 0 = native,
 *   v = reduced to the profile's lowest mode (the mode a fraction budget switches pixels to);
 * - kept bits: anything else (so a uniform map such as all 8 is "every pixel at 8 bits"); every value
 *   must be nativeBits or one of the profile's modes. (All 1s reads as "every pixel reduced", the
 *   same as kept bits 1 when 1 is the lowest mode.)
 * A map of another size is resampled to the training size by nearest neighbour (data/resize.ts
 * resizeMask) when its aspect ratio matches; every problem is a one-line UserError naming the file.
 */
import { extname } from 'node:path';
import { UserError } from '../errors.js';
import { colourWhere, readGreyImage } from '../data/png.js';
import { DEFAULT_MAX_PIXELS } from '../data/limits.js';
import { readRegularFile } from '../util/fs-safe.js';
import { resizeMask } from '../data/resize.js';
import { readLayoutFile, type AdcLayout } from './layout-file.js';

/** The detector a layout must fit: the training image size and the profile's bit depths. */
export interface LayoutTarget {
  rows: number;
  cols: number;
  nativeBits: number;
  /** Reduced modes (kept bits), descending, each < nativeBits. */
  modes: readonly number[];
}

/** A per-pixel value map as read from a CSV or PNG, before interpretation. */
export interface ValueMap {
  rows: number;
  cols: number;
  /** Row-major rows×cols, non-negative integers. */
  values: Uint32Array;
}

/** Parses CSV text (rows of integers separated by commas, semicolons, tabs or spaces; blank lines ignored). */
export function parseLayoutCsv(text: string, file: string): ValueMap {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (lines.length === 0) throw new UserError('layout CSV is empty', { file });
  const rowsOfValues = lines.map((line, r) =>
    line.split(/\s*[,;\t ]\s*/).map((cell, c) => {
      if (!/^\d+$/.test(cell)) throw new UserError(`layout CSV row ${r + 1}, column ${c + 1}: ${JSON.stringify(cell)} is not a non-negative integer`, { file });
      // The map holds 32-bit values: a larger one would wrap (2^32 + 8 read as 8) or become Infinity.
      const v = Number(cell);
      if (v > 0xffffffff) throw new UserError(`layout CSV row ${r + 1}, column ${c + 1}: ${cell.length > 20 ? `${cell.slice(0, 17)}...` : cell} is too large for bits or a mask value`, { file });
      return v;
    }),
  );
  const cols = rowsOfValues[0]!.length;
  const ragged = rowsOfValues.findIndex((row) => row.length !== cols);
  if (ragged >= 0) throw new UserError(`layout CSV row ${ragged + 1} has ${rowsOfValues[ragged]!.length} values, row 1 has ${cols}`, { file });
  return { rows: rowsOfValues.length, cols, values: Uint32Array.from(rowsOfValues.flat()) };
}

/**
 * Interprets a value map as a layout for `target` (mask or kept bits, see the module comment) and
 * resamples it to target.rows×target.cols by nearest neighbour.
 */
export function layoutFromValueMap(map: ValueMap, target: LayoutTarget, file: string): AdcLayout {
  checkTarget(target);
  const { rows, cols, values } = map;
  if (values.length !== rows * cols || rows < 1 || cols < 1) throw new UserError(`layout map has ${values.length} values for ${rows}×${cols}`, { file });
  const distinct = [...new Set(values)].sort((a, b) => a - b);
  const isMask = (distinct.length <= 2 && distinct[0] === 0) || (distinct.length === 1 && distinct[0] === 1);
  const lowest = target.modes[target.modes.length - 1]!;
  const allowed = new Set([target.nativeBits, ...target.modes]);
  const bits = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (isMask) {
      bits[i] = v === 0 ? target.nativeBits : lowest;
    } else {
      if (!allowed.has(v)) {
        throw new UserError(
          `layout map pixel (${Math.floor(i / cols)}, ${i % cols}) is ${v}: neither a 0/1 mask nor kept bits (${[target.nativeBits, ...target.modes].join(', ')})`,
          { file },
        );
      }
      bits[i] = v;
    }
  }
  return resampleLayout({ rows, cols, nativeBits: target.nativeBits, modes: [...target.modes], bits }, target, file);
}

/** A layout at another size → target size by nearest neighbour; its bit depths must fit the target's. */
export function resampleLayout(layout: AdcLayout, target: LayoutTarget, file: string): AdcLayout {
  checkTarget(target);
  if (layout.nativeBits !== target.nativeBits) {
    throw new UserError(`layout is for a ${layout.nativeBits}-bit ADC, the profile's native depth is ${target.nativeBits} bits`, { file });
  }
  const allowed = new Set([target.nativeBits, ...target.modes]);
  const foreign = [...new Set(layout.bits)].filter((b) => !allowed.has(b)).sort((a, b) => b - a);
  if (foreign.length > 0) throw new UserError(`layout uses ${foreign.join(', ')}-bit pixels, the profile's modes are ${target.modes.join(', ')}`, { file });
  if (layout.rows * target.cols !== layout.cols * target.rows) {
    throw new UserError(`layout is ${layout.rows}×${layout.cols}, which does not scale to the training size ${target.rows}×${target.cols} (aspect ratio differs)`, { file });
  }
  const bits = resizeMask(layout.bits, layout.rows, layout.cols, target.rows, target.cols);
  return { rows: target.rows, cols: target.cols, nativeBits: target.nativeBits, modes: [...target.modes], bits };
}

function checkTarget(target: LayoutTarget): void {
  if (target.modes.length === 0) throw new RangeError('a layout target needs at least one reduced mode');
}

/** Largest layout CSV read: a map of DEFAULT_MAX_PIXELS values (the PNG limit) at 4 bytes a value. */
const MAX_CSV_BYTES = 4 * DEFAULT_MAX_PIXELS;

/** Reads `--layout FILE` (.ctql, .csv or .png) as a layout at the target size; UserError naming the file on any problem. */
export async function readDesignerLayout(file: string, target: LayoutTarget): Promise<AdcLayout> {
  const ext = extname(file).toLowerCase();
  if (ext === '.ctql') return resampleLayout(readLayoutFile(file), target, file);
  if (ext === '.csv') {
    // A FIFO would block forever; a map is held to the PNG pixel limit, a few bytes a value.
    const text = readRegularFile(file, 'layout file', MAX_CSV_BYTES).toString('utf8');
    return layoutFromValueMap(parseLayoutCsv(text, file), target, file);
  }
  if (ext === '.png') {
    const img = await readGreyImage(file);
    if (img.colourAt !== undefined) throw new UserError(`layout PNG is in colour (${colourWhere(img.colourAt, img.width)}); save it as greyscale`, { file });
    return layoutFromValueMap({ rows: img.height, cols: img.width, values: Uint32Array.from(img.data) }, target, file);
  }
  throw new UserError(`layout file must end in .ctql, .csv or .png (got ${JSON.stringify(ext || 'no extension')})`, { file });
}

/** 0/1 hardware mask of a layout (1 = pixel below native bits), row-major. */
export function reducedMask(layout: Pick<AdcLayout, 'nativeBits' | 'bits'>): Uint8Array {
  return Uint8Array.from(layout.bits, (b) => (b < layout.nativeBits ? 1 : 0));
}
