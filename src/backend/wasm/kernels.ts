/**
 * Kernels that let tfjs-backend-wasm train a U-Net fast, built from wasm's own XNNPACK Conv2D:
 * - `Conv2DBackpropFilter` (missing on wasm, tfjs issue 8474): the filter gradient of a conv is
 *   itself a convolution of x with dy, with the batch as the contraction channel and the forward
 *   stride as dilation.
 * - `Conv2DBackpropInput` for stride 1 (the input gradient of every 3×3 conv): stock wasm runs a
 *   naive loop; it equals a conv of dy with the 180°-rotated, in/out-swapped filter, which is
 *   made in one JS pass (stock Reverse + Transpose cost 6× the conv itself at 256 channels).
 * - `BatchMatMul` with transposeA / transposeB (every matmul gradient): stock wasm falls off its
 *   fast path there (about 25× slower measured at 512×4096·4096×64); transpose explicitly first.
 * - `Conv3DBackpropInputV2` for stride 1: stock wasm's is wrong for Cin > 1 (conv3d.ts).
 * - Where the channel counts allow, stride-1 convolutions (forward, input and filter gradients) run
 *   ctquant's own wasm SIMD programs (simd-conv.ts), faster than XNNPACK here on one thread.
 * - Group norm + affine + ReLU, each way as ctquant's kernel (simd-group-norm.ts), where wasm SIMD validates.
 * Intermediate tensors are made and freed through the backend, so nothing leaks outside tf.tidy.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { IM2COL_FLAG, SIMD_CONV_FLAG, SIMD_FILTER_GRAD_FLAG, WASM_FILTER_ROTATION_FLAG, WASM_WINOGRAD_FLAG } from '../flags.js';
import { overrideKernel, registeredKernel } from '../kernel-override.js';
import { backpropInputPadding } from '../kernel-geometry.js';
import type { WasmHeapBackend } from './heap.js';
import { inputGradientFilterTensor } from './input-gradient-filter.js';
import { simdConv, simdFilterGradient, simdProduct, simdProductCovers, simdTransposedProduct } from './simd-conv.js';
import { simdWinogradConv, simdWinogradFilterGradient } from './simd-winograd.js';
import { FILTER_GRAD_INPUT_BLOCK, OUTPUT_CHANNEL_BLOCK } from './simd-conv-programs.js';
import { padChannels, takeChannels } from './channel-pad.js';
import { registerWasmAdamKernel } from './simd-adam.js';
import { registerWasmReluGradientKernel } from './simd-relu-gradient.js';
import { groupNormProgramsValidate, registerWasmGroupNormKernels } from './simd-group-norm.js';
import { conv3dBackpropInput } from './conv3d.js';

type Backend = tf.KernelBackend & { disposeData(dataId: object, force?: boolean): boolean };
type Pad = 'valid' | 'same' | number | [[number, number], [number, number], [number, number], [number, number]];
type ExplicitPad = [[number, number], [number, number], [number, number], [number, number]];

let registered = false;
let stockBackpropInput: KernelFunc | undefined;
let stockBatchMatMul: KernelFunc | undefined;

/** Registers the wasm training kernels (idempotent). Call after tf.setBackend('wasm'). */
export function registerWasmTrainingKernels(): void {
  if (registered) return;
  registered = true;
  if (!registeredKernel('Conv2DBackpropFilter', 'wasm')) {
    overrideKernel('wasm', 'Conv2DBackpropFilter', () => conv2dBackpropFilter as unknown as KernelFunc);
  }
  // Stock wasm's is wrong for more than one input channel (conv3d.ts): the 3D U-Net's input gradients.
  if (registeredKernel('Conv3DBackpropInputV2', 'wasm')) overrideKernel('wasm', 'Conv3DBackpropInputV2', conv3dBackpropInput);
  overrideKernel('wasm', 'Conv2DBackpropInput', (stock) => {
    stockBackpropInput = stock;
    return conv2dBackpropInput as unknown as KernelFunc;
  });
  for (const name of ['Conv2D', 'FusedConv2D']) {
    if (!registeredKernel(name, 'wasm')) continue;
    overrideKernel('wasm', name, (stock) =>
      ((args: ConvArgs) => simdForwardConv(args) ?? stock!(args as unknown as Parameters<KernelFunc>[0])) as unknown as KernelFunc);
  }
  if (registeredKernel('BatchMatMul', 'wasm')) {
    overrideKernel('wasm', 'BatchMatMul', (stock) => {
      stockBatchMatMul = stock;
      return batchMatMul as unknown as KernelFunc;
    });
  }
  if (groupNormProgramsValidate()) {
    registerWasmGroupNormKernels();
    registerWasmAdamKernel(); // the same SIMD module: where it validates, so do the Adam and ReLU-gradient programs
    registerWasmReluGradientKernel();
  }
}

/** Runs another registered wasm kernel by name. */
function run(name: string, backend: Backend, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap): TensorInfo {
  const out = tf.getKernel(name, 'wasm').kernelFunc({ inputs, backend, attrs }) as TensorInfo;
  return out;
}

function free(backend: Backend, ...ts: TensorInfo[]): void {
  for (const t of ts) backend.disposeData(t.dataId);
}

interface ConvArgs {
  inputs: { x: TensorInfo; filter: TensorInfo; bias?: TensorInfo; preluActivationWeights?: TensorInfo };
  backend: Backend;
  attrs: {
    strides: [number, number] | number; pad: Pad; dataFormat: 'NHWC' | 'NCHW'; dilations: [number, number] | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil'; activation?: string;
  };
}

/** Conv2D / FusedConv2D (bias, linear or ReLU) through the SIMD program, or null for the stock kernel. */
function simdForwardConv({ inputs, backend, attrs }: ConvArgs): TensorInfo | null {
  if (!tf.env().getBool(SIMD_CONV_FLAG) || inputs.preluActivationWeights) return null;
  const activation = attrs.activation ?? 'linear';
  if (activation !== 'linear' && activation !== 'relu') return null;
  if (attrs.dataFormat !== 'NHWC') return null;
  const info = tf.backend_util.computeConv2DInfo(
    inputs.x.shape as [number, number, number, number], inputs.filter.shape as [number, number, number, number],
    attrs.strides, attrs.dilations, attrs.pad, attrs.dimRoundingMode,
  );
  const heap = backend as unknown as WasmHeapBackend;
  const relu = activation === 'relu';
  const Co = info.outChannels;
  if (Co % OUTPUT_CHANNEL_BLOCK !== 0 && info.filterHeight * info.filterWidth > 1) {
    // E.g. one output channel (the input gradient of a one-channel image): zero filters up to whole
    // blocks. Measured at 128², 16 → 1 channels: 3.3 ms against XNNPACK's 4.5; a 1×1 conv
    // (the head) stays with XNNPACK, which took 0.8 ms against 1.0.
    const to = roundUp(Co, OUTPUT_CHANNEL_BLOCK);
    const filter = padChannels(heap, inputs.filter, to);
    const bias = inputs.bias && padChannels(heap, inputs.bias, to);
    const padded = { ...info, outChannels: to, outShape: [...info.outShape.slice(0, 3), to] } as typeof info;
    const y = convOnPrograms(heap, inputs.x, filter, bias, relu, padded);
    free(backend, filter, ...(bias ? [bias] : []));
    if (!y) return null;
    const kept = takeChannels(heap, y, Co);
    free(backend, y);
    return kept;
  }
  return convOnPrograms(heap, inputs.x, inputs.filter, inputs.bias, relu, info);
}

/** n rounded up to a multiple of `block`. */
const roundUp = (n: number, block: number) => Math.ceil(n / block) * block;

/** Winograd where its flag and the shapes allow, else the direct SIMD program, else null. */
function convOnPrograms(
  heap: WasmHeapBackend, x: TensorInfo, filter: TensorInfo, bias: TensorInfo | undefined, relu: boolean, info: tf.backend_util.Conv2DInfo,
): TensorInfo | null {
  const winograd = tf.env().getBool(WASM_WINOGRAD_FLAG) ? simdWinogradConv(heap, x, filter, bias, relu, info) : null;
  return winograd ?? simdConv(heap, x, filter, bias, relu, info);
}

interface BackpropFilterArgs {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: Backend;
  attrs: { strides: [number, number] | number; pad: Pad; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; filterShape: [number, number, number, number] };
}

/**
 * dW[kh,kw,ci,co] = Σ_{n,i,j} x[n, i·s+kh−pt, j·s+kw−pl, ci] · dy[n,i,j,co]: a conv of x viewed as
 * [Cin,H,W,N] with the filter dy viewed as [Ho,Wo,N,Cout], dilation s, forward padding.
 * Shapes: x [N,H,W,Cin], dy [N,Ho,Wo,Cout] → [KH,KW,Cin,Cout].
 */
function conv2dBackpropFilter({ inputs, backend, attrs }: BackpropFilterArgs): TensorInfo {
  const { x, dy } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
  if (dataFormat !== 'NHWC') throw new Error(`wasm Conv2DBackpropFilter supports NHWC only, got ${dataFormat}`);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode,
  );
  if (tf.env().getBool(SIMD_FILTER_GRAD_FLAG)) {
    const simd = filterGradientOnPrograms(backend as unknown as WasmHeapBackend, x, dy, info);
    if (simd) return simd;
  }
  const im2col = tf.env().getBool(IM2COL_FLAG) || info.inChannels === 1;
  if (im2col && info.strideHeight === 1 && info.strideWidth === 1 && x.dtype === 'float32') {
    return filterGradIm2col(x, dy, info, backend);
  }
  const [, H, W] = x.shape as number[];
  const { strideHeight: sh, strideWidth: sw, filterHeight: KH, filterWidth: KW, outHeight: Ho, outWidth: Wo } = info;
  const { top, left } = info.padInfo;
  // Rows of x the forward pass reads: [−top, (Ho−1)·sh + KH − top). Past H is zero padding;
  // short of H means trailing rows are unused (valid padding) and are cropped.
  const bottom = (Ho - 1) * sh + KH - top - H!;
  const right = (Wo - 1) * sw + KW - left - W!;

  const temps: TensorInfo[] = [];
  let xT = run('Transpose', backend, { x }, { perm: [3, 1, 2, 0] }); // [Cin,H,W,N]
  temps.push(xT);
  if (bottom < 0 || right < 0) {
    const cropped = run('Slice', backend, { x: xT }, {
      begin: [0, 0, 0, 0],
      size: [-1, H! + Math.min(bottom, 0), W! + Math.min(right, 0), -1],
    });
    temps.push(cropped);
    xT = cropped;
  }
  const dyT = run('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho,Wo,N,Cout]
  temps.push(dyT);
  const explicit: ExplicitPad = [[0, 0], [top, Math.max(bottom, 0)], [left, Math.max(right, 0)], [0, 0]];
  const dw = run('Conv2D', backend, { x: xT, filter: dyT }, {
    strides: [1, 1], pad: explicit, dataFormat: 'NHWC', dilations: [sh, sw], dimRoundingMode: undefined,
  } as unknown as NamedAttrMap); // [Cin,KH,KW,Cout]
  temps.push(dw);
  const out = run('Transpose', backend, { x: dw }, { perm: [1, 2, 0, 3] }); // [KH,KW,Cin,Cout]
  free(backend, ...temps);
  return out;
}

/**
 * dW on Winograd or the direct SIMD program, or null. Output channels that are not whole blocks of 8
 * (the 1×1 head's one output) are zero-padded up to them, and dW cut back to [KH, KW, Ci, Co]:
 * measured at 128², 16 → 1 channels, 1.1 ms against XNNPACK's 2.7. (Padding a one-channel input up
 * to 4 lost: 1.5 ms against im2col's 1.4, so that stays.)
 */
function filterGradientOnPrograms(heap: WasmHeapBackend, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo | null {
  const Co = info.outChannels;
  if (Co % OUTPUT_CHANNEL_BLOCK === 0 || info.inChannels % FILTER_GRAD_INPUT_BLOCK !== 0) {
    const winograd = tf.env().getBool(WASM_WINOGRAD_FLAG) ? simdWinogradFilterGradient(heap, x, dy, info) : null;
    return winograd ?? simdFilterGradient(heap, x, dy, info);
  }
  const to = roundUp(Co, OUTPUT_CHANNEL_BLOCK);
  const padded = padChannels(heap, dy, to);
  const dw = filterGradientOnPrograms(heap, x, padded, { ...info, outChannels: to } as typeof info);
  heap.disposeData(padded.dataId);
  if (!dw) return null;
  const kept = takeChannels(heap, dw, Co);
  heap.disposeData(dw.dataId);
  return kept;
}

/** Floats of one im2col block (≤ 128 MB): its extra memory stays bounded at any image size. */
const IM2COL_BLOCK_FLOATS = 1 << 25;

/**
 * Stride 1: dW = A · dy, A = im2col of x as [KH·KW·Cin, N·Ho·Wo] (row (kh, kw, ci) holds x shifted
 * by the tap), dy as [N·Ho·Wo, Cout]. The product is XNNPACK's plain GEMM; A is built by row copies
 * from x transposed to [Cin, N, H, W], a block of output rows at a time, and the blocks' products
 * are added.
 */
function filterGradIm2col(x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo, backend: Backend): TensorInfo {
  const heap = backend as unknown as WasmHeapBackend;
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo, outChannels: Co } = info;
  const { filterHeight: KH, filterWidth: KW } = info;
  const { top, left } = info.padInfo;
  const taps = KH * KW * C;
  const allRows = N * Ho;
  const rowsPerBlock = Math.max(1, Math.min(allRows, Math.floor(IM2COL_BLOCK_FLOATS / (taps * Wo))));
  const xT = run('Transpose', backend, { x }, { perm: [3, 0, 1, 2] }); // [C,N,H,W]
  const dyRows = { dataId: dy.dataId, shape: [allRows * Wo, Co], dtype: 'float32' } as TensorInfo;
  let total: TensorInfo | null = null;
  for (let g0 = 0; g0 < allRows; g0 += rowsPerBlock) {
    const rows = Math.min(rowsPerBlock, allRows - g0);
    const K = rows * Wo;
    const a = heap.makeOutput([1, taps, K], 'float32');
    const dst = heap.typedArrayFromHeap(a);
    const src = heap.typedArrayFromHeap(xT);
    for (let kh = 0; kh < KH; kh++) {
      for (let kw = 0; kw < KW; kw++) {
        const dh = kh - top;
        const dw = kw - left;
        const ow0 = Math.max(0, -dw);
        const ow1 = Math.min(Wo, W - dw);
        for (let c = 0; c < C; c++) {
          const rowBase = ((kh * KW + kw) * C + c) * K;
          for (let r = 0; r < rows; r++) {
            const g = g0 + r;
            const n = Math.floor(g / Ho);
            const ih = g - n * Ho + dh;
            const d = rowBase + r * Wo;
            if (ih < 0 || ih >= H || ow1 <= ow0) {
              dst.fill(0, d, d + Wo);
              continue;
            }
            const s = ((c * N + n) * H + ih) * W + dw;
            if (ow0 > 0) dst.fill(0, d, d + ow0);
            dst.set(src.subarray(s + ow0, s + ow1), d + ow0);
            if (ow1 < Wo) dst.fill(0, d + ow1, d + Wo);
          }
        }
      }
    }
    // dy rows of this block: the whole tensor, or a copy of its contiguous range (wasm's Slice
    // would first copy all of dy out of the heap).
    let dyBlock = dyRows;
    if (rows !== allRows) {
      dyBlock = heap.makeOutput([K, Co], 'float32');
      const from = heap.typedArrayFromHeap(dyRows);
      heap.typedArrayFromHeap(dyBlock).set(from.subarray(g0 * Wo * Co, (g0 * Wo + K) * Co));
    }
    const b = { dataId: dyBlock.dataId, shape: [1, K, Co], dtype: 'float32' } as TensorInfo;
    const part = stockBatchMatMul!({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } } as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    free(backend, a);
    if (dyBlock !== dyRows) free(backend, dyBlock);
    if (total) {
      const sum = run('Add', backend, { a: total, b: part }, {});
      free(backend, total, part);
      total = sum;
    } else {
      total = part;
    }
  }
  free(backend, xT);
  const out = run('Reshape', backend, { x: total! }, { shape: [KH, KW, C, Co] });
  free(backend, total!);
  return out;
}

interface BackpropInputArgs {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: Backend;
  attrs: { strides: [number, number] | number; pad: Pad; dataFormat: 'NHWC' | 'NCHW'; dimRoundingMode?: 'floor' | 'round' | 'ceil'; inputShape: [number, number, number, number] };
}

/**
 * Stride 1: dx[n,h,w,ci] = Σ dy[n, h+pt−kh, w+pl−kw, co] · W[kh,kw,ci,co], a conv of dy with
 * W rotated 180° and transposed to [KH,KW,Cout,Cin], padding (KH−1−pt, H−Ho+pt). Other strides go
 * to the stock kernel. Shapes: dy [N,Ho,Wo,Cout], filter [KH,KW,Cin,Cout] → [N,H,W,Cin].
 */
function conv2dBackpropInput(args: BackpropInputArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const { dy, filter } = inputs;
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
  const stock = (): TensorInfo => {
    if (!stockBackpropInput) throw new Error('wasm has no Conv2DBackpropInput for this case');
    return stockBackpropInput(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
  };
  if (dataFormat !== 'NHWC' || filter.dtype !== 'float32') return stock();
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode,
  );
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return stock();
  const [, H, W] = inputShape;
  const explicit = backpropInputPadding(
    H, W, info.outHeight, info.outWidth, info.filterHeight, info.filterWidth, info.padInfo.top, info.padInfo.left,
  );
  if (!explicit) return stock();

  const swapped = inputGradientFilter(backend, filter); // [KH,KW,Cout,Cin]
  const dx = run('Conv2D', backend, { x: dy, filter: swapped }, {
    strides: [1, 1], pad: explicit, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined,
  } as unknown as NamedAttrMap);
  free(backend, swapped);
  return dx;
}

/** W [KH,KW,Cin,Cout] → W rotated 180° with in/out swapped, [KH,KW,Cout,Cin] (WASM_FILTER_ROTATION_FLAG picks how). */
function inputGradientFilter(backend: Backend, filter: TensorInfo): TensorInfo {
  if (!tf.env().getBool(WASM_FILTER_ROTATION_FLAG)) {
    const flipped = run('Reverse', backend, { x: filter }, { dims: [0, 1] });
    const swapped = run('Transpose', backend, { x: flipped }, { perm: [0, 1, 3, 2] });
    free(backend, flipped);
    return swapped;
  }
  return inputGradientFilterTensor(backend as unknown as WasmHeapBackend, filter);
}

/** The permutation that swaps a rank-r tensor's last two axes. */
const swapLastPerm = (r: number) => Array.from({ length: r }, (_, i) => (i < r - 2 ? i : 2 * r - 3 - i));

interface BatchMatMulArgs {
  inputs: { a: TensorInfo; b: TensorInfo };
  backend: Backend;
  attrs: { transposeA: boolean; transposeB: boolean };
}

/**
 * aᵀ·b (a long inner dimension, a small result: the up-convolution's weight gradient) through the
 * SIMD filter-gradient program where it covers the shapes (flag SIMD_FILTER_GRAD); a·b and a·bᵀ (the
 * up-convolution's forward pass and input gradient) through the forward conv program as a 1×1 conv
 * (flag SIMD_CONV); otherwise a·b with transposes done by the Transpose kernel, then the stock
 * (XNNPACK) untransposed matmul.
 */
function batchMatMul({ inputs, backend, attrs }: BatchMatMulArgs): TensorInfo {
  const heap = backend as unknown as WasmHeapBackend;
  if (attrs.transposeA && !attrs.transposeB && tf.env().getBool(SIMD_FILTER_GRAD_FLAG)) {
    const product = simdTransposedProduct(heap, inputs.a, inputs.b);
    if (product) return product;
  }
  const [bRows, bCols] = inputs.b.shape.slice(-2) as [number, number];
  const [K, N] = attrs.transposeB ? [bCols, bRows] : [bRows, bCols];
  if (!attrs.transposeA && tf.env().getBool(SIMD_CONV_FLAG) && simdProductCovers(K, N)) {
    // a·b, or a·bᵀ after transposing the (small) b: the forward conv program as a 1×1 conv.
    const b = attrs.transposeB ? run('Transpose', backend, { x: inputs.b }, { perm: swapLastPerm(inputs.b.shape.length) }) : inputs.b;
    const product = simdProduct(heap, inputs.a, b);
    if (b !== inputs.b) free(backend, b);
    if (product) return product;
  }
  const swapLast = (t: TensorInfo) => run('Transpose', backend, { x: t }, { perm: swapLastPerm(t.shape.length) });
  const temps: TensorInfo[] = [];
  let { a, b } = inputs;
  if (attrs.transposeA) temps.push((a = swapLast(a)));
  if (attrs.transposeB) temps.push((b = swapLast(b)));
  const out = stockBatchMatMul!({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } } as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
  free(backend, ...temps);
  return out;
}
