/**
 * The ReLU's gradient from its output, dx = dy·[y > 0], as one element-wise WGSL pass (tf ops take
 * two: `Step`, then `Multiply`, with a full-size temporary between them). NaN in y gives NaN, as
 * tf.step does, so a diverged forward pass is not hidden.
 */
import { FlatOutputProgram, mainHeader } from './program-util.js';

const THREADS = 256;

export class ReluGradientProgram extends FlatOutputProgram {
  variableNames = ['dy', 'y'];
  shaderKey = 'ctquantReluGradient';

  constructor(shape: number[]) {
    super(shape, THREADS);
  }

  getUserCode(): string {
    return `
      ${mainHeader('index')} {
        if (index < uniforms.size) {
          let v = y[index];
          // NaN test on the bits: compilers may fold v != v to false.
          let isNan = (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u;
          result[index] = select(select(0.0, dy[index], v > 0.0), v, isNan);
        }
      }
    `;
  }
}
