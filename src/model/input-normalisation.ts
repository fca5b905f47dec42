/**
 * How the (quantized) readout is scaled before the U-Net. It acts AFTER the readout stage, so
 * the quantizer always sees native integer counts and only the network's input changes:
 * - `fixed`: counts / (2^nativeBits − 1), the same map for every image (the original behaviour);
 * - `window`: counts in [low, high] mapped linearly to [0, 1] and clipped (a fixed display/HU window, in native counts);
 * - `standardise`: per image, zero mean and unit variance over its H×W pixels (scanner gain and offset drop out).
 */
import * as tf from '@tensorflow/tfjs';
import type { InputNormalisation } from '../config/experiment-config.js';

export type { InputNormalisation };


export const FIXED_NORMALISATION: InputNormalisation = { kind: 'fixed' };

/** Variance floor of `standardise`, in squared counts: a constant image maps to zeros, not NaN. */
const VARIANCE_FLOOR = 1e-6;

/** Checks the options at construction; a RangeError names the problem. */
export function checkNormalisation(n: InputNormalisation, nativeBits: number): void {
  if (n.kind === 'window' && !(Number.isFinite(n.low) && Number.isFinite(n.high) && n.high > n.low))
    throw new RangeError(`normalisation window needs low < high, got [${n.low}, ${n.high}]`);
  if (n.kind === 'window' && (n.low < 0 || n.high > 2 ** nativeBits - 1))
    throw new RangeError(`normalisation window [${n.low}, ${n.high}] lies outside the native range [0, ${2 ** nativeBits - 1}]`);
}

/** Counts [B,H,W,1] (native units, possibly quantized) → network input [B,H,W,1] (see the kinds above). */
export function normaliseInput(counts: tf.Tensor4D, n: InputNormalisation, nativeBits: number): tf.Tensor4D {
  return tf.tidy(() => {
    switch (n.kind) {
      case 'fixed':
        return tf.mul(counts, 1 / (2 ** nativeBits - 1)) as tf.Tensor4D;
      case 'window':
        return tf.clipByValue(tf.mul(tf.sub(counts, n.low), 1 / (n.high - n.low)), 0, 1) as tf.Tensor4D;
      case 'standardise': {
        const { mean, variance } = tf.moments(counts, [1, 2, 3], true);
        return tf.div(tf.sub(counts, mean), tf.sqrt(tf.add(variance, VARIANCE_FLOOR))) as tf.Tensor4D;
      }
    }
  });
}
