/**
 * Seeded data augmentation of training slices, in native detector counts.
 *
 * Where it acts (physics): the readout quantization acts on native counts at the detector, so
 * every transform here is applied to the clean image BEFORE the input stage (readout layer):
 * - geometric transforms model a differently positioned patient; the image and its mask get the
 *   same transform, and the layout is NOT transformed: it is fixed in detector coordinates
 *   (a detector does not rotate with the patient), so the layer quantizes the moved patient with
 *   the same layout;
 * - intensity transforms (contrast, gamma, window shift, noise) model other scanners and
 *   reconstruction/display settings; they act on native counts and the result is clipped to
 *   [0, 2^nativeBits − 1] and rounded, so the quantizer still sees integer counts.
 *
 * Resumable: the transform of slice i at epoch e is a pure function of (seed, epoch, i); the
 * parameters are drawn in a fixed order whatever options are on, so turning one option on does
 * not change the draws of the others.
 */
import type { AugmentConfig } from '../config/experiment-config.js';
import { Rng } from '../util/rng.js';

export type { AugmentConfig };


/** Everything off: training sees the data unchanged (bit-identical to a run without augmentation). */
export const NO_AUGMENTATION: AugmentConfig = {
  flip: false,
  rotate90: false,
  scale: 0,
  rotateDegrees: 0,
  contrast: 0,
  gamma: 0,
  windowShift: 0,
  noise: 0,
};

export function augmentationIsOff(c: AugmentConfig): boolean {
  return !c.flip && !c.rotate90 && c.scale === 0 && c.rotateDegrees === 0 && c.contrast === 0 && c.gamma === 0 && c.windowShift === 0 && c.noise === 0;
}

const hasGeometry = (c: AugmentConfig) => c.flip || c.rotate90 || c.scale !== 0 || c.rotateDegrees !== 0;
const hasIntensity = (c: AugmentConfig) => c.contrast !== 0 || c.gamma !== 0 || c.windowShift !== 0 || c.noise !== 0;

/** The drawn parameters of one slice's transform. */
export interface AugmentParams {
  flipX: boolean;
  flipY: boolean;
  /** Quarter turns counter-clockwise, 0..3. */
  quarterTurns: number;
  /** Zoom (>1 enlarges the patient). */
  zoom: number;
  /** Shift of the sampling centre in output pixels (x, y). */
  shiftX: number;
  shiftY: number;
  /** Small rotation in radians. */
  angle: number;
  contrast: number;
  gamma: number;
  /** Added offset as a share of full scale. */
  offset: number;
  noise: number;
  /** Seed of this slice's pixel noise. */
  noiseSeed: number;
}

/** The RNG seed of slice `index` at `epoch`; distinct from epochOrder's mixing so orders and transforms do not correlate. */
export function augmentSeed(seed: number, epoch: number, index: number): number {
  let h = Math.imul((seed >>> 0) ^ 0x5bd1e995, 0x9e3779b1);
  h = Math.imul(h ^ (epoch + 0x632be5ab), 0x85ebca6b);
  h = Math.imul(h ^ (index + 0x2c1b3c6d), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A factor log-uniform in [1/(1+spread), 1+spread] from a uniform draw u in [0, 1). */
const spreadFactor = (u: number, spread: number) => Math.exp((2 * u - 1) * Math.log1p(spread));

/** Draws the transform of one slice: a pure function of (config, seed, epoch, index, square). */
export function drawAugmentParams(c: AugmentConfig, seed: number, epoch: number, index: number, square: boolean): AugmentParams {
  const rng = new Rng(augmentSeed(seed, epoch, index));
  // Fixed draw order: every draw happens whether or not its option is on.
  const u = Array.from({ length: 10 }, () => rng.next());
  const turns = Math.floor(u[2]! * 4);
  const zoom = spreadFactor(u[3]!, c.scale);
  // Shift so the zoomed field stays over the image: at most half the slack of the larger frame.
  const slack = Math.abs(1 - 1 / zoom) / 2;
  return {
    flipX: c.flip && u[0]! < 0.5,
    flipY: c.flip && u[1]! < 0.5,
    quarterTurns: c.rotate90 ? (square ? turns : turns & 2) : 0,
    zoom: c.scale ? zoom : 1,
    shiftX: c.scale ? (2 * u[4]! - 1) * slack : 0,
    shiftY: c.scale ? (2 * u[5]! - 1) * slack : 0,
    angle: c.rotateDegrees ? ((2 * u[6]! - 1) * c.rotateDegrees * Math.PI) / 180 : 0,
    contrast: c.contrast ? spreadFactor(u[7]!, c.contrast) : 1,
    gamma: c.gamma ? spreadFactor(u[8]!, c.gamma) : 1,
    offset: c.windowShift ? (2 * u[9]! - 1) * c.windowShift : 0,
    noise: c.noise,
    noiseSeed: Math.floor(rng.next() * 4294967296),
  };
}

/**
 * The output→source map of the geometric transform, in pixel coordinates with centres at
 * integers: source = M·(out − centre) + centre + shift. Returns [m00, m01, m10, m11, tx, ty] such
 * that sx = m00·x + m01·y + tx, sy = m10·x + m11·y + ty.
 */
export function sourceMap(p: AugmentParams, height: number, width: number): [number, number, number, number, number, number] {
  // Build the forward (source → output) linear part, then invert it: flips, quarter turns,
  // rotation and zoom are all orthogonal-times-scalar, so the inverse is the transpose / zoom.
  const cos = Math.cos(p.angle);
  const sin = Math.sin(p.angle);
  // Quarter turn counter-clockwise in image coordinates (y down): (x, y) → (y, −x).
  let a = 1, b = 0, c = 0, d = 1;
  for (let k = 0; k < p.quarterTurns; k++) [a, b, c, d] = [c, d, -a, -b];
  // Forward linear part F = zoom · R(angle) · Q · Flip.
  const fx = p.flipX ? -1 : 1;
  const fy = p.flipY ? -1 : 1;
  const q00 = a * fx, q01 = b * fy, q10 = c * fx, q11 = d * fy;
  const f00 = p.zoom * (cos * q00 - sin * q10);
  const f01 = p.zoom * (cos * q01 - sin * q11);
  const f10 = p.zoom * (sin * q00 + cos * q10);
  const f11 = p.zoom * (sin * q01 + cos * q11);
  // Inverse of zoom·orthogonal = transpose / zoom².
  const z2 = p.zoom * p.zoom;
  const m00 = f00 / z2, m01 = f10 / z2, m10 = f01 / z2, m11 = f11 / z2;
  const cx = (width - 1) / 2;
  const cy = (height - 1) / 2;
  const sx0 = cx + p.shiftX * width;
  const sy0 = cy + p.shiftY * height;
  return [m00, m01, m10, m11, sx0 - m00 * cx - m01 * cy, sy0 - m10 * cx - m11 * cy];
}

/** Exact integer coordinate if v is within 1e-9 of one (flips and quarter turns hit pixel centres exactly). */
const snap = (v: number) => {
  const r = Math.round(v);
  return Math.abs(v - r) < 1e-9 ? r : v;
};

/**
 * Resamples an H×W image through the source map; pixels that map outside get `background`.
 * `bilinear` for images (native counts, not rounded here), `nearest` for masks or exact tests.
 */
export function warp(
  src: ArrayLike<number>,
  height: number,
  width: number,
  map: readonly number[],
  mode: 'bilinear' | 'nearest',
  background: number,
): Float32Array {
  const [m00, m01, m10, m11, tx, ty] = map as [number, number, number, number, number, number];
  const out = new Float32Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sx = snap(m00 * x + m01 * y + tx);
      const sy = snap(m10 * x + m11 * y + ty);
      let v = background;
      if (mode === 'nearest') {
        const ix = Math.round(sx);
        const iy = Math.round(sy);
        if (ix >= 0 && ix < width && iy >= 0 && iy < height) v = src[iy * width + ix]!;
      } else if (sx > -1 && sx < width && sy > -1 && sy < height) {
        const x0 = Math.floor(sx);
        const y0 = Math.floor(sy);
        const ax = sx - x0;
        const ay = sy - y0;
        const at = (yy: number, xx: number) => (xx >= 0 && xx < width && yy >= 0 && yy < height ? src[yy * width + xx]! : background);
        v = (1 - ay) * ((1 - ax) * at(y0, x0) + ax * at(y0, x0 + 1)) + ay * ((1 - ax) * at(y0 + 1, x0) + ax * at(y0 + 1, x0 + 1));
      }
      out[y * width + x] = v;
    }
  }
  return out;
}

/**
 * Intensity transform of native counts in place: contrast about the mean, gamma on counts / full
 * scale, offset, Gaussian noise; then clipped to [0, full scale] and rounded to integer counts.
 */
export function applyIntensity(image: Float32Array, p: AugmentParams, nativeBits: number): Float32Array {
  const full = 2 ** nativeBits - 1;
  let mean = 0;
  for (let i = 0; i < image.length; i++) mean += image[i]!;
  mean /= image.length || 1;
  const noise = p.noise ? new Rng(p.noiseSeed) : null;
  for (let i = 0; i < image.length; i++) {
    let v = mean + p.contrast * (image[i]! - mean);
    if (p.gamma !== 1) v = full * Math.pow(Math.min(1, Math.max(0, v / full)), p.gamma);
    v += p.offset * full;
    if (noise) v += p.noise * full * noise.normal();
    image[i] = Math.round(Math.min(full, Math.max(0, v)));
  }
  return image;
}

/** The smallest value of an image: the background (air) that fills pixels moved in from outside the field. */
export function imageMinimum(image: ArrayLike<number>): number {
  let m = Infinity;
  for (let i = 0; i < image.length; i++) if (image[i]! < m) m = image[i]!;
  return Number.isFinite(m) ? m : 0;
}

/**
 * What augmentSlice and augmentStack take after the image(s) and mask: slice height and width
 * (pixels), the native bit depth, the config, which draw (seed, epoch and the dataset index of
 * the (centre) slice) and how images are resampled (default bilinear; masks always nearest).
 */
export type AugmentDraw = [
  height: number,
  width: number,
  nativeBits: number,
  c: AugmentConfig,
  at: { seed: number; epoch: number; index: number },
  imageMode?: 'bilinear' | 'nearest',
];

/**
 * One augmented slice: image [H·W] native counts (integers in [0, 2^nativeBits − 1]) and mask
 * [H·W] in {0,1}, both row-major; the inputs are not modified. With every option off the
 * inputs are copied unchanged.
 */
export function augmentSlice(image: Float32Array, mask: Uint8Array, ...draw: AugmentDraw): { image: Float32Array; mask: Uint8Array } {
  // A stack of one: its centre slice keeps the drawn noise seed, so this is the 2D augmentation.
  const { images, mask: augmentedMask } = augmentStack([image], mask, ...draw);
  return { image: images[0]!, mask: augmentedMask };
}

/** The geometric then intensity transform of one image with drawn parameters (a new array). */
function transformImage(
  image: Float32Array,
  height: number,
  width: number,
  nativeBits: number,
  c: AugmentConfig,
  p: AugmentParams,
  map: readonly number[] | null,
  imageMode: 'bilinear' | 'nearest',
): Float32Array {
  const out = map ? warp(image, height, width, map, imageMode, imageMinimum(image)) : image.slice();
  // Bilinear values are not integers: intensity (or at least the rounding) always follows.
  const full = 2 ** nativeBits - 1;
  if (hasIntensity(c)) applyIntensity(out, p, nativeBits);
  else for (let i = 0; i < out.length; i++) out[i] = Math.round(Math.min(full, Math.max(0, out[i]!)));
  return out;
}

/**
 * A 2.5D stack augmented as one patient: the k images (each [H·W] native counts, the centre one
 * at (k − 1)/2) get the SAME geometric and intensity transform, drawn for the centre slice
 * (`at.index`), and the centre's mask the same geometric one. Only the pixel noise differs
 * between slices (independent noise per slice, as a scanner has); the centre slice's result is
 * exactly augmentSlice's (which is this with k = 1). Inputs are not modified.
 */
export function augmentStack(
  images: readonly Float32Array[],
  mask: Uint8Array,
  ...[height, width, nativeBits, c, at, imageMode = 'bilinear']: AugmentDraw
): { images: Float32Array[]; mask: Uint8Array } {
  if (augmentationIsOff(c)) return { images: images.map((im) => im.slice()), mask: mask.slice() };
  const p = drawAugmentParams(c, at.seed, at.epoch, at.index, height === width);
  const map = hasGeometry(c) ? sourceMap(p, height, width) : null;
  const centre = (images.length - 1) / 2;
  const out = images.map((im, ch) => {
    const noiseSeed = ch === centre ? p.noiseSeed : augmentSeed(p.noiseSeed, ch - centre, at.index);
    return transformImage(im, height, width, nativeBits, c, { ...p, noiseSeed }, map, imageMode);
  });
  return { images: out, mask: map ? Uint8Array.from(warp(mask, height, width, map, 'nearest', 0)) : mask.slice() };
}
