/**
 * Detector space as a tfjs op for joint training: the per-channel mask mixes a native and a reduced
 * digitisation of the same analog readings, the mix is log-normalised and reconstructed by FBP.
 *
 *   counts = native + m_c·(reduced − native)      (as src/quant/layer.ts: m·Q(x) + (1 − m)·x)
 *   p      = −log(max(counts, floor) / I0)
 *   image  = HU(FBP(p))
 *
 * The readings (native, reduced) are constants of a batch, drawn once per image and step; only m
 * carries a gradient. FBP is linear: its gradient is FBPᵀ = Bᵀ then Mᵀ: the filter is a tfjs matrix
 * product (fast on wasm's XNNPACK), the pixel-driven back-projection and its exact transpose run in JS
 * on the CPU side (fbp.ts). On webgpu this reads the sinograms back each step (not timed there yet).
 */
import * as tf from '@tensorflow/tfjs';
import { backprojectBatch, backprojectBatchTranspose, filterMatrix, type FbpPlan } from './fbp.js';
import { digitise, type AdcSettings } from './readout.js';

/**
 * Back-projection to HU as a differentiable op: filtered q [B, views, channels] → HU [B, rows, cols]
 * (μ → 1000·(μ/μ_water − 1)). Runs on the CPU side of the backend (reads q back); the gradient is
 * the exact transpose, Bᵀ.
 */
export function backprojectHuOp(plan: FbpPlan, waterMu: number): (q: tf.Tensor3D) => tf.Tensor3D {
  const { views, channels, rows, cols } = plan.geometry;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const q = args[0] as tf.Tensor3D;
    const batch = q.shape[0];
    if (q.shape[1] !== views || q.shape[2] !== channels)
      throw new RangeError(`back-projection: expected [B, ${views}, ${channels}], got [${q.shape.join(', ')}]`);
    const mu = backprojectBatch(plan, q.dataSync() as Float32Array, batch);
    const hu = new Float32Array(mu.length);
    for (let i = 0; i < mu.length; i++) hu[i] = 1000 * (mu[i]! / waterMu - 1);
    return {
      value: tf.tensor3d(hu, [batch, rows, cols]),
      gradFunc: (dy: tf.Tensor) => tf.tensor3d(backprojectHuTranspose(plan, waterMu, dy.dataSync() as Float32Array, batch), [batch, views, channels]),
    };
  });
  return (q) => op(q) as tf.Tensor3D;
}

/** Transpose of backprojectHuOp: dHU [B × rows × cols] → [B × views × channels]. */
function backprojectHuTranspose(plan: FbpPlan, waterMu: number, dy: Float32Array, batch: number): Float32Array {
  const scaled = new Float32Array(dy.length);
  for (let i = 0; i < dy.length; i++) scaled[i] = (dy[i]! * 1000) / waterMu;
  return backprojectBatchTranspose(plan, scaled, batch);
}

/** The two digitisations of analog readings [batch × views × channels] counts: native, and every channel at keptBits. */
export function nativeAndReduced(analog: Float32Array, batch: number, channels: number, adc: AdcSettings, keptBits: number): Readings {
  return {
    native: digitise(analog, new Array<number>(channels).fill(adc.nativeBits), adc),
    reduced: digitise(analog, new Array<number>(channels).fill(keptBits), adc),
    batch,
  };
}

/** A batch of readings of one design, both digitisations: [batch × views × channels] counts each. */
export interface Readings {
  native: Float32Array;
  reduced: Float32Array;
  batch: number;
}

export interface ReconstructionSettings {
  waterMu: number;
  i0: number;
  /** Where zero readings go before the log, counts (readout.ts logNormalise). */
  floorCounts: number;
}

/**
 * The training path of detector space as one op, differentiable in the mask:
 * readings (constants) and mask [channels] in [0, 1] (1 = reduced) → HU [B, rows, cols].
 * The elementwise mix and log run in JS next to the back-projection, so a step moves the sinograms
 * across the tfjs boundary twice (into and out of the filter product) instead of through a chain of
 * tfjs ops; the gradient is dL/dm_c = Σ_{b,v} (∂p/∂m_c)·(FBPᵀ dL/dHU), ∂p/∂m_c = −(reduced − native)/counts
 * (0 where the count sits on the floor).
 */
export class MixedReconstruction {
  private readonly filter: tf.Tensor2D;
  private readonly backproject: (q: tf.Tensor3D) => tf.Tensor3D;

  constructor(readonly plan: FbpPlan, readonly settings: ReconstructionSettings) {
    const C = plan.geometry.channels;
    this.filter = tf.tensor2d(filterMatrix(plan), [C, C]);
    this.backproject = backprojectHuOp(plan, settings.waterMu);
  }

  /**
   * readings [B × views × channels] counts, mask [channels] (one layout for the batch) or
   * [B, channels] (one sampled mask per image) → HU [B, rows, cols]; the gradient has the mask's shape.
   */
  reconstruct(readings: Readings, mask: tf.Tensor1D | tf.Tensor2D): tf.Tensor3D {
    const { views, channels } = this.plan.geometry;
    const { batch, native, reduced } = readings;
    const size = batch * views * channels;
    if (native.length !== size || reduced.length !== size) throw new RangeError(`readings: expected ${size} values each`);
    const perImage = mask.rank === 2;
    if (perImage ? mask.shape[0] !== batch || mask.shape[1] !== channels : mask.shape[0] !== channels)
      throw new RangeError(`mask: expected [${channels}] or [${batch}, ${channels}], got [${mask.shape.join(', ')}]`);
    const perView = views * channels;
    // Index of reading i's mask value: its channel, plus its image's row for per-image masks.
    const maskIndex = perImage ? (i: number) => Math.floor(i / perView) * channels + (i % channels) : (i: number) => i % channels;
    const { i0, floorCounts } = this.settings;
    const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const m = (args[0] as tf.Tensor).dataSync();
      const p = new Float32Array(size);
      const slope = new Float32Array(size); // ∂p/∂m per reading
      for (let i = 0; i < size; i++) {
        const difference = reduced[i]! - native[i]!;
        const counts = native[i]! + m[maskIndex(i)]! * difference;
        const floored = counts <= floorCounts;
        p[i] = -Math.log((floored ? floorCounts : counts) / i0);
        slope[i] = floored ? 0 : -difference / counts;
      }
      const value = tf.tidy(() => this.reconstructLineIntegrals(tf.tensor3d(p, [batch, views, channels])));
      return {
        value,
        gradFunc: (dy: tf.Tensor) => {
          const dq = backprojectHuTranspose(this.plan, this.settings.waterMu, dy.dataSync() as Float32Array, batch);
          const g = tf.tidy(() => tf.matMul(tf.tensor2d(dq, [batch * views, channels]), this.filter, false, true));
          const gData = g.dataSync();
          g.dispose();
          const dm = new Float32Array(m.length);
          for (let i = 0; i < size; i++) dm[maskIndex(i)] += slope[i]! * gData[i]!;
          return tf.tensor(dm, mask.shape);
        },
      };
    });
    return op(mask) as tf.Tensor3D;
  }

  /** FBP of line integrals p [B, views, channels] → HU [B, rows, cols] (filter product, then back-projection). */
  reconstructLineIntegrals(p: tf.Tensor3D): tf.Tensor3D {
    const { views, channels } = this.plan.geometry;
    return tf.tidy(() => {
      const batch = p.shape[0];
      const q = tf.reshape(tf.matMul(tf.reshape(p, [batch * views, channels]), this.filter), [batch, views, channels]) as tf.Tensor3D;
      return this.backproject(q);
    });
  }

  dispose(): void {
    this.filter.dispose();
  }
}
