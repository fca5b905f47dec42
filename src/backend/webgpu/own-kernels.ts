/**
 * ctquant's webgpu kernels that every webgpu run has, the benchmarks' stock kernel set included
 * (unlike kernels.ts's, which restoreStockWebgpuKernels takes away): the counter-based noise, the
 * fused Adam update and the up-convolution's kernel gradient. Registered when the backend loads
 * (node-gpu.ts); the maths code calls them by name (kernel-names.ts) and falls back to tf ops
 * where a backend has none.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { ADAM_UPDATE_KERNEL, NOISE_KERNEL, PIXEL_OUTER_SUM_KERNEL, type NoiseTransform } from '../kernel-names.js';
import { overrideKernel } from '../kernel-override.js';
import { WebgpuAdamUpdater, type AdamSlot } from './adam.js';
import { NoiseProgram } from './noise.js';

const BACKEND = 'webgpu';

/** Registers the kernels of this module for backend 'webgpu' (idempotent). */
export function registerWebgpuOwnKernels(): void {
  overrideKernel(BACKEND, NOISE_KERNEL, () => noise as unknown as KernelFunc);
  overrideKernel(BACKEND, ADAM_UPDATE_KERNEL, () => adamUpdate as unknown as KernelFunc);
  overrideKernel(BACKEND, PIXEL_OUTER_SUM_KERNEL, () => pixelOuterSum as unknown as KernelFunc);
}

interface NoiseArgs {
  backend: WebGPUBackend;
  attrs: { shape: number[]; transform: NoiseTransform; k0: number; k1: number; startLo: number; startHi: number };
}

/** Draws startHi·2³² + startLo … of the stream (k0, k1), transformed, as float32 of `shape` (noise.ts). */
function noise({ backend, attrs }: NoiseArgs): TensorInfo {
  const uniforms = [
    { type: 'uint32', data: [attrs.k0] },
    { type: 'uint32', data: [attrs.k1] },
    { type: 'uint32', data: [attrs.startLo] },
    { type: 'uint32', data: [attrs.startHi] },
  ];
  return backend.runWebGPUProgram(new NoiseProgram(attrs.shape, attrs.transform), [], 'float32', uniforms);
}

/** One updater (pipeline and parameter buffer) per backend instance, kept while it lives. */
const updaters = new WeakMap<WebGPUBackend, WebgpuAdamUpdater>();

interface AdamUpdateArgs {
  inputs: Record<string, TensorInfo>;
  backend: WebGPUBackend;
  attrs: { beta1: number; beta2: number; stepSize: number; epsilonHat: number; rateScales: number[] };
}

/** Adam's update of every (g_i, m_i, v_i, x_i), in place, one dispatch each; no outputs (kernel-names.ts). */
function adamUpdate({ inputs, backend, attrs }: AdamUpdateArgs): TensorInfo[] {
  let updater = updaters.get(backend);
  if (!updater) {
    updater = new WebgpuAdamUpdater(backend);
    updaters.set(backend, updater);
  }
  const slots: AdamSlot[] = attrs.rateScales.map((rateScale, i) => {
    const [g, m, v, x] = ['g', 'm', 'v', 'x'].map((k) => inputs[`${k}${i}`]);
    if (!g || !m || !v || !x) throw new Error(`${ADAM_UPDATE_KERNEL}: inputs g${i}, m${i}, v${i}, x${i} expected`);
    for (const t of [m, v, x]) {
      if (!updater.ownsBuffer(t)) throw new Error(`${ADAM_UPDATE_KERNEL}: m${i}, v${i}, x${i} must be float32 and the only users of their data`);
    }
    return { g, m, v, x, rateScale };
  });
  updater.apply(slots, attrs);
  return [];
}

interface PixelOuterSumArgs {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: WebGPUBackend;
}

/**
 * x [B, h, w, Cin], dy [B, h, w, Cols] → [Cin, Cols]: the filter gradient of a 1×1 convolution,
 * through the Conv2DBackpropFilter kernel registered now (kernels.ts's adds in a fixed order; the
 * stock kernel's split-K matmul adds with float atomics, in an order that changes run to run).
 */
function pixelOuterSum({ inputs, backend }: PixelOuterSumArgs): TensorInfo {
  const { x, dy } = inputs;
  const cin = x.shape[3]!;
  const cols = dy.shape[3]!;
  const run = (name: string, kernelInputs: Record<string, TensorInfo>, attrs: unknown) =>
    tf.getKernel(name, BACKEND).kernelFunc({ inputs: kernelInputs, backend, attrs: attrs as NamedAttrMap }) as TensorInfo;
  const dW = run('Conv2DBackpropFilter', { x, dy },
    { strides: [1, 1], pad: 'valid', dataFormat: 'NHWC', dimRoundingMode: undefined, filterShape: [1, 1, cin, cols] });
  const out = run('Reshape', { x: dW }, { shape: [cin, cols] });
  backend.disposeData(dW.dataId);
  return out;
}
