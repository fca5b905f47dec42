/**
 * Ordered dither (Bayer 1973): the recursive Bayer index matrix of size 2^m covering the image,
 * cropped to rows×cols; a pixel is reduced when its index is among the round(b·n) smallest, so the
 * reduced pixels form the ordered-dither pattern of level b. The cropped indices are distinct, so
 * the count is exact; the order still breaks (impossible) ties by pixel index for determinism.
 */
import { levelsFromOrder, maskFromOrder, orderByScore } from './reduction-order.js';

/**
 * Bayer index matrix of size 2^m: M_1 = [0], M_2s = [[4M, 4M+2], [4M+3, 4M+1]]; row-major,
 * length 4^m, a permutation of 0..4^m − 1.
 */
export function bayerMatrix(m: number): Uint32Array {
  if (!Number.isInteger(m) || m < 0 || m > 15) throw new RangeError(`Bayer order m must be an integer in 0..15, got ${m}`);
  let size = 1;
  let M = Uint32Array.of(0);
  for (let step = 0; step < m; step++) {
    const next = new Uint32Array(4 * size * size);
    const s2 = 2 * size;
    for (let r = 0; r < size; r++) {
      for (let c = 0; c < size; c++) {
        const v = 4 * M[r * size + c]!;
        next[r * s2 + c] = v;
        next[r * s2 + c + size] = v + 2;
        next[(r + size) * s2 + c] = v + 3;
        next[(r + size) * s2 + c + size] = v + 1;
      }
    }
    M = next;
    size = s2;
  }
  return M;
}

/** Bayer indices of a rows×cols detector (row-major): the 2^m matrix with 2^m ≥ max(rows, cols), cropped. */
export function bayerIndices(rows: number, cols: number): Uint32Array {
  if (!(Number.isInteger(rows) && Number.isInteger(cols) && rows > 0 && cols > 0)) throw new RangeError(`size must be positive integers, got ${rows}×${cols}`);
  const m = Math.ceil(Math.log2(Math.max(rows, cols)));
  const size = 2 ** m;
  const M = bayerMatrix(m);
  const out = new Uint32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = M[r * size + c]!;
  return out;
}

/** The dither's reduction order: pixels by Bayer index ascending (ties, none here, by index). */
export function ditherOrder(rows: number, cols: number): Int32Array {
  return orderByScore(bayerIndices(rows, cols));
}

/** Ordered-dither hardware mask, row-major rows×cols, 1 = reduced: exactly round(budget·rows·cols) ones. */
export function ditherLayout(rows: number, cols: number, budget: number): Uint8Array {
  return maskFromOrder(ditherOrder(rows, cols), budget);
}

/** Ordered-dither multi-level layout: ADC bits per pixel (levelBits = [native, ...modes]), Σ ≤ budgetBits·n. */
export function ditherLevelLayout(rows: number, cols: number, levelBits: readonly number[], budgetBits: number): Uint8Array {
  return levelsFromOrder(ditherOrder(rows, cols), levelBits, budgetBits);
}
