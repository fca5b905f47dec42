/**
 * The lesion-segmentation U-Net (Ronneberger et al. 2015) as a tf.LayersModel, so it saves and
 * loads with tfjs's own format: `depth` poolings, width baseFilters·2^level, per level
 * conv3x3 (same) – [norm] – ReLU ×2 (without norm: ConvReLU, one fused kernel; group/instance norm +
 * ReLU: GroupNormReLU, one operation), max-pool 2; up path: transposed conv 2×2 stride 2, skip
 * concatenation [up, skip], conv block; head: 1×1 conv + sigmoid. Glorot-uniform kernels and zero
 * biases (Keras defaults), each initializer seeded from `seed`, so the model is deterministic.
 *
 * Input [B, H, W, C] normalised to [0, 1] (the caller divides native counts by 2^nativeBits − 1),
 * C = inputChannels (1, or k neighbouring slices for 2.5D: only the first convolution sees C);
 * output [B, H, W, 1] lesion probabilities. H and W must be divisible by 2^depth.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { ConvReLU } from './conv-relu.js';
import { GroupNormReLU } from './group-norm.js';
import { upConv2x2 } from './up-conv.js';
import { KernelBiasLayer, type LayerArgs } from './kernel-bias-layer.js';

/**
 * - `none`: no normalisation (trains fine at these depths with Adam; the default);
 * - `batch`: tf.layers.batchNormalization; uses batch statistics only when applied with
 *   `{training: true}` (pass it in the training loop) and moving averages otherwise;
 * - `group`: group normalisation with min(8, channels) groups (batch-independent, same in training and evaluation);
 * - `instance`: group normalisation with one group per channel.
 */
export type Normalization = 'none' | 'batch' | 'group' | 'instance';

export interface UNetConfig {
  height: number;
  width: number;
  /** Number of poolings; the bottleneck has baseFilters·2^depth channels. */
  depth: number;
  baseFilters: number;
  normalization: Normalization;
  seed: number;
  /**
   * Initial lesion probability of every output pixel (the head's bias is set to its logit);
   * default 0.5 (bias 0). A small prior (~ the lesion share) skips the early phase in which the
   * network only learns to predict background, a phase in which short runs collapse.
   */
  outputPrior?: number;
  /** Channels of the input image: 1 (default), or k adjacent slices of a volume (2.5D context). */
  inputChannels?: number;
}

/**
 * Transposed convolution 2×2, stride 2, as one matmul and a reshape: each input pixel writes its
 * own 2×2 output block, so y[b, 2h+i, 2w+j, :] = x[b, h, w, :] · K[:, (i, j, :)] + bias, one
 * operation with a written gradient (up-conv.ts): matMul/reshape/transpose, which every backend has
 * and runs fast (wasm's Conv2DBackpropInput, the usual forward of a transposed conv, is a naive loop).
 * Shapes: [B, H, W, Cin] → [B, 2H, 2W, filters]; kernel [Cin, 4·filters], bias [filters].
 */
export class UpConv2x2 extends KernelBiasLayer {
  static className = 'UpConv2x2';

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const cin = KernelBiasLayer.inputChannels(inputShape);
    // Glorot over a 2×2 kernel as for Conv2DTranspose: fan_in = 4·filters, fan_out = 4·Cin.
    const limit = Math.sqrt(6 / (4 * this.filters + 4 * cin));
    this.addKernelAndBias([cin, 4 * this.filters], tf.initializers.randomUniform({ minval: -limit, maxval: limit, seed: this.seed }));
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, h, w] = inputShape as tf.Shape;
    return [b!, h === null ? null : 2 * h!, w === null ? null : 2 * w!, this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
    const { kernel, bias } = this.kernelAndBias();
    return upConv2x2(x, kernel as tf.Tensor2D, bias);
  }
}
tf.serialization.registerClass(UpConv2x2);

/** Throws a RangeError for a config no U-Net (2D or 3D) can be built from. */
export function checkUNetConfig(c: UNetConfig): void {
  const scale = 2 ** c.depth;
  if (!Number.isInteger(c.depth) || c.depth < 1) throw new RangeError(`depth must be an integer ≥ 1, got ${c.depth}`);
  if (!Number.isInteger(c.baseFilters) || c.baseFilters < 1) throw new RangeError(`baseFilters must be ≥ 1, got ${c.baseFilters}`);
  if (c.height % scale !== 0 || c.width % scale !== 0) {
    throw new RangeError(`height and width (${c.height}×${c.width}) must be divisible by 2^depth = ${scale}`);
  }
  if (c.outputPrior !== undefined && !(c.outputPrior > 0 && c.outputPrior < 1)) {
    throw new RangeError(`outputPrior must be in (0, 1), got ${c.outputPrior}`);
  }
  if (c.inputChannels !== undefined && !(Number.isInteger(c.inputChannels) && c.inputChannels >= 1)) {
    throw new RangeError(`inputChannels must be a positive integer, got ${c.inputChannels}`);
  }
  if (!['none', 'batch', 'group', 'instance'].includes(c.normalization)) {
    throw new RangeError(`normalization must be none, batch, group or instance, got ${c.normalization}`);
  }
}

/**
 * A block's normalisation and the ReLU after it (the 2D and the 3D U-Net's): group norm with
 * min(8, channels) groups or instance norm (one group per channel) as one `groupNormLayer` operation,
 * batch norm then a ReLU, or (none) a plain ReLU.
 */
export function normReluBlock(
  normalization: Normalization,
  groupNormLayer: (config: { groups: number; name: string }) => tf.layers.Layer,
): (x: tf.SymbolicTensor, channels: number, name: string) => tf.SymbolicTensor {
  return (x, channels, name) => {
    switch (normalization) {
      case 'group':
        return groupNormLayer({ groups: Math.min(8, channels), name: `${name}_gn` }).apply(x) as tf.SymbolicTensor;
      case 'instance':
        return groupNormLayer({ groups: channels, name: `${name}_in` }).apply(x) as tf.SymbolicTensor;
      default: {
        const normed = normalization === 'batch' ? tf.layers.batchNormalization({ name: `${name}_bn` }).apply(x) as tf.SymbolicTensor : x;
        return tf.layers.reLU({ name: `${name}_relu` }).apply(normed) as tf.SymbolicTensor;
      }
    }
  };
}

/**
 * The U-Net's levels (the 2D and the 3D network's): per level a block, kept as the skip, then `pool`;
 * the bottom block; per level up `up`, concatenation with the skip, a block. Layers are made in this
 * order, so seeds drawn by `block` and `up` follow it. Widths baseFilters · 2^level.
 */
export function encoderDecoder(
  input: tf.SymbolicTensor,
  depth: number,
  baseFilters: number,
  layers: {
    block: (x: tf.SymbolicTensor, filters: number, name: string) => tf.SymbolicTensor;
    pool: (level: number) => tf.layers.Layer;
    up: (filters: number, level: number) => tf.layers.Layer;
  },
): tf.SymbolicTensor {
  let x = input;
  const skips: tf.SymbolicTensor[] = [];
  for (let level = 0; level < depth; level++) {
    x = layers.block(x, baseFilters * 2 ** level, `down${level}`);
    skips.push(x);
    x = layers.pool(level).apply(x) as tf.SymbolicTensor;
  }
  x = layers.block(x, baseFilters * 2 ** depth, 'bottom');
  for (let level = depth - 1; level >= 0; level--) {
    const filters = baseFilters * 2 ** level;
    const up = layers.up(filters, level).apply(x) as tf.SymbolicTensor;
    x = tf.layers.concatenate({ axis: -1, name: `concat${level}` }).apply([up, skips[level]!]) as tf.SymbolicTensor;
    x = layers.block(x, filters, `up${level}_block`);
  }
  return x;
}

/** Builds the U-Net described at the top of this file; a new, seeded tf.LayersModel each call. */
export function buildUNet(config: UNetConfig): tf.LayersModel {
  checkUNetConfig(config);
  const { height, width, depth, baseFilters, normalization } = config;
  const prior = config.outputPrior ?? 0.5;
  const rng = new Rng(config.seed);
  const nextSeed = () => rng.int(2 ** 31 - 1);
  // Normalisation and the ReLU after it. Group and instance norm run as one GroupNormReLU
  // operation (its layer keeps GroupNormalization's name and weights, so checkpoints carry over).
  const normRelu = normReluBlock(normalization, (config) => new GroupNormReLU(config));
  const conv = (x: tf.SymbolicTensor, filters: number, name: string): tf.SymbolicTensor => {
    if (normalization === 'none') {
      return new ConvReLU({ filters, seed: nextSeed(), name }).apply(x) as tf.SymbolicTensor;
    }
    const y = tf.layers.conv2d({
      filters, kernelSize: 3, padding: 'same', name,
      kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
    }).apply(x) as tf.SymbolicTensor;
    return normRelu(y, filters, name);
  };
  const block = (x: tf.SymbolicTensor, filters: number, name: string) =>
    conv(conv(x, filters, `${name}_conv1`), filters, `${name}_conv2`);

  const input = tf.input({ shape: [height, width, config.inputChannels ?? 1], name: 'image' });
  const x = encoderDecoder(input, depth, baseFilters, {
    block,
    pool: (level) => tf.layers.maxPooling2d({ poolSize: 2, strides: 2, name: `pool${level}` }),
    up: (filters, level) => new UpConv2x2({ filters, seed: nextSeed(), name: `up${level}` }),
  });
  const output = tf.layers.conv2d({
    filters: 1, kernelSize: 1, activation: 'sigmoid', name: 'head',
    kernelInitializer: tf.initializers.glorotUniform({ seed: nextSeed() }),
    biasInitializer: tf.initializers.constant({ value: Math.log(prior / (1 - prior)) }),
  }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output, name: 'unet' });
}
