import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { maxRelativeError } from './arrays.js';

/**
 * Asserts that `ours` (an operation with a hand-written gradient) equals `plain` (the same function
 * from tf ops, differentiated by tfjs): the value, and the gradient of Σ upstream·f for every input,
 * each within its relative error (scale floor 1). Returns ours' value.
 */
export function assertMatchesAutodiff(
  ours: (...inputs: tf.Tensor[]) => tf.Tensor,
  plain: (...inputs: tf.Tensor[]) => tf.Tensor,
  inputs: { name: string; value: tf.Tensor }[],
  upstream: tf.Tensor,
  tolerance: { value: number; gradient: number },
): Float32Array {
  const values = inputs.map((i) => i.value);
  const got = ours(...values).dataSync() as Float32Array;
  assert.ok(maxRelativeError(got, plain(...values).dataSync(), 1) < tolerance.value, 'value');
  const objective = (f: typeof ours) => (...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), upstream));
  const gotGrads = tf.grads(objective(ours))(values);
  const wantGrads = tf.grads(objective(plain))(values);
  inputs.forEach(({ name }, i) => {
    assert.equal(gotGrads[i]!.shape, wantGrads[i]!.shape, `${name} gradient shape`);
    const err = maxRelativeError(gotGrads[i]!.dataSync(), wantGrads[i]!.dataSync(), 1);
    assert.ok(err < tolerance.gradient, `${name} gradient: relative error ${err}`);
  });
  return got;
}
