/**
 * Resampling a dataset to the experiment's image size: images with area averaging when
 * shrinking and linear interpolation when enlarging (each axis on its own), rounded back to
 * integer counts; masks with nearest neighbour so they stay binary.
 */
import type { CtDataset, CtSlice } from './types.js';

/** Sparse 1-D resampling weights: for each output index, source indices and weights summing to 1. */
interface Weights {
  index: Int32Array[];
  weight: Float32Array[];
}

function areaWeights(inN: number, outN: number): Weights {
  const scale = inN / outN;
  const index: Int32Array[] = [];
  const weight: Float32Array[] = [];
  for (let o = 0; o < outN; o++) {
    const lo = o * scale;
    const hi = lo + scale;
    const idx: number[] = [];
    const w: number[] = [];
    for (let s = Math.floor(lo); s < Math.min(inN, Math.ceil(hi)); s++) {
      const cover = Math.min(hi, s + 1) - Math.max(lo, s);
      if (cover > 1e-9) {
        idx.push(s);
        w.push(cover / scale);
      }
    }
    index.push(Int32Array.from(idx));
    weight.push(Float32Array.from(w));
  }
  return { index, weight };
}

function linearWeights(inN: number, outN: number): Weights {
  const scale = inN / outN;
  const index: Int32Array[] = [];
  const weight: Float32Array[] = [];
  for (let o = 0; o < outN; o++) {
    // Half-pixel centres; clamp at the borders.
    const x = Math.min(inN - 1, Math.max(0, (o + 0.5) * scale - 0.5));
    const s = Math.floor(x);
    const f = x - s;
    if (s + 1 < inN && f > 0) {
      index.push(Int32Array.of(s, s + 1));
      weight.push(Float32Array.of(1 - f, f));
    } else {
      index.push(Int32Array.of(s));
      weight.push(Float32Array.of(1));
    }
  }
  return { index, weight };
}

const weightsFor = (inN: number, outN: number) => (outN < inN ? areaWeights(inN, outN) : linearWeights(inN, outN));

/** H×W image (native counts) → outH×outW, area or linear per axis, rounded to integer counts. */
export function resizeImage(image: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  if (h === outH && w === outW) return image.slice();
  const wx = weightsFor(w, outW);
  const wy = weightsFor(h, outH);
  const tmp = new Float32Array(h * outW);
  for (let y = 0; y < h; y++) {
    for (let o = 0; o < outW; o++) {
      const idx = wx.index[o]!;
      const wt = wx.weight[o]!;
      let acc = 0;
      for (let k = 0; k < idx.length; k++) acc += image[y * w + idx[k]!]! * wt[k]!;
      tmp[y * outW + o] = acc;
    }
  }
  const out = new Float32Array(outH * outW);
  for (let o = 0; o < outH; o++) {
    const idx = wy.index[o]!;
    const wt = wy.weight[o]!;
    for (let x = 0; x < outW; x++) {
      let acc = 0;
      for (let k = 0; k < idx.length; k++) acc += tmp[idx[k]! * outW + x]! * wt[k]!;
      out[o * outW + x] = Math.round(acc);
    }
  }
  return out;
}

/** H×W mask → outH×outW by nearest neighbour (source pixel under each output pixel centre). */
export function resizeMask(mask: Uint8Array, h: number, w: number, outH: number, outW: number): Uint8Array {
  const out = new Uint8Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const sy = Math.min(h - 1, Math.floor(((y + 0.5) * h) / outH));
    for (let x = 0; x < outW; x++) out[y * outW + x] = mask[sy * w + Math.min(w - 1, Math.floor(((x + 0.5) * w) / outW))]!;
  }
  return out;
}

/** Every slice resized to size×size (or height×width); returns the same dataset when nothing changes. */
export function resizeDataset(ds: CtDataset, size: number | { height: number; width: number }): CtDataset {
  const { height, width } = typeof size === 'number' ? { height: size, width: size } : size;
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0)) throw new RangeError(`resize target must be positive integers, got ${height}×${width}`);
  if (height === ds.height && width === ds.width) return ds;
  const slices: CtSlice[] = ds.slices.map((s) => ({
    ...s,
    image: resizeImage(s.image, ds.height, ds.width, height, width),
    mask: resizeMask(s.mask, ds.height, ds.width, height, width),
  }));
  return { ...ds, height, width, slices };
}
