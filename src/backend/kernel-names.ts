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

/**
 * What a uniform noise draw u becomes:
 * - `uniform`: u itself;
 * - `logistic`: log u − log(1 − u), the noise of a relaxed Bernoulli sample (binary concrete);
 * - `gumbel`: −log(−log u), the noise of a Gumbel-softmax sample.
 */
export type NoiseTransform = 'uniform' | 'logistic' | 'gumbel';

/**
 * Counter-based noise (quant/noise.ts): no inputs; attrs {shape, transform, k0, k1, startLo,
 * startHi}; output float32 of `shape` whose element i is draw start + i of the stream (k0, k1),
 * transformed, with start = startHi·2³² + startLo.
 */
export const NOISE_KERNEL = 'CtquantNoise';

/**
 * Adam's update of n variables: inputs {g0, m0, v0, x0, …, g(n−1), …}, attrs {beta1, beta2,
 * stepSize, epsilonHat, rateScales [n]}. m and v are rewritten in place, so each must be the only
 * user of its data (train/adam.ts makes sure); x is rewritten in place too (webgpu: no outputs) or
 * returned as n fresh tensors x0', … (wasm, whose XNNPACK caches filters by data id), which
 * train/adam.ts assigns. Same arithmetic as train/adam.ts's tf ops.
 */
export const ADAM_UPDATE_KERNEL = 'CtquantAdamUpdate';

/**
 * Σ over pixels of xᵀ·dy, added in a fixed order (so the same inputs give the same bits):
 * inputs {x [B, h, w, Cin], dy [B, h, w, Cols]} → [Cin, Cols]. The up-convolution's kernel gradient.
 */
export const PIXEL_OUTER_SUM_KERNEL = 'CtquantPixelOuterSum';
