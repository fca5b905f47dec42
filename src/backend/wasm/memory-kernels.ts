/**
 * Memory-bound wasm kernels written in JavaScript over the wasm heap. tfjs-backend-wasm 4.22 spends
 * about a sixth of a U-Net training step in kernels that only move or add numbers:
 * - `MaxPoolGrad`: its C++ loop rescans every pooling window for each input pixel (148 ms for one
 *   [4,256,256,16] gradient) and routes the gradient to the wrong element when all of a window is
 *   negative; one pass over the windows, as the cpu backend defines it, takes a quarter of that.
 * - `Sum` over leading axes (every bias gradient): it transposes the whole input first.
 * - `Concat` / `SplitV` (U-Net skip connections and their gradients): a subarray + set per row of
 *   16–64 floats, or a strided slice per output; a plain loop copies short rows several times faster.
 * - `Relu`: stock wasm maps a NaN whose sign bit is set to 0, so a NaN could vanish before the loss
 *   (the trainer's NaN guard never saw it); here max(x, 0) keeps every NaN, as the cpu backend does.
 * - `Identity` and same-type `Cast` (gradients pass through them ~250 times a step): stock wasm
 *   copies the tensor; sharing its memory, as `Reshape` already does, is safe because no wasm
 *   kernel writes into its inputs.
 * Each falls back to the stock kernel outside the cases it handles. The tfjs env flag
 * `CTQUANT_WASM_JS_KERNELS` (default true) turns them off, so one process can benchmark both.
 * Where the runtime has wasm SIMD, the sums, the 2×2 max-pool gradient, row copies of a multiple of
 * four floats and Relu run as SIMD programs with the same bits (simd-memory-programs.ts; flag
 * `CTQUANT_WASM_SIMD_MEMORY`); the JS loops below are their fallback and their specification.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { WASM_JS_KERNELS_FLAG, WASM_SIMD_MEMORY_FLAG } from '../flags.js';
import { overrideKernel, registeredKernel } from '../kernel-override.js';
import { leadingReduction } from '../kernel-geometry.js';
import type { WasmHeapBackend } from './heap.js';
import { address, programsFor } from './simd-conv.js';
import type { ProgramThreads } from './simd-workers.js';

type KernelArgs = Parameters<KernelFunc>[0];
type OwnKernel = (args: KernelArgs, stock: KernelFunc) => TensorInfo | TensorInfo[];

/** Rows shorter than this are copied by a loop: a subarray per row costs more than the copy. */
const SHORT_ROW = 128;

let registered = false;

/** Replaces the stock wasm kernels by the JS ones (idempotent). Call after tf.setBackend('wasm'). */
export function registerWasmMemoryKernels(): void {
  if (registered) return;
  registered = true;
  const own: Record<string, OwnKernel> = {
    MaxPoolGrad: maxPoolGrad, Sum: sum, Concat: concat, SplitV: splitV, Identity: identity, Cast: cast, Relu: relu,
  };
  for (const [name, kernel] of Object.entries(own)) {
    if (!registeredKernel(name, 'wasm')) continue;
    overrideKernel('wasm', name, (stock) =>
      ((args: KernelArgs) => (tf.env().getBool(WASM_JS_KERNELS_FLAG) ? kernel(args, stock!) : stock!(args))) as KernelFunc);
  }
}

function heap(args: KernelArgs): WasmHeapBackend {
  return args.backend as unknown as WasmHeapBackend;
}

/** The SIMD programs (simd-memory-programs.ts) where the flag and the runtime allow them, else null: the JS loops. */
function simdPrograms(b: WasmHeapBackend): ProgramThreads | null {
  return tf.env().getBool(WASM_SIMD_MEMORY_FLAG) ? programsFor(b) : null;
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Copies `n` floats; a loop for short runs, `set` for long ones. Float32 only, so V8 keeps this monomorphic. */
function copy(dst: Float32Array, d: number, src: Float32Array, s: number, n: number): void {
  if (n < SHORT_ROW) {
    for (let k = 0; k < n; k++) dst[d + k] = src[s + k]!;
  } else {
    dst.set(src.subarray(s, s + n), d);
  }
}

/**
 * dx of a 2-D max pool, NHWC: each output's gradient goes to the first maximum of its window in
 * row-major order (the cpu backend's rule); windows without a finite maximum pass nothing.
 */
function maxPoolGrad(args: KernelArgs, stock: KernelFunc): TensorInfo {
  const { dy, input } = args.inputs as { dy: TensorInfo; input: TensorInfo };
  const attrs = args.attrs as unknown as {
    filterSize: [number, number] | number; strides: [number, number] | number; pad: 'valid' | 'same' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
  if (input.dtype !== 'float32' || input.shape.length !== 4) return stock(args) as TensorInfo;
  const info = tf.backend_util.computePool2DInfo(
    input.shape as [number, number, number, number], attrs.filterSize, attrs.strides, 1, attrs.pad, attrs.dimRoundingMode,
  );
  const b = heap(args);
  const out = b.makeOutput(input.shape, 'float32');
  const x = b.typedArrayFromHeap(input);
  const g = b.typedArrayFromHeap(dy);
  const dx = b.typedArrayFromHeap(out);
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw, outHeight: Ho, outWidth: Wo } = info;
  const { top, left } = info.padInfo;
  const tiles = fh === 2 && fw === 2 && sh === 2 && sw === 2 && top === 0 && left === 0
    && info.inHeight === 2 * Ho && info.inWidth === 2 * Wo;
  const programs = tiles && info.inChannels % 4 === 0 ? simdPrograms(b) : null;
  if (programs) {
    programs.run('maxPoolGrad2x2', [[address(b, input), address(b, dy), address(b, out), info.batchSize * Ho, Wo, info.inChannels]]);
  } else if (tiles) {
    poolGrad2x2(x, g, dx, info.batchSize * Ho, Wo, info.inChannels);
  } else {
    poolGradGeneral(x, g, dx, info);
  }
  return out;
}

/**
 * The U-Net's case, 2×2 windows tiling the input: every input element belongs to exactly one
 * window, so each is written once (dy or 0) and dx needs no clearing. `rows` = batch × output rows.
 */
function poolGrad2x2(x: Float32Array, g: Float32Array, dx: Float32Array, rows: number, Wo: number, C: number): void {
  const rowStride = 2 * Wo * C;
  let gi = 0;
  for (let r = 0; r < rows; r++) {
    for (let ow = 0; ow < Wo; ow++) {
      const p00 = 2 * r * rowStride + 2 * ow * C;
      for (let c = 0; c < C; c++, gi++) {
        const i00 = p00 + c;
        const i01 = i00 + C;
        const i10 = i00 + rowStride;
        const i11 = i10 + C;
        const v00 = x[i00]!, v01 = x[i01]!, v10 = x[i10]!, v11 = x[i11]!;
        // First maximum in row-major order; NaN never wins a comparison, as on the cpu backend.
        let at = -1;
        let best = -Infinity;
        if (v00 > best) { best = v00; at = i00; }
        if (v01 > best) { best = v01; at = i01; }
        if (v10 > best) { best = v10; at = i10; }
        if (v11 > best) at = i11;
        const d = g[gi]!;
        dx[i00] = at === i00 ? d : 0;
        dx[i01] = at === i01 ? d : 0;
        dx[i10] = at === i10 ? d : 0;
        dx[i11] = at === i11 ? d : 0;
      }
    }
  }
}

/** Any window, stride and padding: windows may overlap, so gradients accumulate into a cleared dx. */
function poolGradGeneral(x: Float32Array, g: Float32Array, dx: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  dx.fill(0);
  const { batchSize: N, inHeight: H, inWidth: W, inChannels: C, outHeight: Ho, outWidth: Wo } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: fh, filterWidth: fw } = info;
  const { top, left } = info.padInfo;
  const best = new Float32Array(C);
  const where = new Int32Array(C);
  for (let n = 0; n < N; n++) {
    for (let oh = 0; oh < Ho; oh++) {
      for (let ow = 0; ow < Wo; ow++) {
        best.fill(-Infinity);
        where.fill(-1);
        for (let i = 0; i < fh; i++) {
          const ih = oh * sh - top + i;
          if (ih < 0 || ih >= H) continue;
          for (let j = 0; j < fw; j++) {
            const iw = ow * sw - left + j;
            if (iw < 0 || iw >= W) continue;
            const base = ((n * H + ih) * W + iw) * C;
            for (let c = 0; c < C; c++) {
              const v = x[base + c]!;
              if (v > best[c]!) {
                best[c] = v;
                where[c] = base + c;
              }
            }
          }
        }
        const gBase = ((n * Ho + oh) * Wo + ow) * C;
        for (let c = 0; c < C; c++) {
          const at = where[c]!;
          if (at >= 0) dx[at] += g[gBase + c]!;
        }
      }
    }
  }
}

/** Sum of a float32 tensor over leading axes [0, k): column sums of an [outer, inner] view. */
function sum(args: KernelArgs, stock: KernelFunc): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
  const view = leadingReduction(x.shape, axis, keepDims);
  if (x.dtype !== 'float32' || !view) return stock(args) as TensorInfo;
  const { outer, inner, outShape } = view;
  const b = heap(args);
  const out = b.makeOutput(outShape, 'float32');
  const programs = inner % 4 === 0 ? simdPrograms(b) : null;
  if (programs) programs.run('columnSums', [[address(b, x), address(b, out), outer, inner, 0, inner]]);
  else columnSums(b.typedArrayFromHeap(x), outer, inner, b.typedArrayFromHeap(out));
  return out;
}

/**
 * Column sums of src viewed as [outer, inner], eight columns per pass in float64 locals (V8 keeps
 * locals in registers; an accumulator array costs three times as much). Each column is summed in
 * row order, so the result does not depend on the number of columns.
 */
export function columnSums(src: Float32Array, outer: number, inner: number, dst: Float32Array): void {
  for (let c0 = 0; c0 < inner; c0 += 8) {
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;
    if (c0 + 8 <= inner) {
      for (let k = c0, o = 0; o < outer; o++, k += inner) {
        a0 += src[k]!; a1 += src[k + 1]!; a2 += src[k + 2]!; a3 += src[k + 3]!;
        a4 += src[k + 4]!; a5 += src[k + 5]!; a6 += src[k + 6]!; a7 += src[k + 7]!;
      }
      dst[c0] = a0; dst[c0 + 1] = a1; dst[c0 + 2] = a2; dst[c0 + 3] = a3;
      dst[c0 + 4] = a4; dst[c0 + 5] = a5; dst[c0 + 6] = a6; dst[c0 + 7] = a7;
    } else {
      for (let c = c0; c < inner; c++) {
        a0 = 0;
        for (let k = c, o = 0; o < outer; o++, k += inner) a0 += src[k]!;
        dst[c] = a0;
      }
    }
  }
}

/** Concat of float32 tensors along any axis: per outer index, each input's block in turn. */
function concat(args: KernelArgs, stock: KernelFunc): TensorInfo {
  const inputs = (args.inputs as unknown as TensorInfo[]).filter((t) => size(t.shape) > 0);
  const { axis } = args.attrs as unknown as { axis: number };
  if (inputs.length < 2 || inputs.some((t) => t.dtype !== 'float32')) return stock(args) as TensorInfo;
  const first = inputs[0]!;
  const $axis = tf.util.parseAxisParam(axis, first.shape)[0]!;
  const outShape = tf.backend_util.computeOutShape(inputs.map((t) => t.shape), $axis);
  const outer = size(first.shape.slice(0, $axis));
  const rowLength = size(outShape.slice($axis));
  const b = heap(args);
  const out = b.makeOutput(outShape, 'float32');
  const dst = b.typedArrayFromHeap(out);
  const programs = simdPrograms(b);
  let offset = 0;
  for (const t of inputs) {
    const n = size(t.shape.slice($axis));
    if (programs && n % 4 === 0) {
      programs.run('copyRows', [[address(b, t), 4 * n, dst.byteOffset + 4 * offset, 4 * rowLength, outer, 4 * n]]);
    } else {
      const src = b.typedArrayFromHeap(t);
      for (let o = 0; o < outer; o++) copy(dst, o * rowLength + offset, src, o * n, n);
    }
    offset += n;
  }
  return out;
}

/** SplitV of a float32 tensor: the inverse walk of concat. */
function splitV(args: KernelArgs, stock: KernelFunc): TensorInfo[] {
  const { x } = args.inputs as { x: TensorInfo };
  const { numOrSizeSplits, axis } = args.attrs as unknown as { numOrSizeSplits: number | number[]; axis: number };
  if (x.dtype !== 'float32') return stock(args) as TensorInfo[];
  const $axis = tf.util.parseAxisParam(axis, x.shape)[0]!;
  const sizes = tf.backend_util.prepareSplitSize(x as unknown as tf.Tensor, numOrSizeSplits, $axis) as number[];
  const outer = size(x.shape.slice(0, $axis));
  const inner = size(x.shape.slice($axis + 1));
  const b = heap(args);
  // All outputs first: growing the heap would detach views taken earlier.
  const outs = sizes.map((s) => b.makeOutput(x.shape.map((d, i) => (i === $axis ? s : d)), 'float32'));
  const src = b.typedArrayFromHeap(x);
  const rowLength = x.shape[$axis]! * inner;
  const programs = simdPrograms(b);
  let offset = 0;
  outs.forEach((out, i) => {
    const n = sizes[i]! * inner;
    const dst = b.typedArrayFromHeap(out);
    if (programs && n % 4 === 0 && n > 0) {
      programs.run('copyRows', [[src.byteOffset + 4 * offset, 4 * rowLength, dst.byteOffset, 4 * n, outer, 4 * n]]);
    } else {
      for (let o = 0; o < outer; o++) copy(dst, o * n, src, o * rowLength + offset, n);
    }
    offset += n;
  });
  return outs;
}

/** max(x, +0) of a float32 tensor with NaN kept (the SIMD program, the last n mod 4 floats in JS). */
function relu(args: KernelArgs, stock: KernelFunc): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  if (x.dtype !== 'float32') return stock(args) as TensorInfo;
  const b = heap(args);
  const out = b.makeOutput(x.shape, 'float32');
  const n = size(x.shape);
  const programs = simdPrograms(b);
  const vectorFloats = programs ? n - (n % 4) : 0;
  if (programs && vectorFloats > 0) programs.run('relu', [[address(b, x), address(b, out), 4 * vectorFloats]]);
  const src = b.typedArrayFromHeap(x);
  const dst = b.typedArrayFromHeap(out);
  for (let i = vectorFloats; i < n; i++) {
    const v = src[i]!;
    dst[i] = v > 0 || Number.isNaN(v) ? v : 0;
  }
  return out;
}

/** The same data under a second tensor: one more reference instead of a copy. */
function share(args: KernelArgs, x: TensorInfo): TensorInfo {
  heap(args).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

function identity(args: KernelArgs, stock: KernelFunc): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  return x.dtype === 'string' ? (stock(args) as TensorInfo) : share(args, x);
}

function cast(args: KernelArgs, stock: KernelFunc): TensorInfo {
  const { x } = args.inputs as { x: TensorInfo };
  const { dtype } = args.attrs as unknown as { dtype: tf.DataType };
  return x.dtype === dtype && dtype !== 'string' ? share(args, x) : (stock(args) as TensorInfo);
}
