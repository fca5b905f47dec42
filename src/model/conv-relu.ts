/**
 * conv 3×3 'same' + bias + ReLU as one fused kernel, in training too. tfjs's fused conv op runs
 * unfused (conv, add, relu: three kernels, each saving its input for the gradient) whenever a
 * gradient is being recorded and the activation is not linear; here the `FusedConv2D` kernel runs
 * under a hand-written gradient: dy' = dy·[y > 0], then the conv's input, filter and bias gradients.
 * The U-Net without normalisation has 18 such convs per step.
 */
import * as tf from '@tensorflow/tfjs';
import { RELU_GRADIENT_KERNEL } from '../backend/kernel-names.js';
import { KernelBiasLayer } from './kernel-bias-layer.js';

const CONV_ATTRS = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', dilations: [1, 1] } as const;

/** x [B, H, W, Cin], kernel [3, 3, Cin, Cout], bias [Cout] → relu(conv(x, kernel) + bias) [B, H, W, Cout]. */
export function conv3x3BiasRelu(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor1D): tf.Tensor4D {
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, filter, b] = args as [tf.Tensor4D, tf.Tensor4D, tf.Tensor1D];
    const save = args[3] as tf.GradSaveFunc;
    const y = tf.engine().runKernel('FusedConv2D', { x: input, filter, bias: b }, { ...CONV_ATTRS, activation: 'relu' }) as tf.Tensor4D;
    save([input, filter, y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sx, sFilter, sy] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
        const dyActive = reluGradient(dy, sy) as tf.Tensor4D;
        const dx = tf.conv2dTranspose(dyActive, sFilter, sx.shape, 1, 'same');
        const dFilter = tf.engine().runKernel('Conv2DBackpropFilter', { x: sx, dy: dyActive },
          { strides: CONV_ATTRS.strides, pad: CONV_ATTRS.pad, dataFormat: CONV_ATTRS.dataFormat, filterShape: sFilter.shape }) as tf.Tensor;
        const dBias = tf.sum(dyActive, [0, 1, 2]);
        return [dx, dFilter, dBias];
      },
    };
  });
  return op(x, kernel, bias) as tf.Tensor4D;
}

/** dy·[y > 0] for y = relu(·): one kernel where the backend has ctquant's (webgpu), else Step and Multiply. */
export function reluGradient(dy: tf.Tensor, y: tf.Tensor): tf.Tensor {
  if (dy.dtype === 'float32' && tf.getKernel(RELU_GRADIENT_KERNEL, tf.getBackend())) {
    return tf.engine().runKernel(RELU_GRADIENT_KERNEL, { dy, y }) as tf.Tensor;
  }
  return tf.mul(dy, tf.step(y));
}

/**
 * The layer form: Keras Conv2D(filters, 3, padding 'same', activation 'relu') with Glorot-uniform
 * kernel and zero bias, weights named `kernel` and `bias` as Keras names them.
 * Shapes: [B, H, W, Cin] → [B, H, W, filters].
 */
export class ConvReLU extends KernelBiasLayer {
  static className = 'ConvReLU';

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const cin = KernelBiasLayer.inputChannels(inputShape);
    this.addKernelAndBias([3, 3, cin, this.filters], tf.initializers.glorotUniform({ seed: this.seed }));
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [b, h, w] = inputShape as tf.Shape;
    return [b!, h!, w!, this.filters];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = (Array.isArray(inputs) ? inputs[0]! : inputs) as tf.Tensor4D;
    const { kernel, bias } = this.kernelAndBias();
    return conv3x3BiasRelu(x, kernel as tf.Tensor4D, bias);
  }
}
tf.serialization.registerClass(ConvReLU);
