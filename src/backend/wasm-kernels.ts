/**
 * Kernels that let tfjs-backend-wasm train a U-Net fast, built from wasm's own XNNPACK Conv2D:
 * - `Conv2DBackpropFilter` (missing on wasm, tfjs issue 8474): the filter gradient of a conv is
 *   itself a convolution of x with dy, with the batch as the contraction channel and the forward
 *   stride as dilation.
 * - `Conv2DBackpropInput` for stride 1 (the input gradient of every 3×3 conv): stock wasm runs a
 *   naive loop; it equals a conv of dy with the 180°-rotated, in/out-swapped filter.
 * - `BatchMatMul` with transposeA / transposeB (every matmul gradient): stock wasm falls off its
 *   fast path there (about 25× slower measured at 512×4096·4096×64); transpose explicitly first.
 * Intermediate tensors are made and freed through the backend, so nothing leaks outside tf.tidy.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelConfig, KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import { backpropInputPadding } from './conv-padding.js';

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
  if (!hasKernel('Conv2DBackpropFilter')) {
    tf.registerKernel({ kernelName: 'Conv2DBackpropFilter', backendName: 'wasm', kernelFunc: conv2dBackpropFilter as unknown as KernelFunc });
  }
  if (hasKernel('Conv2DBackpropInput')) {
    stockBackpropInput = tf.getKernel('Conv2DBackpropInput', 'wasm').kernelFunc;
    tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  }
  tf.registerKernel({ kernelName: 'Conv2DBackpropInput', backendName: 'wasm', kernelFunc: conv2dBackpropInput as unknown as KernelFunc });
  if (hasKernel('BatchMatMul')) {
    stockBatchMatMul = tf.getKernel('BatchMatMul', 'wasm').kernelFunc;
    tf.unregisterKernel('BatchMatMul', 'wasm');
    tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: batchMatMul as unknown as KernelFunc });
  }
}

function hasKernel(name: string): boolean {
  return tf.getKernelsForBackend('wasm').some((k: KernelConfig) => k.kernelName === name);
}

/** Runs another registered wasm kernel by name. */
function run(name: string, backend: Backend, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap): TensorInfo {
  const out = tf.getKernel(name, 'wasm').kernelFunc({ inputs, backend, attrs }) as TensorInfo;
  return out;
}

function free(backend: Backend, ...ts: TensorInfo[]): void {
  for (const t of ts) backend.disposeData(t.dataId);
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
  if (dataFormat !== 'NHWC') return stock();
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode,
  );
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return stock();
  const [, H, W] = inputShape;
  const explicit = backpropInputPadding(
    H, W, info.outHeight, info.outWidth, info.filterHeight, info.filterWidth, info.padInfo.top, info.padInfo.left,
  );
  if (!explicit) return stock();

  const flipped = run('Reverse', backend, { x: filter }, { dims: [0, 1] });
  const swapped = run('Transpose', backend, { x: flipped }, { perm: [0, 1, 3, 2] }); // [KH,KW,Cout,Cin]
  const dx = run('Conv2D', backend, { x: dy, filter: swapped }, {
    strides: [1, 1], pad: explicit, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined,
  } as unknown as NamedAttrMap);
  free(backend, flipped, swapped);
  return dx;
}

interface BatchMatMulArgs {
  inputs: { a: TensorInfo; b: TensorInfo };
  backend: Backend;
  attrs: { transposeA: boolean; transposeB: boolean };
}

/** a·b with transposes done by the Transpose kernel, then the stock (XNNPACK-fast) untransposed matmul. */
function batchMatMul({ inputs, backend, attrs }: BatchMatMulArgs): TensorInfo {
  const swapLast = (t: TensorInfo) => {
    const r = t.shape.length;
    const perm = Array.from({ length: r }, (_, i) => (i < r - 2 ? i : 2 * r - 3 - i));
    return run('Transpose', backend, { x: t }, { perm });
  };
  const temps: TensorInfo[] = [];
  let { a, b } = inputs;
  if (attrs.transposeA) temps.push((a = swapLast(a)));
  if (attrs.transposeB) temps.push((b = swapLast(b)));
  const out = stockBatchMatMul!({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } } as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
  free(backend, ...temps);
  return out;
}
