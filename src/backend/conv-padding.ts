/**
 * Geometry shared by the wasm and WebGPU input-gradient kernels: for stride 1, the input gradient
 * of a convolution is a forward convolution of dy with the rotated filter, padded as below.
 */

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
