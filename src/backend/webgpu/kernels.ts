/**
 * Training kernels for tfjs-backend-webgpu 4.22.0 that replace stock ones which leave a GPU idle.
 *
 * - `Conv2DBackpropFilter`: split-K GEMM (conv2d-backprop-filter.ts). It serves both the 3×3
 *   convolutions and the 2×2 stride-2 transposed convolutions: tfjs differentiates
 *   conv2dTranspose (kernel `Conv2DBackpropInput`) into a `Conv2D` for its input and a
 *   `Conv2DBackpropFilter(x = upstream gradient, dy = transposed conv's input)` for its filter.
 *
 * - `Conv2DBackpropInput`, stride 1: the forward conv of dy with the rotated filter
 *   (conv2d-backprop-input.ts); other strides go to the stock kernel.
 * - `Sum` over leading axes (bias gradients): two-pass column sums (column-sum.ts) instead of a
 *   transpose and a reduction; other reductions go to the stock kernel.
 * - ctquant's own `CtquantReluGradient` (relu-gradient.ts; no stock counterpart): the fused
 *   conv+ReLU layer's dy·[y > 0] in one pass.
 * - ctquant's own `CtquantGroupNormRelu` and its gradient (group-norm.ts): the U-Net's group norm,
 *   affine and ReLU, each direction one kernel of a few passes.
 *
 * Registration swaps the kernel in tfjs's global registry; `restoreStockWebgpuKernels()` puts the
 * stock ones back (the benchmark compares both in one process).
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { WebGPUProgram } from '@tensorflow/tfjs-backend-webgpu/dist/webgpu_program.js';
import {
  FilterGradPartialProgram,
  type FilterGradGeometry,
  geometryFromConvInfo,
  planFilterGrad,
} from './conv2d-backprop-filter.js';
import { ColumnSumPartialProgram, planColumnSum } from './column-sum.js';
import { ChunkSumProgram } from './chunk-sum.js';
import { RowFilterGradPartialProgram, planRowFilterGrad } from './conv3x3-filter-grad.js';
import { FlipFilterProgram } from './conv2d-backprop-input.js';
import { ROW_FILTER_GRAD_FLAG } from '../flags.js';
import { overrideKernel, restoreKernel } from '../kernel-override.js';
import { backpropInputPadding, leadingReduction } from '../kernel-geometry.js';
import { GROUP_NORM_RELU_GRAD_KERNEL, GROUP_NORM_RELU_KERNEL, RELU_GRADIENT_KERNEL } from '../kernel-names.js';
import { ReluGradientProgram } from './relu-gradient.js';
import {
  GroupNormInputGradProgram,
  GroupNormParamGradProgram,
  GroupNormPartialProgram,
  GroupNormReluApplyProgram,
  GroupStatsProgram,
  planGroupNorm,
  type GroupNormPlan,
} from './group-norm.js';

const BACKEND = 'webgpu';

/** Kernel names this module overrides, in registration order. */
export const WEBGPU_TRAINING_KERNELS = [
  'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'Sum', RELU_GRADIENT_KERNEL, GROUP_NORM_RELU_KERNEL, GROUP_NORM_RELU_GRAD_KERNEL,
] as const;

const stock = new Map<string, KernelConfig>();
let active = false;

/**
 * Registers the faster training kernels for backend 'webgpu' (idempotent). Call after
 * tf.setBackend('webgpu'). `groupNorm: false` leaves group norm to tf ops (the benchmark's A/B).
 */
export function registerWebgpuTrainingKernels({ groupNorm = true }: { groupNorm?: boolean } = {}): void {
  if (active) return;
  replaceKernel('Conv2DBackpropFilter', conv2dBackpropFilter as unknown as KernelFunc);
  replaceKernel('Conv2DBackpropInput', conv2dBackpropInput as unknown as KernelFunc);
  replaceKernel('Sum', sum as unknown as KernelFunc);
  replaceKernel(RELU_GRADIENT_KERNEL, reluGradient as unknown as KernelFunc);
  if (groupNorm) {
    replaceKernel(GROUP_NORM_RELU_KERNEL, groupNormRelu as unknown as KernelFunc);
    replaceKernel(GROUP_NORM_RELU_GRAD_KERNEL, groupNormReluGrad as unknown as KernelFunc);
  }
  active = true;
}

/** Puts tfjs-backend-webgpu's own kernels back and removes ctquant's own (no-op unless registered). */
export function restoreStockWebgpuKernels(): void {
  if (!active) return;
  for (const name of WEBGPU_TRAINING_KERNELS) restoreKernel(BACKEND, name, stock.get(name));
  active = false;
}

/** Whether the kernels of this module are the registered ones. */
export function webgpuTrainingKernelsActive(): boolean {
  return active;
}

function replaceKernel(name: string, kernelFunc: KernelFunc): void {
  const replaced = overrideKernel(BACKEND, name, () => kernelFunc);
  if (replaced && !stock.has(name)) stock.set(name, replaced);
}

/** The attributes both conv-gradient kernels get. */
interface ConvGradAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

interface BackpropFilterArgs {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: WebGPUBackend;
  attrs: ConvGradAttrs & { filterShape: [number, number, number, number] };
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
  if (tf.env().getBool(ROW_FILTER_GRAD_FLAG) && rowFilterGradApplies(geometry)) {
    const rowPlan = planRowFilterGrad({
      batch: geometry.batch, height: geometry.inHeight, width: geometry.inWidth,
      inChannels: geometry.inChannels, outChannels: geometry.outChannels,
    });
    return splitReduce(backend, new RowFilterGradPartialProgram(rowPlan), [x, dy], filterShape, rowPlan.chunks);
  }
  const plan = planFilterGrad(geometry);
  return splitReduce(backend, new FilterGradPartialProgram(geometry, plan), [x, dy], filterShape, plan.chunks);
}

/**
 * Where the row-tiled program is meant to help: 3×3, stride 1, padded by one (output the size of
 * the input), rows at least a segment wide and channels enough to fill its tiles. On SwiftShader it
 * was faster only there (16 → 16 channels at 64² wide rows; slower for 1 input channel or 16-pixel rows).
 */
function rowFilterGradApplies(g: FilterGradGeometry): boolean {
  return g.filterHeight === 3 && g.filterWidth === 3 && g.strideHeight === 1 && g.strideWidth === 1 &&
    g.padTop === 1 && g.padLeft === 1 && g.outHeight === g.inHeight && g.outWidth === g.inWidth &&
    g.inWidth >= 32 && g.inChannels >= 8;
}

/**
 * A split reduction: the partial-sums program (output [groups, chunks, E]), then the chunk sum
 * into `outShape` (groups × E); the partial sums are freed.
 */
function splitReduce(
  backend: WebGPUBackend, partialProgram: WebGPUProgram, inputs: TensorInfo[], outShape: number[], chunks: number, groups = 1,
): TensorInfo {
  const partial = backend.runWebGPUProgram(partialProgram, inputs, 'float32');
  const result = backend.runWebGPUProgram(new ChunkSumProgram(outShape, chunks, groups), [partial], 'float32');
  backend.disposeData(partial.dataId);
  return result;
}

/** Runs the stock kernel this module replaced. */
function runStock(name: string, args: { inputs: unknown; backend: WebGPUBackend; attrs: unknown }): TensorInfo {
  const config = stock.get(name);
  if (!config) throw new Error(`webgpu has no stock ${name} kernel`);
  return config.kernelFunc(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
}

interface BackpropInputArgs {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: WebGPUBackend;
  attrs: ConvGradAttrs & { inputShape: [number, number, number, number] };
}

/** dx [B, H, W, Cin] of a stride-1 NHWC conv: the stock forward Conv2D of dy with the flipped filter. */
function conv2dBackpropInput(args: BackpropInputArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  if (dataFormat !== 'NHWC' || dy.dtype !== 'float32') return runStock('Conv2DBackpropInput', args);
  const filterShape = filter.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(inputShape, filterShape, strides, 1, pad, dimRoundingMode);
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return runStock('Conv2DBackpropInput', args);
  const explicit = backpropInputPadding(
    inputShape[1], inputShape[2], info.outHeight, info.outWidth, info.filterHeight, info.filterWidth,
    info.padInfo.top, info.padInfo.left,
  );
  if (!explicit) return runStock('Conv2DBackpropInput', args);
  const flipped = backend.runWebGPUProgram(new FlipFilterProgram(filterShape), [filter], 'float32');
  const conv = tf.getKernel('Conv2D', BACKEND).kernelFunc;
  const dx = conv({
    inputs: { x: dy, filter: flipped },
    backend,
    attrs: { strides: [1, 1], pad: explicit, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined },
  } as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
  backend.disposeData(flipped.dataId);
  return dx;
}

interface SumArgs {
  inputs: { x: TensorInfo };
  backend: WebGPUBackend;
  attrs: { axis: number | number[]; keepDims: boolean };
}

/** Sum over leading axes [0, k) of a float32 tensor (bias gradients) as column sums; the rest to stock. */
function sum(args: SumArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { x } = inputs;
  const view = leadingReduction(x.shape, attrs.axis, attrs.keepDims);
  if (x.dtype !== 'float32' || !view || view.outer === 0 || view.inner === 0) return runStock('Sum', args);
  const { outer, inner, outShape } = view;
  const plan = planColumnSum(outer, inner);
  return splitReduce(backend, new ColumnSumPartialProgram(plan), [x], outShape, plan.chunks);
}

interface ReluGradientArgs {
  inputs: { dy: TensorInfo; y: TensorInfo };
  backend: WebGPUBackend;
}

/** dy·[y > 0], float32, any shape (see relu-gradient.ts). */
function reluGradient({ inputs, backend }: ReluGradientArgs): TensorInfo {
  const { dy, y } = inputs;
  return backend.runWebGPUProgram(new ReluGradientProgram(y.shape), [dy, y], 'float32');
}

/** The plan of a group-norm kernel for x [B, H, W, C]. */
function groupNormPlan(x: TensorInfo, groups: number): GroupNormPlan {
  const [batch, h, w, channels] = x.shape as [number, number, number, number];
  return planGroupNorm({ batch, rows: h * w, channels, groups });
}

interface GroupNormReluArgs {
  inputs: { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  backend: WebGPUBackend;
  attrs: { groups: number; epsilon: number };
}

/** [z, stats]: relu(γ·x̂ + β) and (mean, 1/σ) per image and group (see group-norm.ts). */
function groupNormRelu({ inputs, backend, attrs }: GroupNormReluArgs): TensorInfo[] {
  const { x, gamma, beta } = inputs;
  const plan = groupNormPlan(x, attrs.groups);
  const totals = splitReduce(backend, new GroupNormPartialProgram(plan, 'forward'), [x], [plan.batch, plan.channels, 2], plan.chunks, plan.batch);
  const stats = backend.runWebGPUProgram(new GroupStatsProgram(plan, attrs.epsilon), [x, totals], 'float32');
  backend.disposeData(totals.dataId);
  const z = backend.runWebGPUProgram(new GroupNormReluApplyProgram(plan, x.shape), [x, gamma, beta, stats], 'float32');
  return [z, stats];
}

interface GroupNormReluGradArgs {
  inputs: { dz: TensorInfo; x: TensorInfo; gamma: TensorInfo; beta: TensorInfo; stats: TensorInfo };
  backend: WebGPUBackend;
  attrs: { groups: number };
}

/** [dx, dγ, dβ] of groupNormRelu (see group-norm.ts). */
function groupNormReluGrad({ inputs, backend, attrs }: GroupNormReluGradArgs): TensorInfo[] {
  const { dz, x, gamma, beta, stats } = inputs;
  const plan = groupNormPlan(x, attrs.groups);
  const totals = splitReduce(backend, new GroupNormPartialProgram(plan, 'backward'), [dz, x, gamma, beta, stats], [plan.batch, plan.channels, 2], plan.chunks, plan.batch);
  const dx = backend.runWebGPUProgram(new GroupNormInputGradProgram(plan, x.shape), [dz, x, gamma, beta, stats, totals], 'float32');
  const dBeta = backend.runWebGPUProgram(new GroupNormParamGradProgram(plan, 0), [totals], 'float32');
  const dGamma = backend.runWebGPUProgram(new GroupNormParamGradProgram(plan, 1), [totals], 'float32');
  backend.disposeData(totals.dataId);
  return [dx, dGamma, dBeta];
}
