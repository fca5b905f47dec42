/**
 * Geometry shared by the wasm and WebGPU training kernels: the padding and the filter that turn a
 * stride-1 input gradient into a forward convolution, and the [outer, inner] view of a sum over
 * leading axes.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * Explicit padding (NHWC) that turns a stride-1 input gradient into a forward conv of dy, or null
 * when it cannot (negative padding: valid convolutions that ignore trailing rows).
 */
export function backpropInputPadding(
  inHeight: number, inWidth: number, outHeight: number, outWidth: number,
  filterHeight: number, filterWidth: number, padTop: number, padLeft: number,
): [[number, number], [number, number], [number, number], [number, number]] | null {
  const top = filterHeight - 1 - padTop;
  const left = filterWidth - 1 - padLeft;
  const bottom = inHeight - outHeight + padTop;
  const right = inWidth - outWidth + padLeft;
  if (Math.min(top, left, bottom, right) < 0) return null;
  return [[0, 0], [top, bottom], [left, right], [0, 0]];
}

/**
 * The filter of a stride-1 input gradient as a forward conv: W [...spatial, Ci, Co] (`taps` =
 * the product of the spatial sizes, 2D or 3D) rotated 180° in every spatial axis and transposed,
 * out[t, co, ci] = W[taps − 1 − t, ci, co] (reversing every spatial axis reverses the flattened
 * tap index), in one pass. Why ours: tfjs-backend-wasm's Reverse + Transpose took 31 + 8 ms for a
 * 3×3×256×256 filter (measured in a 64² U-Net step, where the convolution itself took 6 ms).
 */
export function rotatedSwappedFilter(w: Float32Array, out: Float32Array, taps: number, Ci: number, Co: number): void {
  if (w.length !== taps * Ci * Co || out.length !== w.length) {
    throw new RangeError(`filter of ${w.length} and output of ${out.length} floats for ${taps} taps × ${Ci} × ${Co}`);
  }
  const plane = Ci * Co;
  for (let tap = 0; tap < taps; tap++) {
    const from = (taps - 1 - tap) * plane;
    const to = tap * plane;
    for (let ci = 0; ci < Ci; ci++) {
      const row = from + ci * Co;
      for (let co = 0; co < Co; co++) out[to + co * Ci + ci] = w[row + co]!;
    }
  }
}

/** A sum over leading axes [0, k) seen as column sums of an [outer, inner] matrix. */
export interface LeadingReduction {
  outer: number;
  inner: number;
  /** The result's shape (keepDims keeps the reduced axes as 1). */
  outShape: number[];
}

/**
 * The [outer, inner] view when `axis` are exactly the leading axes [0, k) with 0 < k < rank (every
 * bias gradient: dy [B, H, W, C] over 0, 1, 2); null for any other reduction.
 */
export function leadingReduction(shape: number[], axis: number | number[], keepDims: boolean): LeadingReduction | null {
  const axes = [...new Set(tf.util.parseAxisParam(axis, shape))].sort((p, q) => p - q);
  if (!(axes.length > 0 && axes.length < shape.length && axes.every((a, i) => a === i))) return null;
  const kept = shape.slice(axes.length);
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  return { outer: size(shape.slice(0, axes.length)), inner: size(kept), outShape: keepDims ? [...axes.map(() => 1), ...kept] : kept };
}
