/**
 * The ReLU's gradient from its output (kernel-names.ts RELU_GRADIENT_KERNEL) on wasm: one SIMD pass
 * (simd-memory-programs.ts reluGradient) instead of tf's Step and Multiply, two kernels and two
 * passes for each of the U-Net's 18 convolutions per step; the same bits as those two kernels.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { RELU_GRADIENT_KERNEL } from '../kernel-names.js';
import { overrideKernel } from '../kernel-override.js';
import type { WasmHeapBackend } from './heap.js';
import { address, programsFor } from './simd-conv.js';

interface ReluGradientArgs {
  inputs: { dy: TensorInfo; y: TensorInfo };
  backend: WasmHeapBackend;
}

/** dy·step(y): whole vectors in the program, the last n mod 4 floats as tf computes them. */
function reluGradient({ inputs, backend }: ReluGradientArgs): TensorInfo {
  const { dy, y } = inputs;
  const n = dy.shape.reduce((a, b) => a * b, 1);
  if (dy.dtype !== 'float32' || y.dtype !== 'float32' || y.shape.reduce((a, b) => a * b, 1) !== n) {
    throw new Error(`${RELU_GRADIENT_KERNEL}: dy and y must be float32 of one size`);
  }
  const programs = programsFor(backend);
  if (!programs) throw new Error(`${RELU_GRADIENT_KERNEL}: this runtime has no wasm SIMD`);
  const out = backend.makeOutput(dy.shape, 'float32');
  const vectorFloats = n - (n % 4);
  programs.run('reluGradient', [[address(backend, dy), address(backend, y), address(backend, out), vectorFloats * 4]]);
  if (vectorFloats < n) {
    const [g, v, o] = [dy, y, out].map((t) => backend.typedArrayFromHeap(t)) as Float32Array[];
    for (let i = vectorFloats; i < n; i++) {
      const yi = v![i]!;
      o![i] = g![i]! * (yi > 0 ? 1 : Number.isNaN(yi) ? NaN : 0);
    }
  }
  return out;
}

/** Registers RELU_GRADIENT_KERNEL for wasm (model/conv-relu.ts uses it where registered). */
export function registerWasmReluGradientKernel(): void {
  overrideKernel('wasm', RELU_GRADIENT_KERNEL, () => reluGradient as unknown as KernelFunc);
}
