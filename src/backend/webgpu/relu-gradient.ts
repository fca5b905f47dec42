/**
 * The ReLU's gradient from its output, dx = dy·[y > 0], as one element-wise WGSL pass (tf ops take
 * two: `Step`, then `Multiply`, with a full-size temporary between them). NaN in y gives NaN, as
 * tf.step does, so a diverged forward pass is not hidden.
 */
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu/dist/webgpu_program.js';
import { flatDispatch, mainHeader } from './program-util.js';

const THREADS = 256;

export class ReluGradientProgram implements WebGPUProgram {
  variableNames = ['dy', 'y'];
  outputShape: number[];
  shaderKey = 'ctquantReluGradient';
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [THREADS, 1, 1];
  size = true;

  constructor(shape: number[]) {
    this.outputShape = shape;
    this.dispatchLayout = { x: shape.map((_, i) => i) };
    this.dispatch = flatDispatch(shape.reduce((a, b) => a * b, 1), THREADS);
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
