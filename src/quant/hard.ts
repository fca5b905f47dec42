/**
 * The hard quantizer of a reduced-precision readout: keep the top `keptBits` of a `nativeBits`
 * ADC count, k = nativeBits − keptBits low bits dropped.
 * - `floor`:   X_q = floor(X / 2^k) · 2^k (what truncating the low bits gives; biased by −(2^k − 1)/2 counts);
 * - `midrise`: X_q = floor(X / 2^k) · 2^k + 2^(k−1), clamped to 2^nativeBits − 1 (the mid-point of
 *   each step, removing floor's bias). With k = 0 both rules are the identity.
 */
import * as tf from '@tensorflow/tfjs';
import type { QuantizerRule } from '../profile/types.js';

export type { QuantizerRule };

function checkBits(nativeBits: number, keptBits: number): number {
  if (!Number.isInteger(nativeBits) || nativeBits < 1 || nativeBits > 24) {
    throw new RangeError(`nativeBits must be an integer in [1, 24], got ${nativeBits}`);
  }
  if (!Number.isInteger(keptBits) || keptBits < 1 || keptBits > nativeBits) {
    throw new RangeError(`keptBits must be an integer in [1, nativeBits=${nativeBits}], got ${keptBits}`);
  }
  return nativeBits - keptBits;
}

/** Quantizes one native count v (integer in [0, 2^nativeBits − 1]) to keptBits; returns native counts. */
export function quantizeValue(v: number, nativeBits: number, keptBits: number, rule: QuantizerRule): number {
  const k = checkBits(nativeBits, keptBits);
  if (k === 0) return v;
  const step = 2 ** k;
  const floored = Math.floor(v / step) * step;
  if (rule === 'floor') return floored;
  return Math.min(floored + step / 2, 2 ** nativeBits - 1);
}

/**
 * Tensor version of quantizeValue, elementwise: x any shape, native counts → same shape, native counts.
 * Not differentiable (floor has zero gradient); use quantizeCountsSTE on trainable paths.
 */
export function quantizeCounts(x: tf.Tensor, nativeBits: number, keptBits: number, rule: QuantizerRule): tf.Tensor {
  const k = checkBits(nativeBits, keptBits);
  if (k === 0) return tf.clone(x);
  const step = 2 ** k;
  return tf.tidy(() => {
    // Multiplying by 1/2^k is exact in float32 (power of two), so floor sees the true quotient.
    const floored = tf.mul(tf.floor(tf.mul(x, 1 / step)), step);
    if (rule === 'floor') return floored;
    return tf.minimum(tf.add(floored, step / 2), 2 ** nativeBits - 1);
  });
}

/**
 * Straight-through quantizer: forward = quantizeCounts(x), backward = identity (dL/dx = dL/dy).
 * x any shape, native counts → same shape, native counts.
 */
export function quantizeCountsSTE(x: tf.Tensor, nativeBits: number, keptBits: number, rule: QuantizerRule): tf.Tensor {
  checkBits(nativeBits, keptBits);
  const ste = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor;
    return { value: quantizeCounts(input, nativeBits, keptBits, rule), gradFunc: (dy: tf.Tensor) => dy };
  });
  return ste(x) as tf.Tensor;
}
