/** conv3d cases and their values and gradients on a backend (test/backend-wasm-conv3d, test/webgpu-conv3d). */
import * as tf from '@tensorflow/tfjs';

type Shape5 = [number, number, number, number, number];
export interface Conv3dCase { x: Shape5; f: Shape5; pad: 'same' | 'valid' }

/** Stride 1, as the 3D U-Net: its own 3×3×3 same shapes with several channels, one input channel, valid, even filter sizes. */
export const CONV3D_CASES: Conv3dCase[] = [
  { x: [2, 3, 8, 8, 16], f: [3, 3, 3, 16, 8], pad: 'same' },
  { x: [2, 5, 6, 7, 4], f: [3, 3, 3, 4, 6], pad: 'same' },
  { x: [1, 4, 7, 6, 3], f: [2, 3, 1, 3, 5], pad: 'valid' },
  { x: [3, 3, 9, 9, 1], f: [3, 3, 3, 1, 4], pad: 'same' },
  { x: [1, 4, 6, 5, 2], f: [2, 2, 3, 2, 3], pad: 'same' },
];

/** [y, dx, dfilter] of sum(conv3d(x, f) · weight) on the current backend, seeded inputs. */
export async function conv3dGradients(c: Conv3dCase): Promise<Float32Array[]> {
  const out = tf.tidy(() => {
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 1);
    const f = tf.randomNormal(c.f, 0, 1, 'float32', 2);
    const y = tf.conv3d(x as tf.Tensor5D, f as tf.Tensor5D, 1, c.pad);
    const weight = tf.randomNormal(y.shape, 0, 1, 'float32', 3);
    const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv3d(a as tf.Tensor5D, b as tf.Tensor5D, 1, c.pad), weight)))([x, f]);
    return [y, dx!, df!];
  });
  const values = await Promise.all(out.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(out);
  return values;
}
