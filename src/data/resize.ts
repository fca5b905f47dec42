/**
 * Resampling a dataset to the experiment's image size: images with area averaging when
 * shrinking and linear interpolation when enlarging (each axis on its own), rounded back to
 * integer counts; masks with nearest neighbour so they stay binary.
 *
 * Aspect ratio (`fit`): `stretch` (the default, the original behaviour) resamples each axis on
 * its own; `pad` first centres the image in a frame of the target's aspect ratio, filling with the
 * image's minimum (its air / outside-the-field value, in native counts) and the mask with 0;
 * `crop` first takes the centred region of the target's aspect ratio. Odd leftovers go to the
 * bottom / right (offset = floor(difference / 2)).
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

export type Fit = 'stretch' | 'pad' | 'crop';
export const FITS: readonly Fit[] = ['stretch', 'pad', 'crop'];

/**
 * The size every slice is fitted to as a loader reads it (`fitTo` of the loaders): parts of a
 * folder with different sizes (PNG slices, NIfTI volumes, DICOM series) then make one dataset, and
 * only the fitted slices are kept in memory.
 */
export interface FitTarget {
  height: number;
  width: number;
  fit: Fit;
}

/**
 * The frame an h×w image is placed in (pad) or cut from (crop) before resampling to outH×outW,
 * with the same aspect ratio as the target: frame size and where the image's (0,0) lands in it
 * (negative for crop: the frame starts inside the image).
 */
export function fitFrame(h: number, w: number, outH: number, outW: number, fit: Fit): { height: number; width: number; top: number; left: number } {
  if (fit === 'stretch' || h * outW === w * outH) return { height: h, width: w, top: 0, left: 0 };
  // Taller than the target (relative to width): pad widens, crop shortens.
  const taller = h * outW > w * outH;
  const frame =
    fit === 'pad'
      ? taller ? { height: h, width: Math.round((h * outW) / outH) } : { height: Math.round((w * outH) / outW), width: w }
      : taller ? { height: Math.round((w * outH) / outW), width: w } : { height: h, width: Math.round((h * outW) / outH) };
  // Odd leftovers to the bottom / right: pad puts floor(extra / 2) before the image, crop cuts floor(excess / 2) before the frame.
  const before = (frameN: number, n: number) => (frameN >= n ? Math.floor((frameN - n) / 2) : -Math.floor((n - frameN) / 2));
  return { ...frame, top: before(frame.height, h), left: before(frame.width, w) };
}

/** Copies an h×w slice into its frame (see fitFrame): uncovered image pixels get `background`, mask pixels 0. */
export function placeInFrame(
  image: Float32Array,
  mask: Uint8Array,
  h: number,
  w: number,
  frame: { height: number; width: number; top: number; left: number },
  background: number,
): { image: Float32Array; mask: Uint8Array } {
  const outImage = new Float32Array(frame.height * frame.width).fill(background);
  const outMask = new Uint8Array(frame.height * frame.width);
  for (let y = 0; y < frame.height; y++) {
    const sy = y - frame.top;
    if (sy < 0 || sy >= h) continue;
    for (let x = 0; x < frame.width; x++) {
      const sx = x - frame.left;
      if (sx < 0 || sx >= w) continue;
      outImage[y * frame.width + x] = image[sy * w + sx]!;
      outMask[y * frame.width + x] = mask[sy * w + sx]!;
    }
  }
  return { image: outImage, mask: outMask };
}

function minimum(image: Float32Array): number {
  let m = Infinity;
  for (let i = 0; i < image.length; i++) if (image[i]! < m) m = image[i]!;
  return Number.isFinite(m) ? m : 0;
}

/** One h×w slice to outH×outW under `fit` (image native counts, mask 0/1). */
export function fitSlice(image: Float32Array, mask: Uint8Array, h: number, w: number, outH: number, outW: number, fit: Fit): { image: Float32Array; mask: Uint8Array } {
  const frame = fitFrame(h, w, outH, outW, fit);
  const framed = fit === 'stretch' || (frame.height === h && frame.width === w) ? { image, mask } : placeInFrame(image, mask, h, w, frame, minimum(image));
  return {
    image: resizeImage(framed.image, frame.height, frame.width, outH, outW),
    mask: resizeMask(framed.mask, frame.height, frame.width, outH, outW),
  };
}

/** A loaded part (a volume, a series) fitted to `target`; unchanged without one. */
export function fitPart(ds: CtDataset, target: FitTarget | undefined): CtDataset {
  return target ? resizeDataset(ds, { height: target.height, width: target.width }, target.fit) : ds;
}

/** Every slice resized to size×size (or height×width) under `fit` (default stretch); returns the same dataset when nothing changes. */
export function resizeDataset(ds: CtDataset, size: number | { height: number; width: number }, fit: Fit = 'stretch'): CtDataset {
  const { height, width } = typeof size === 'number' ? { height: size, width: size } : size;
  if (!(Number.isInteger(height) && Number.isInteger(width) && height > 0 && width > 0)) throw new RangeError(`resize target must be positive integers, got ${height}×${width}`);
  if (height === ds.height && width === ds.width) return ds;
  const slices: CtSlice[] = ds.slices.map((s) => ({ ...s, ...fitSlice(s.image, s.mask, ds.height, ds.width, height, width, fit) }));
  return { ...ds, height, width, slices };
}
