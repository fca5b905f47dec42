/**
 * Group normalisation (Wu & He 2018) over channels-last input: statistics per image and per group
 * of channels, so it behaves the same in training and evaluation and with batch size 1.
 *
 * - groupStandardize / GroupNormalization: x̂ = (x − μ)/σ (and the affine γ·x̂ + β) with the
 *   gradient written out (autodiff of tf.moments emits several times as many small kernels).
 * - groupNormRelu / GroupNormReLU: normalisation, affine and the ReLU after it as one operation:
 *   what the U-Net uses. Autodiff of the three layers records ~45 tfjs operations per convolution
 *   (with a saved copy of most intermediates); on WebGPU each costs CPU time to issue, on wasm each
 *   is a pass over the tensor, so there each direction is one ctquant kernel
 *   (backend/webgpu/group-norm.ts, backend/wasm/simd-group-norm.ts).
 *
 * Backward of the fused form: dy = dz·[z > 0]; dγ = Σ dy·x̂, dβ = Σ dy (over B, H, W);
 * dx = (g − mean(g) − x̂·mean(g·x̂)) / σ with g = dy·γ, means over each group.
 * Shapes: x [B, H, W, C] → [B, H, W, C]; γ, β [C]; groups divides C.
 */
import * as tf from '@tensorflow/tfjs';
import { reluGradient } from './conv-relu.js';
import type { LayerArgs } from './kernel-bias-layer.js';
import { GROUP_NORM_RELU_GRAD_KERNEL, GROUP_NORM_RELU_KERNEL } from '../backend/kernel-names.js';
import { WASM_GROUP_NORM_FLAG } from '../backend/flags.js';

/**
 * The gradient of x̂ = (x − μ)/σ (per image and group) in the grouped view [B, H·W, G, C/G]:
 * dx = (g − mean(g) − x̂·mean(g·x̂)) / σ, means over each group (axes 1 and 3); g = ∂L/∂x̂.
 */
export function groupStandardizeGradient(g: tf.Tensor, xHat: tf.Tensor, invStd: tf.Tensor): tf.Tensor {
  const meanG = tf.mean(g, [1, 3], true);
  const meanGX = tf.mean(tf.mul(g, xHat), [1, 3], true);
  return tf.mul(tf.sub(tf.sub(g, meanG), tf.mul(xHat, meanGX)), invStd);
}

/**
 * relu(γ·x̂ + β) with x̂ group-normalised: one kernel each way where the backend has ctquant's
 * (webgpu; wasm unless CTQUANT_WASM_GROUP_NORM is false), else tf ops.
 */
export function groupNormRelu(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, epsilon: number): tf.Tensor4D {
  if (x.dtype === 'float32' && ownKernelsOn(tf.getBackend())) return groupNormReluKernel(x, gamma, beta, groups, epsilon);
  return groupNormReluOps(x, gamma, beta, groups, epsilon);
}

function ownKernelsOn(backend: string): boolean {
  if (backend === 'wasm' && !tf.env().getBool(WASM_GROUP_NORM_FLAG)) return false;
  return Boolean(tf.getKernel(GROUP_NORM_RELU_KERNEL, backend) && tf.getKernel(GROUP_NORM_RELU_GRAD_KERNEL, backend));
}

function groupNormReluKernel(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, epsilon: number): tf.Tensor4D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, g, bt] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const [z, stats] = tf.engine().runKernel(GROUP_NORM_RELU_KERNEL, { x: input, gamma: g, beta: bt }, { groups, epsilon }) as tf.Tensor[];
    // x, not x̂ or z: the backward recomputes both from x and the (B·G·2) stats, so no full-size copy is kept.
    save([input, g, bt, stats!]);
    return {
      value: z as tf.Tensor4D,
      gradFunc: (dz: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sGamma, sBeta, sStats] = saved as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D, tf.Tensor];
        return tf.engine().runKernel(GROUP_NORM_RELU_GRAD_KERNEL, { dz, x: sx, gamma: sGamma, beta: sBeta, stats: sStats }, { groups }) as tf.Tensor[];
      },
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}

/** The tf-ops form (every backend): the gradient written out, normalisation, affine and ReLU as one customGrad. */
export function groupNormReluOps(x: tf.Tensor4D, gamma: tf.Tensor1D, beta: tf.Tensor1D, groups: number, epsilon: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const grouped: [number, number, number, number] = [b, h * w, groups, c / groups];
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, g, bt] = args as [tf.Tensor4D, tf.Tensor1D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const view = tf.reshape(input, grouped);
    const { mean, variance } = tf.moments(view, [1, 3], true);
    const invStd = tf.rsqrt(tf.add(variance, epsilon));
    const xHat = tf.reshape(tf.mul(tf.sub(view, mean), invStd), [b, h, w, c]);
    const z = tf.relu(tf.add(tf.mul(xHat, g), bt)) as tf.Tensor4D;
    save([xHat, invStd, g, z]);
    return {
      value: z,
      gradFunc: (dz: tf.Tensor, saved: tf.Tensor[]) => {
        const [sXHat, sInvStd, sGamma, sz] = saved as [tf.Tensor4D, tf.Tensor, tf.Tensor1D, tf.Tensor4D];
        const dy = reluGradient(dz, sz);
        const dGamma = tf.sum(tf.mul(dy, sXHat), [0, 1, 2]);
        const dBeta = tf.sum(dy, [0, 1, 2]);
        const dXHat = tf.reshape(tf.mul(dy, sGamma), grouped);
        const dx = tf.reshape(groupStandardizeGradient(dXHat, tf.reshape(sXHat, grouped), sInvStd), [b, h, w, c]);
        return [dx, dGamma, dBeta];
      },
    };
  });
  return op(x, gamma, beta) as tf.Tensor4D;
}

/**
 * (x − μ) / σ per image and channel group, with its gradient written out:
 * dx = (g − mean(g) − x̂·mean(g·x̂)) / σ, means over each group. Autodiff of tf.moments emits
 * several times as many small kernels, which on wasm cost more than the arithmetic.
 * x: [B, H, W, C] → same shape, standardised.
 */
export function groupStandardize(x: tf.Tensor4D, groups: number, epsilon: number): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const shape: [number, number, number, number] = [b, h * w, groups, c / groups];
  const standardize = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const input = args[0] as tf.Tensor;
    const save = args[1] as tf.GradSaveFunc;
    const grouped = tf.reshape(input, shape);
    const { mean, variance } = tf.moments(grouped, [1, 3], true);
    const invStd = tf.rsqrt(tf.add(variance, epsilon));
    const xHat = tf.mul(tf.sub(grouped, mean), invStd);
    save([xHat, invStd]);
    return {
      value: tf.reshape(xHat, [b, h, w, c]),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [savedXHat, savedInvStd] = saved as [tf.Tensor, tf.Tensor];
        return tf.reshape(groupStandardizeGradient(tf.reshape(dy, shape), savedXHat, savedInvStd), [b, h, w, c]);
      },
    };
  });
  return standardize(x) as tf.Tensor4D;
}

/**
 * Group normalisation and its affine as a layer (weights `gamma`, `beta` [C]); the base of
 * GroupNormReLU, which buildUNet uses. Registered, so U-Nets saved with it still load.
 */
export class GroupNormalization extends tf.layers.Layer {
  static className = 'GroupNormalization';
  readonly groups: number;
  readonly epsilon: number;
  protected gamma: tf.LayerVariable | null = null;
  protected beta: tf.LayerVariable | null = null;

  constructor(config: { groups: number; epsilon?: number } & LayerArgs) {
    super(config);
    this.groups = config.groups;
    this.epsilon = config.epsilon ?? 1e-5;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = inputShape as tf.Shape;
    const c = shape[shape.length - 1]!;
    if (c % this.groups !== 0) throw new Error(`${this.getClassName()}: ${this.groups} groups do not divide ${c} channels`);
    this.gamma = this.addWeight('gamma', [c], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('beta', [c], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
      const normed = groupStandardize(x, this.groups, this.epsilon);
      return tf.add(tf.mul(normed, this.gamma!.read()), this.beta!.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), groups: this.groups, epsilon: this.epsilon };
  }
}
tf.serialization.registerClass(GroupNormalization);

/**
 * The layer form of groupNormRelu: GroupNormalization's weights (`gamma` ones, `beta` zeros [C])
 * and settings, with the ReLU after it, so checkpoints keep their variables.
 */
export class GroupNormReLU extends GroupNormalization {
  static override className = 'GroupNormReLU';

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
    return groupNormRelu(x, this.gamma!.read() as tf.Tensor1D, this.beta!.read() as tf.Tensor1D, this.groups, this.epsilon);
  }
}
tf.serialization.registerClass(GroupNormReLU);
