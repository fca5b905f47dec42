/**
 * Training kernels for tfjs-backend-webgpu 4.22.0 that replace stock ones which leave a GPU idle.
 *
 * - `Conv2DBackpropFilter`: split-K GEMM (conv2d-backprop-filter.ts). It serves both the 3×3
 *   convolutions and the 2×2 stride-2 transposed convolutions: tfjs differentiates
 *   conv2dTranspose (kernel `Conv2DBackpropInput`) into a `Conv2D` for its input and a
 *   `Conv2DBackpropFilter(x = upstream gradient, dy = transposed conv's input)` for its filter.
 *
 * Registration swaps the kernel in tfjs's global registry; `restoreStockWebgpuKernels()` puts the
 * stock ones back (the benchmark compares both in one process).
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import {
  FilterGradPartialProgram,
  SumChunksProgram,
  geometryFromConvInfo,
  planFilterGrad,
} from './conv2d-backprop-filter.js';

const BACKEND = 'webgpu';

/** Kernel names this module overrides, in registration order. */
export const WEBGPU_TRAINING_KERNELS = ['Conv2DBackpropFilter'] as const;

const stock = new Map<string, KernelConfig>();
let active = false;

/** Registers the faster training kernels for backend 'webgpu' (idempotent). Call after tf.setBackend('webgpu'). */
export function registerWebgpuTrainingKernels(): void {
  if (active) return;
  replaceKernel('Conv2DBackpropFilter', conv2dBackpropFilter as unknown as KernelFunc);
  active = true;
}

/** Puts tfjs-backend-webgpu's own kernels back (no-op unless registered). */
export function restoreStockWebgpuKernels(): void {
  if (!active) return;
  for (const name of WEBGPU_TRAINING_KERNELS) {
    const config = stock.get(name);
    tf.unregisterKernel(name, BACKEND);
    if (config) tf.registerKernel(config);
  }
  active = false;
}

/** Whether the kernels of this module are the registered ones. */
export function webgpuTrainingKernelsActive(): boolean {
  return active;
}

function replaceKernel(name: string, kernelFunc: KernelFunc): void {
  const existing = tf.getKernelsForBackend(BACKEND).find((k) => k.kernelName === name);
  if (existing) {
    if (!stock.has(name)) stock.set(name, existing);
    tf.unregisterKernel(name, BACKEND);
  }
  tf.registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc });
}

interface BackpropFilterArgs {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: WebGPUBackend;
  attrs: {
    strides: number | [number, number];
    pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
}

/**
 * dW [KH, KW, Cin, Cout] from x [B, H, W, Cin] and dy [B, Ho, Wo, Cout], float32, NHWC.
 * NCHW is left to the stock kernel.
 */
function conv2dBackpropFilter({ inputs, backend, attrs }: BackpropFilterArgs): TensorInfo {
  const { x, dy } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  const stockKernel = stock.get('Conv2DBackpropFilter');
  if (dataFormat === 'NCHW' && stockKernel) {
    return stockKernel.kernelFunc({ inputs, backend, attrs: attrs as unknown as tf.NamedAttrMap }) as TensorInfo;
  }
  const convInfo = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    strides,
    1,
    pad,
    dimRoundingMode,
    false,
    'channelsLast',
  );
  const geometry = geometryFromConvInfo(convInfo);
  const plan = planFilterGrad(geometry);
  const partial = backend.runWebGPUProgram(new FilterGradPartialProgram(geometry, plan), [x, dy], 'float32');
  const result = backend.runWebGPUProgram(new SumChunksProgram(filterShape, plan.chunks), [partial], 'float32');
  backend.disposeData(partial.dataId);
  return result;
}
