/**
 * Detector space as the joint model's input stage: a batch of clean images (native counts of the
 * data's HU window) is read the way a CT detector reads it, and the reconstruction goes to the U-Net.
 *
 *   counts → HU (the data's window) → μ → line integrals (Joseph) → expected counts I0·exp(−p)
 *     [computed once per image: cached by content]
 *   → Poisson + electronic noise [drawn per batch, keyed by (seed, epoch, image index)]
 *   → ADC per channel: native, and every channel at k bits; mixed by the channel mask (op.ts)
 *   → −log → FBP → HU → U-Net input (HU − lowHu)/(highHu − lowHu) over [−1024, 1024] HU, clipped to
 *     [−0.5, 1.5] (streaks of a badly read sinogram stay bounded).
 *
 * On the phantoms (12-bit counts of [−1024, 1024] HU) the U-Net's input is then on the same scale as in
 * image space (counts / 4095). The layout unit is the detector channel.
 */
import * as tf from '@tensorflow/tfjs';
import { countToHu, DEFAULT_HU_WINDOW, type HuWindow } from '../data/hu.js';
import { huToMu } from './attenuation.js';
import { makeFbpPlan } from './fbp.js';
import type { ScanGeometry } from './geometry.js';
import { MixedReconstruction, type Readings } from './op.js';
import { scanGeometry, type DetectorSpace } from './profile.js';
import { project } from './projector.js';
import { defaultFloorCounts, digitise, expectedCounts, noisyCounts } from './readout.js';
import { CACHE_READINGS } from './limits.js';

/** The HU window the U-Net's input [0, 1] spans (that of the phantoms' image-space counts). */
export const UNET_HU_WINDOW: Readonly<HuWindow> = DEFAULT_HU_WINDOW;
/** The epoch key of evaluation readings: every design of a seed is evaluated on the same noise. */
export const EVALUATION_EPOCH = -1;

/** How a batch's readout noise is keyed: image i of the batch draws from (seed, epoch, indices[i]). */
export interface ReadoutKeys {
  seed: number;
  epoch: number;
  indices: number[];
}

/** Which channels the ADC reads at reduced precision. */
export type ChannelDesign =
  | { kind: 'native' }
  | { kind: 'all'; keptBits: number }
  /** mask [channels] or [B, channels] in [0, 1] (1 = reduced to keptBits); differentiable. */
  | { kind: 'mask'; keptBits: number; mask: tf.Tensor1D | tf.Tensor2D };

/** The noise seed of one epoch of readings (EVALUATION_EPOCH for evaluation). */
export function readoutNoiseSeed(seed: number, epoch: number): number {
  return (Math.imul(seed + 1, 0x27d4eb2f) ^ Math.imul(epoch + 2, 0x165667b1)) >>> 0;
}

/** FNV-1a over the bits of a float array: the cache key of an image. */
function contentHash(values: Float32Array): number {
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length);
  let h = 0x811c9dc5;
  for (let i = 0; i < words.length; i++) h = Math.imul(h ^ words[i]!, 0x01000193);
  return h >>> 0;
}

function sameValues(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export interface DetectorReadoutOptions {
  space: DetectorSpace;
  rows: number;
  cols: number;
  /** How the data's counts map to HU: counts 0 … 2^dataBits − 1 span [lowHu, highHu]. */
  dataWindow: HuWindow;
  dataBits: number;
}

/**
 * The detector of an experiment: scan, noise, ADC and reconstruction, with the expected counts of
 * every image it has read (shared by every run of a process on the same data).
 */
export class DetectorReadout {
  readonly geometry: ScanGeometry;
  readonly reconstruction: MixedReconstruction;
  private readonly cache = new Map<number, { image: Float32Array; expected: Float32Array }>();
  private cachedReadings = 0;

  constructor(readonly options: DetectorReadoutOptions) {
    const { space, rows, cols } = options;
    this.geometry = scanGeometry(space.section, rows, cols);
    this.reconstruction = new MixedReconstruction(makeFbpPlan(this.geometry, space.apodisation), {
      waterMu: space.waterMu,
      i0: space.i0,
      floorCounts: defaultFloorCounts(space.adc),
    });
  }

  get channels(): number {
    return this.geometry.channels;
  }

  /** One image [rows × cols] data counts → expected detector counts [views × channels] (noise-free). */
  expectedOf(image: Float32Array): Float32Array {
    const key = contentHash(image);
    const hit = this.cache.get(key);
    if (hit && sameValues(hit.image, image)) return hit.expected;
    const { space, dataWindow, dataBits } = this.options;
    const hu = Float32Array.from(image, (c) => countToHu(c, dataBits, dataWindow));
    const expected = expectedCounts(project(this.geometry, huToMu(hu, space.waterMu)), space.i0);
    if (this.cachedReadings + expected.length > CACHE_READINGS) {
      this.cache.clear();
      this.cachedReadings = 0;
    }
    if (!hit) {
      this.cache.set(key, { image: Float32Array.from(image), expected });
      this.cachedReadings += expected.length;
    }
    return expected;
  }

  /** images [B × rows × cols] data counts → analog readings [B × views × channels] counts, noise keyed by `keys`. */
  analog(images: Float32Array, batch: number, keys: ReadoutKeys): Float32Array {
    const { rows, cols, views, channels } = this.geometry;
    if (keys.indices.length !== batch) throw new RangeError(`readout keys: expected ${batch} indices, got ${keys.indices.length}`);
    const hw = rows * cols;
    const out = new Float32Array(batch * views * channels);
    const seed = readoutNoiseSeed(keys.seed, keys.epoch);
    for (let b = 0; b < batch; b++) {
      const expected = this.expectedOf(images.subarray(b * hw, (b + 1) * hw));
      out.set(noisyCounts(expected, channels, this.options.space.sigmaE, seed, keys.indices[b]!), b * views * channels);
    }
    return out;
  }

  /** Native and reduced digitisations of analog readings for a design ([B × views × channels] counts each). */
  readings(analog: Float32Array, batch: number, design: ChannelDesign): Readings {
    const adc = this.options.space.adc;
    const C = this.channels;
    const native = digitise(analog, new Array<number>(C).fill(adc.nativeBits), adc);
    if (design.kind === 'native') return { native, reduced: native, batch };
    const reduced = digitise(analog, new Array<number>(C).fill(design.keptBits), adc);
    return design.kind === 'all' ? { native: reduced, reduced, batch } : { native, reduced, batch };
  }

  /**
   * images [B, rows, cols, 1] data counts → U-Net input [B, rows, cols, 1] (HU scaled, see the module
   * comment), differentiable in a `mask` design's mask.
   */
  unetInput(images: tf.Tensor4D, design: ChannelDesign, keys: ReadoutKeys): tf.Tensor4D {
    const [batch, rows, cols] = images.shape;
    const analog = this.analog(images.dataSync() as Float32Array, batch, keys);
    const readings = this.readings(analog, batch, design);
    return tf.tidy(() => {
      const mask = design.kind === 'mask' ? design.mask : tf.zeros([this.channels]);
      const hu = this.reconstruction.reconstruct(readings, mask as tf.Tensor1D | tf.Tensor2D);
      return scaleHuForUnet(tf.reshape(hu, [batch, rows, cols, 1]) as tf.Tensor4D);
    });
  }

  dispose(): void {
    this.reconstruction.dispose();
    this.cache.clear();
  }
}

/** HU [any shape] → (HU − lowHu)/(highHu − lowHu) over UNET_HU_WINDOW, clipped to [−0.5, 1.5]. */
export function scaleHuForUnet<T extends tf.Tensor>(hu: T): T {
  const { lowHu, highHu } = UNET_HU_WINDOW;
  return tf.tidy(() => tf.clipByValue(tf.div(tf.sub(hu, lowHu), highHu - lowHu), -0.5, 1.5)) as T;
}
