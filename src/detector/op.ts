/**
 * Detector space as tfjs ops for joint training: the per-channel mask mixes a native and a reduced
 * digitisation of the same analog readings, the mix is log-normalised and reconstructed by FBP.
 *
 *   counts = native + m_c·(reduced − native)      (as src/quant/layer.ts: m·Q(x) + (1 − m)·x)
 *   p      = −log(max(counts, floor) / I0)
 *   image  = HU(FBP(p))
 *
 * The readings (native, reduced) are constants of a batch, drawn once per image and step; only m
 * carries a gradient. FBP is linear: its op's gradient is FBPᵀ (filter transpose after the transpose
 * of the pixel-driven back-projection), computed on the CPU from a precomputed table (fbp.ts). The
 * elementwise part is plain tfjs, so its gradient is tfjs's own.
 */
import * as tf from '@tensorflow/tfjs';
import { fbp, fbpTranspose, type FbpPlan } from './fbp.js';
import { digitise, type AdcSettings } from './readout.js';

/**
 * FBP as a differentiable op: p [B, views, channels] unitless → HU [B, rows, cols] (μ → 1000·(μ/μ_water − 1)).
 * Runs on the CPU side of the backend (reads p back); the gradient is the exact transpose.
 */
export function fbpHuOp(plan: FbpPlan, waterMu: number): (p: tf.Tensor3D) => tf.Tensor3D {
  const { views, channels, rows, cols } = plan.geometry;
  const sinoSize = views * channels;
  const imageSize = rows * cols;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const p = args[0] as tf.Tensor3D;
    const batch = p.shape[0];
    if (p.shape[1] !== views || p.shape[2] !== channels)
      throw new RangeError(`fbp: expected [B, ${views}, ${channels}], got [${p.shape.join(', ')}]`);
    const data = p.dataSync() as Float32Array;
    const out = new Float32Array(batch * imageSize);
    for (let b = 0; b < batch; b++) {
      const mu = fbp(plan, data.subarray(b * sinoSize, (b + 1) * sinoSize));
      for (let i = 0; i < imageSize; i++) out[b * imageSize + i] = 1000 * (mu[i]! / waterMu - 1);
    }
    return {
      value: tf.tensor3d(out, [batch, rows, cols]),
      gradFunc: (dy: tf.Tensor) => {
        const dyData = dy.dataSync() as Float32Array;
        const grad = new Float32Array(batch * sinoSize);
        const scaled = new Float32Array(imageSize);
        for (let b = 0; b < batch; b++) {
          for (let i = 0; i < imageSize; i++) scaled[i] = (dyData[b * imageSize + i]! * 1000) / waterMu;
          grad.set(fbpTranspose(plan, scaled), b * sinoSize);
        }
        return tf.tensor3d(grad, [batch, views, channels]);
      },
    };
  });
  return (p) => op(p) as tf.Tensor3D;
}

/** The two digitisations of analog readings [B × views × channels] counts: native, and every channel at keptBits. */
export function nativeAndReduced(analog: Float32Array, channels: number, adc: AdcSettings, keptBits: number): { native: Float32Array; reduced: Float32Array } {
  return {
    native: digitise(analog, new Array<number>(channels).fill(adc.nativeBits), adc),
    reduced: digitise(analog, new Array<number>(channels).fill(keptBits), adc),
  };
}

export interface MixedReconstruction {
  /** FBP as an op (fbpHuOp of the geometry's plan). */
  fbpHu: (p: tf.Tensor3D) => tf.Tensor3D;
  i0: number;
  /** Where zero readings go before the log, counts (readout.ts logNormalise). */
  floorCounts: number;
}

/**
 * native, reduced [B, views, channels] counts (constants), mask [channels] in [0, 1] (the relaxed
 * Bernoulli sample; 1 = reduced) → reconstructed HU [B, rows, cols]; differentiable in the mask.
 */
export function mixedReconstruction(native: tf.Tensor3D, reduced: tf.Tensor3D, mask: tf.Tensor1D, r: MixedReconstruction): tf.Tensor3D {
  return tf.tidy(() => {
    const counts = tf.add(native, tf.mul(mask, tf.sub(reduced, native)));
    const p = tf.neg(tf.log(tf.div(tf.maximum(counts, r.floorCounts), r.i0))) as tf.Tensor3D;
    return r.fbpHu(p);
  });
}
