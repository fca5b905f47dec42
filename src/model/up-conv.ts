/**
 * The U-Net's 2×2 stride-2 up-convolution as one operation with a written gradient.
 *
 * Forward: y = x·K as a matrix product over pixels ([B·h·w, Cin] × [Cin, 4F], columns (i, j, f)),
 * each pixel's 2×2 block moved into place (a transpose), plus the bias. Backward: the blocks moved
 * back, dx = dY·Kᵀ, dK = Xᵀ·dY, dbias = Σ dz.
 *
 * dK on webgpu: tfjs-backend-webgpu multiplies Xᵀ·dY (inner dimension = every pixel of the batch,
 * output Cin × 4F) with its split-K program, which adds the slices with float atomics: contended,
 * and the order of the additions — so the result — changes from run to run. The same sum is the
 * filter gradient of a 1×1 convolution, which ctquant's webgpu kernel adds in a fixed order
 * (PIXEL_OUTER_SUM_KERNEL, where a backend has it). Elsewhere dK is the matrix product, as
 * autodiff would compute it.
 */
import * as tf from '@tensorflow/tfjs';
import { PIXEL_OUTER_SUM_KERNEL } from '../backend/kernel-names.js';

/** x [B, h, w, Cin], kernel [Cin, 4F] (columns (i, j, f)), bias [F] → [B, 2h, 2w, F]. */
export function upConv2x2(x: tf.Tensor4D, kernel: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor4D {
  const [b, h, w, cin] = x.shape;
  const f = bias.shape[0];
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, k, bs] = args as [tf.Tensor4D, tf.Tensor2D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const y = tf.matMul(tf.reshape(input, [b * h * w, cin]), k); // [(b,h,w), (i,j,f)]
    // [(b,h), w, i, (j,f)] → [(b,h), i, w, (j,f)] = row-major [b, 2h, 2w, f].
    const blocks = tf.transpose(tf.reshape(y, [b * h, w, 2, 2 * f]), [0, 2, 1, 3]);
    save([input, k]);
    return {
      value: tf.add(tf.reshape(blocks, [b, 2 * h, 2 * w, f]), bs) as tf.Tensor4D,
      gradFunc: (dz: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sk] = saved as [tf.Tensor4D, tf.Tensor2D];
        // The transpose [0, 2, 1, 3] is its own inverse.
        const dBlocks = tf.reshape(tf.transpose(tf.reshape(dz, [b * h, 2, w, 2 * f]), [0, 2, 1, 3]), [b * h * w, 4 * f]);
        const dx = tf.reshape(tf.matMul(dBlocks, sk, false, true), [b, h, w, cin]);
        return [dx, kernelGradient(sx, dBlocks as tf.Tensor2D, cin, 4 * f), tf.sum(dz, [0, 1, 2])];
      },
    };
  });
  return op(x, kernel, bias) as tf.Tensor4D;
}

/** Xᵀ·dY [Cin, 4F] over every pixel; x [B, h, w, Cin], dY [(B·h·w), 4F]. See the module comment for webgpu. */
function kernelGradient(x: tf.Tensor4D, dBlocks: tf.Tensor2D, cin: number, cols: number): tf.Tensor2D {
  const [b, h, w] = x.shape;
  if (tf.getKernel(PIXEL_OUTER_SUM_KERNEL, tf.getBackend())) {
    return tf.engine().runKernel(PIXEL_OUTER_SUM_KERNEL, { x, dy: tf.reshape(dBlocks, [b, h, w, cols]) }) as tf.Tensor2D;
  }
  return tf.matMul(tf.reshape(x, [b * h * w, cin]), dBlocks, true, false);
}
