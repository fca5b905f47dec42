/**
 * Kernels ctquant adds under its own names (not tfjs's), for the backends that have them.
 * Callers check `tf.getKernel(name, tf.getBackend())` and fall back to tf ops elsewhere.
 */

/** dy·[y > 0] (NaN in y passes through): the ReLU's gradient from its output, one pass. Inputs {dy, y}, same shape. */
export const RELU_GRADIENT_KERNEL = 'CtquantReluGradient';
