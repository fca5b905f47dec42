/**
 * Kernels ctquant adds under its own names (not tfjs's), for the backends that have them.
 * Callers check `tf.getKernel(name, tf.getBackend())` and fall back to tf ops elsewhere.
 */

/** dy·[y > 0] (NaN in y passes through): the ReLU's gradient from its output, one pass. Inputs {dy, y}, same shape. */
export const RELU_GRADIENT_KERNEL = 'CtquantReluGradient';

/**
 * Group normalisation + affine + ReLU forward. Inputs {x [B, H, W, C], gamma [C], beta [C]}, attrs
 * {groups, epsilon}; outputs [z (as x), stats [B, groups, 2] = (mean, 1/σ) per image and group].
 */
export const GROUP_NORM_RELU_KERNEL = 'CtquantGroupNormRelu';
/** Its gradient. Inputs {dz, x, gamma, beta, stats} (stats from the forward), attrs {groups}; outputs [dx, dGamma, dBeta]. */
export const GROUP_NORM_RELU_GRAD_KERNEL = 'CtquantGroupNormReluGrad';
