/**
 * The 3D U-Net for a k-slice stack (issue 21, `context.network: "3d"`; Çiçek et al. 2016): the
 * same encoder–decoder as unet.ts, with every 3×3 convolution a 3×3×3 one over (depth, H, W).
 * Depth is the k adjacent slices and is never pooled: max-pool 1×2×2 and the up-convolution act
 * in-plane only, so every level keeps all k slices; the head takes the centre slice after the
 * last block, then 1×1 conv + sigmoid with the prior bias, as the 2D head.
 *
 * Per level: conv3x3x3 (same) – [norm] – ReLU ×2 (group/instance norm: GroupNormReLU3D, the 2D
 * operation over a view with depth folded into the rows, statistics per image and group over
 * D, H, W); pool 1×2×2; up path: UpConv2x2 per slice, skip concatenation [up, skip], conv block.
 * Glorot-uniform kernels and zero biases, each initializer seeded from `seed`: deterministic.
 *
 * Kernels (tfjs 4.22): tf.layers.conv3d runs Conv3D, and training Conv3DBackpropInputV2 and
 * Conv3DBackpropFilterV2; wasm and webgpu register all three. Pooling and up-convolution fold
 * depth into the batch and run the 2D kernels (MaxPool/MaxPoolGrad, matMul), not MaxPool3D.
 *
 * Input [B, H, W, k] normalised to [0, 1], k ≥ 3 slices (odd; the centre one is predicted);
 * output [B, H, W, 1] lesion probabilities of the centre slice. H, W divisible by 2^depth.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { GroupNormReLU, groupNormRelu } from './group-norm.js';
import type { LayerArgs } from './kernel-bias-layer.js';
import { UpConv2x2, checkUNetConfig, encoderDecoder, normReluBlock, type UNetConfig } from './unet.js';

/** The network over a k-slice stack: `2.5d` = slices as input channels of the 2D U-Net; `3d` = this file's. */
export type ContextNetwork = '2.5d' | '3d';

/** Folds depth into the batch: [B, D, H, W, C] → [B·D, H, W, C]. */
function foldDepth(x: tf.Tensor): tf.Tensor4D {
  const [b, d, h, w, c] = x.shape as [number, number, number, number, number];
  return tf.reshape(x, [b * d, h, w, c]);
}

/** Unfolds [B·D, H, W, C] back to [B, D, H, W, C] for a known depth. */
function unfoldDepth(x: tf.Tensor, depth: number): tf.Tensor5D {
  const [bd, h, w, c] = x.shape as [number, number, number, number];
  return tf.reshape(x, [bd / depth, depth, h, w, c]);
}

/**
 * Group normalisation + ReLU over [B, D, H, W, C]: the 2D operation on the view [B, D·H, W, C],
 * whose statistics per image and group run over D·H·W, exactly those of a 5-D group norm.
 * Same weights (`gamma`, `beta` [C]) and settings as GroupNormReLU.
 */
export class GroupNormReLU3D extends GroupNormReLU {
  static override className = 'GroupNormReLU3D';

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor5D;
    const [b, d, h, w, c] = x.shape;
    const view = tf.reshape(x, [b, d * h, w, c]) as tf.Tensor4D;
    const z = groupNormRelu(view, this.gamma!.read() as tf.Tensor1D, this.beta!.read() as tf.Tensor1D, this.groups, this.epsilon);
    return tf.reshape(z, [b, d, h, w, c]);
  }
}
tf.serialization.registerClass(GroupNormReLU3D);

/** Max-pool 1×2×2 (in-plane, depth kept): [B, D, H, W, C] → [B, D, H/2, W/2, C], via the 2D MaxPool. */
export class InPlaneMaxPool extends tf.layers.Layer {
  static className = 'InPlaneMaxPool';

  constructor(config: LayerArgs = {}) {
    super(config);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, d, h, w, c] = inputShape as tf.Shape;
    return [b!, d!, h === null ? null : h! / 2, w === null ? null : w! / 2, c!];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor5D;
      return unfoldDepth(tf.maxPool(foldDepth(x), 2, 2, 'valid'), x.shape[1]);
    });
  }
}
tf.serialization.registerClass(InPlaneMaxPool);

/** UpConv2x2 applied to each slice: [B, D, h, w, Cin] → [B, D, 2h, 2w, filters]; kernel [Cin, 4·filters]. */
export class InPlaneUpConv extends UpConv2x2 {
  static override className = 'InPlaneUpConv';

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, d, ...rest] = inputShape as tf.Shape;
    return [b!, d!, ...(super.computeOutputShape([b!, ...rest]) as tf.Shape).slice(1)];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor5D;
    return unfoldDepth(super.call(foldDepth(x)), x.shape[1]);
  }
}
tf.serialization.registerClass(InPlaneUpConv);

/** The centre slice of the depth axis: [B, D, H, W, C] → [B, H, W, C], D odd. */
export class CentreSlice extends tf.layers.Layer {
  static className = 'CentreSlice';

  constructor(config: LayerArgs = {}) {
    super(config);
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, , h, w, c] = inputShape as tf.Shape;
    return [b!, h!, w!, c!];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor5D;
      const [b, d, h, w, c] = x.shape;
      return tf.reshape(tf.slice(x, [0, (d - 1) / 2, 0, 0, 0], [b, 1, h, w, c]), [b, h, w, c]);
    });
  }
}
tf.serialization.registerClass(CentreSlice);

/**
 * Builds the 3D U-Net described at the top of this file; a new, seeded tf.LayersModel each call.
 * `inputChannels` is the number of slices k: odd and ≥ 3 (with one slice a 3×3×3 kernel sees
 * only zero padding above and below: use the 2D U-Net).
 */
export function buildUNet3D(config: UNetConfig): tf.LayersModel {
  checkUNetConfig(config);
  const k = config.inputChannels ?? 1;
  if (!(k >= 3 && k % 2 === 1)) throw new RangeError(`the 3d network needs an odd number of context slices ≥ 3, got ${k}`);
  const { height, width, depth, baseFilters, normalization } = config;
  const prior = config.outputPrior ?? 0.5;
  const rng = new Rng(config.seed);
  const nextSeed = () => rng.int(2 ** 31 - 1);
  // Without normalisation the convolution applies its ReLU itself.
  const normReluLayers = normReluBlock(normalization, (c) => new GroupNormReLU3D(c));
  const normRelu = (x: tf.SymbolicTensor, channels: number, name: string): tf.SymbolicTensor =>
    normalization === 'none' ? x : normReluLayers(x, channels, name);
  const conv = (x: tf.SymbolicTensor, filters: number, name: string): tf.SymbolicTensor => {
    const y = tf.layers.conv3d({
      filters, kernelSize: 3, padding: 'same', name,
      ...(normalization === 'none' ? { activation: 'relu' as const } : {}),
      kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
    }).apply(x) as tf.SymbolicTensor;
    return normRelu(y, filters, name);
  };
  const block = (x: tf.SymbolicTensor, filters: number, name: string) =>
    conv(conv(x, filters, `${name}_conv1`), filters, `${name}_conv2`);

  const input = tf.input({ shape: [height, width, k], name: 'image' });
  // [B, H, W, k] → [B, k, H, W, 1]: the slices become the depth axis.
  const slices = tf.layers.permute({ dims: [3, 1, 2], name: 'slices_first' }).apply(input) as tf.SymbolicTensor;
  const volume = tf.layers.reshape({ targetShape: [k, height, width, 1], name: 'volume' }).apply(slices) as tf.SymbolicTensor;
  const x = encoderDecoder(volume, depth, baseFilters, {
    block,
    pool: (level) => new InPlaneMaxPool({ name: `pool${level}` }),
    up: (filters, level) => new InPlaneUpConv({ filters, seed: nextSeed(), name: `up${level}` }),
  });
  const centre = new CentreSlice({ name: 'centre' }).apply(x) as tf.SymbolicTensor;
  const output = tf.layers.conv2d({
    filters: 1, kernelSize: 1, activation: 'sigmoid', name: 'head',
    kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
    biasInitializer: tf.initializers.constant({ value: Math.log(prior / (1 - prior)) }),
  }).apply(centre) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'unet3d' });
}
