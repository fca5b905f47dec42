/**
 * Synthetic axial chest CT slices with exact COVID-like lesion masks: the embedded default data
 * of ctquant. Pure JS typed arrays, deterministic from a seed, any size from 32 to 512.
 *
 * Geometry lives in normalised coordinates (u, v) ∈ [−1, 1]², u to the image right (the patient's
 * left, radiological convention), v down (posterior), so one seed gives the same anatomy at every
 * size. Each synthetic patient ("volume") draws body, lungs, heart, spine and a few 3-D lesions
 * once; its slices are cuts at different craniocaudal positions z ∈ [0, 1] through that patient.
 * Images are rendered in HU with partial-volume edges, then mapped to native counts by
 * huImageToCounts after adding Gaussian readout noise (see hu.ts for the window).
 *
 * This file is the public entry (options, checks, digitisation, datasets). The patient is drawn in
 * phantom-anatomy.ts and cut in phantom-render.ts, which paints with phantom-raster.ts and
 * phantom-noise.ts and takes lesions and vessels from phantom-lesions.ts and phantom-vessels.ts.
 */
import { Rng } from '../util/rng.js';
import type { CtDataset, CtSlice } from './types.js';
import { DEFAULT_HU_WINDOW, checkDetector, huImageToCounts, type HuWindow } from './hu.js';
import { drawVolumeAnatomy } from './phantom-anatomy.js';
import { renderPhantomHu } from './phantom-render.js';

export const MIN_PHANTOM_SIZE = 32;
export const MAX_PHANTOM_SIZE = 512;

export interface PhantomOptions {
  /** Number of slices. */
  n: number;
  /** Image side in pixels, 32..512. */
  size: number;
  seed: number;
  /** Native ADC bit depth of the stored counts (1..16). */
  nativeBits: number;
  /** Share of slices drawn without any lesion (default 0.2). */
  lesionFreeShare?: number;
  /** Slices per synthetic patient; they share anatomy and lesions (default 4). */
  slicesPerVolume?: number;
  /** HU → counts window (default [−1024, 1024] HU). */
  window?: HuWindow;
  /** Readout noise, standard deviation in HU before digitisation (default 12 HU). */
  noiseHu?: number;
}

/**
 * One synthetic slice at native depth: size×size counts in [0, 2^nativeBits − 1] (integers),
 * its lesion mask, and the noise-free HU image it was digitised from.
 */
export function generatePhantomSlice(opts: {
  size: number;
  seed: number;
  nativeBits: number;
  /** Craniocaudal position 0..1 (default 0.5). */
  z?: number;
  lesionFree?: boolean;
  window?: HuWindow;
  noiseHu?: number;
}): CtSlice & { hu: Float32Array } {
  checkPhantomArgs(opts.size, opts.nativeBits, opts.window);
  const rng = new Rng(opts.seed);
  const anatomy = drawVolumeAnatomy(rng.fork(0));
  const sliceRng = rng.fork(1);
  const r = renderPhantomHu(anatomy, opts.z ?? 0.5, opts.size, sliceRng, !opts.lesionFree);
  const image = digitise(r.hu, opts.nativeBits, opts.window ?? DEFAULT_HU_WINDOW, opts.noiseHu ?? 12, sliceRng);
  return { image, mask: r.mask, volumeId: `synth-${opts.seed}`, name: `synth-${opts.seed}`, hu: r.hu };
}

/** HU image + Gaussian readout noise (noiseHu std) → native counts. */
function digitise(hu: Float32Array, nativeBits: number, window: HuWindow, noiseHu: number, rng: Rng): Float32Array {
  if (noiseHu <= 0) return huImageToCounts(hu, nativeBits, window);
  const noisy = new Float32Array(hu.length);
  for (let i = 0; i < hu.length; i++) noisy[i] = hu[i]! + noiseHu * rng.normal();
  return huImageToCounts(noisy, nativeBits, window);
}

function checkPhantomArgs(size: number, nativeBits: number, window?: HuWindow): void {
  if (!Number.isInteger(size) || size < MIN_PHANTOM_SIZE || size > MAX_PHANTOM_SIZE) {
    throw new RangeError(`phantom size must be an integer ${MIN_PHANTOM_SIZE}..${MAX_PHANTOM_SIZE}, got ${size}`);
  }
  const bad = checkDetector(nativeBits, window);
  if (bad) throw new RangeError(bad);
}

/**
 * A synthetic dataset of `n` slices (size×size native counts), grouped into patients of
 * `slicesPerVolume` slices (volume ids `synth-v000`, …). Slice k of a volume is the cut at
 * z = (k + 0.5) / slicesPerVolume. Each slice is lesion-free with probability lesionFreeShare.
 */
export function generatePhantoms(opts: PhantomOptions): CtDataset {
  checkPhantomArgs(opts.size, opts.nativeBits, opts.window);
  if (!Number.isInteger(opts.n) || opts.n < 0) throw new RangeError(`phantom count must be a non-negative integer, got ${opts.n}`);
  const perVolume = opts.slicesPerVolume ?? 4;
  if (!Number.isInteger(perVolume) || perVolume < 1) throw new RangeError(`slicesPerVolume must be a positive integer, got ${perVolume}`);
  const freeShare = opts.lesionFreeShare ?? 0.2;
  if (!(freeShare >= 0 && freeShare <= 1)) throw new RangeError(`lesionFreeShare must be in [0, 1], got ${freeShare}`);
  const window = opts.window ?? DEFAULT_HU_WINDOW;
  const noiseHu = opts.noiseHu ?? 12;
  const master = new Rng(opts.seed);
  const slices: CtSlice[] = [];
  const volumes = Math.ceil(opts.n / perVolume);
  const digits = Math.max(3, String(volumes - 1).length);
  for (let vol = 0; vol < volumes; vol++) {
    const volRng = master.fork(vol);
    const anatomy = drawVolumeAnatomy(volRng);
    const volumeId = `synth-v${String(vol).padStart(digits, '0')}`;
    for (let k = 0; k < perVolume && slices.length < opts.n; k++) {
      const sliceRng = volRng.fork(1000 + k);
      const lesionFree = sliceRng.next() < freeShare;
      const z = (k + 0.5) / perVolume;
      const r = renderPhantomHu(anatomy, z, opts.size, sliceRng, !lesionFree);
      const image = digitise(r.hu, opts.nativeBits, window, noiseHu, sliceRng);
      slices.push({ image, mask: r.mask, volumeId, name: `${volumeId}-s${k}`, sliceIndex: k });
    }
  }
  return {
    height: opts.size,
    width: opts.size,
    nativeBits: opts.nativeBits,
    slices,
    source: `synthetic phantoms seed ${opts.seed}`,
  };
}
