/**
 * The shell the U-Net's own conv layers share (UpConv2x2, ConvReLU): `filters` output channels, a
 * seeded kernel and a zero bias named `kernel` and `bias` as Keras names them, and the config that
 * saves and restores both settings. Subclasses choose the kernel's shape and initialiser and `call`.
 */
import * as tf from '@tensorflow/tfjs';

export type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

export abstract class KernelBiasLayer extends tf.layers.Layer {
  readonly filters: number;
  readonly seed: number;
  private kernel: tf.LayerVariable | null = null;
  private bias: tf.LayerVariable | null = null;

  constructor(config: { filters: number; seed: number } & LayerArgs) {
    super(config);
    this.filters = config.filters;
    this.seed = config.seed;
  }

  /** Creates the kernel (shape and initialiser from the subclass) and the zero bias [filters]. */
  protected addKernelAndBias(kernelShape: number[], initializer: ReturnType<typeof tf.initializers.zeros>): void {
    this.kernel = this.addWeight('kernel', kernelShape, 'float32', initializer);
    this.bias = this.addWeight('bias', [this.filters], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  /** The current kernel and bias values. */
  protected kernelAndBias(): { kernel: tf.Tensor; bias: tf.Tensor1D } {
    if (!this.kernel || !this.bias) throw new Error(`${this.getClassName()} is not built yet`);
    return { kernel: this.kernel.read(), bias: this.bias.read() as tf.Tensor1D };
  }

  /** Input channels of a channels-last input shape. */
  protected static inputChannels(inputShape: tf.Shape | tf.Shape[]): number {
    const shape = inputShape as tf.Shape;
    return shape[shape.length - 1]!;
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), filters: this.filters, seed: this.seed };
  }
}
