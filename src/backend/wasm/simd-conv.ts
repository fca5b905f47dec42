/**
 * Stride-1 convolutions on tfjs-backend-wasm through ctquant's SIMD programs (simd-conv-programs.ts),
 * which run in tfjs's own wasm memory: the input is copied once into a padded tensor, then the
 * programs read and write tensors in place. Each function returns null when its case is not
 * covered (strides or dilations ≠ 1, NCHW, channel counts the tiles do not divide), and the
 * caller falls back to the XNNPACK-based kernel. With tfjs's threaded build the work is split
 * over as many threads as tfjs has (simd-workers.ts), by output rows (forward) or input channels
 * (filter gradient), so every output is summed in the same order at any thread count.
 * Each program comes in two encodings of its multiply-adds (module-writer.ts, MultiplyAddKind):
 * exact, and relaxed where the runtime has relaxed SIMD; the tfjs flag SIMD_RELAXED_FMA_FLAG picks.
 * Shapes: x [N,H,W,Ci], filter [KH,KW,Ci,Co], dy and y [N,Ho,Wo,Co].
 */
import * as tf from '@tensorflow/tfjs';
import type { TensorInfo } from '@tensorflow/tfjs';
import type { WasmHeapBackend } from './heap.js';
import { SIMD_RELAXED_FMA_FLAG, WASM_THREAD_POLL_FLAG } from '../flags.js';
import { assembleModule, runtimeHasRelaxedSimd, type ExportedFunction } from './module-writer.js';
import { convProgram, filterGradientProgram, FILTER_GRAD_INPUT_BLOCK, OUTPUT_CHANNEL_BLOCK } from './simd-conv-programs.js';
import { groupNormApplyProgram, groupNormSumsProgram } from './simd-group-norm-programs.js';
import { ProgramThreads, splitRange } from './simd-workers.js';
import {
  F4x4, winogradFilterGradientProgram, winogradFilterProgram, winogradInputProgram, winogradOutputGradientProgram,
  winogradOutputProgram,
} from './simd-winograd-programs.js';
import {
  columnSumsProgram, copyRowsProgram, maxPoolGrad2x2Program, reluGradientProgram, reluProgram, rotateSwapProgram,
} from './simd-memory-programs.js';
import { adamUpdateProgram } from './simd-adam-programs.js';

type Program = (...args: number[]) => void;
/** Exported names: the exact programs, and (where the runtime validates them) the relaxed ones. */
const EXACT = { filterGradient: 'filterGradient', conv: 'conv' } as const;
const RELAXED = { filterGradient: 'filterGradientRelaxed', conv: 'convRelaxed' } as const;

/** Group norm's programs (simd-group-norm.ts), in the same module so one set of worker threads serves all. */
const GROUP_NORM_PROGRAMS = {
  groupNormSums: () => groupNormSumsProgram('forward'),
  groupNormApply: () => groupNormApplyProgram('forward'),
  groupNormGradSums: () => groupNormSumsProgram('backward'),
  groupNormGradApply: () => groupNormApplyProgram('backward'),
};
/**
 * Winograd F(2×2, 3×3)'s and F(4×4, 3×3)'s (suffix 4) transforms (simd-winograd.ts); their matrix
 * products run on `conv` and `filterGradient`.
 */
const WINOGRAD_PROGRAMS = {
  winogradFilter: () => winogradFilterProgram(),
  winogradInput: () => winogradInputProgram(),
  winogradOutput: () => winogradOutputProgram(),
  winogradOutputGradient: () => winogradOutputGradientProgram(),
  winogradFilterGradient: () => winogradFilterGradientProgram(),
  winogradFilter4: () => winogradFilterProgram(F4x4),
  winogradInput4: () => winogradInputProgram(F4x4),
  winogradOutput4: () => winogradOutputProgram(F4x4),
  winogradOutputGradient4: () => winogradOutputGradientProgram(F4x4),
  winogradFilterGradient4: () => winogradFilterGradientProgram(F4x4),
};
/** Adam's update (simd-adam.ts). */
const ADAM_PROGRAMS = { adamUpdate: adamUpdateProgram };
/** The memory-bound kernels' programs (memory-kernels.ts). */
const MEMORY_PROGRAMS = {
  columnSums: columnSumsProgram, maxPoolGrad2x2: maxPoolGrad2x2Program, copyRows: copyRowsProgram, reluGradient: reluGradientProgram,
  relu: reluProgram, rotateSwap: rotateSwapProgram,
};
export type SimdProgramName = keyof typeof EXACT | keyof typeof GROUP_NORM_PROGRAMS | keyof typeof WINOGRAD_PROGRAMS |
  keyof typeof ADAM_PROGRAMS | keyof typeof MEMORY_PROGRAMS;

/**
 * Whether the programs now multiply-add with f32x4.relaxed_madd: the flag is on (off by default) and
 * this runtime validates relaxed SIMD. Otherwise they run the exact mul + add encoding.
 */
export function relaxedFmaInUse(): boolean {
  return tf.env().getBool(SIMD_RELAXED_FMA_FLAG) && runtimeHasRelaxedSimd();
}

/** The export to call for a convolution program, per relaxedFmaInUse(). */
export function programName(program: keyof typeof EXACT): string {
  return (relaxedFmaInUse() ? RELAXED : EXACT)[program];
}

/**
 * Output pixels per filter-gradient chunk: the chunk of x and dy a tile streams over stays in the
 * L1/L2 caches (at 16 channels, 256 pixels are 16 KB of dy and ~50 KB of x).
 */
export const FILTER_GRAD_CHUNK_PIXELS = 256;

/**
 * Largest filter the forward program takes: it rereads the filter for every block of 4 output
 * pixels, which pays while the filter stays in the L2 cache. Measured at 16², 256 → 256 channels
 * (2.4 MB of filter): 103 ms against XNNPACK's 57; at 32², 128 → 128 (0.6 MB): 67 against 76.
 */
const MAX_FORWARD_FILTER_BYTES = 1 << 20;

/** How long threads poll before they sleep (WASM_THREAD_POLL_FLAG); tried ~30–575 µs on 2 cores, ~30 was best. */
const THREAD_POLL_MICROSECONDS = 30;

const compiled = new WeakMap<WebAssembly.Memory, ProgramThreads | null>();
let threadsWanted = 1;

/**
 * Threads the programs may use (startBackend passes tfjs's own thread count). Takes effect for a
 * memory not used yet; more than one needs a shared memory (tfjs's threaded build).
 */
export function setSimdConvThreads(threads: number): void {
  threadsWanted = Math.max(1, Math.floor(threads));
}

/** tfjs's wasm memory: where the single-threaded build exports it, or the threaded build keeps it. */
function memoryOf(backend: WasmHeapBackend): WebAssembly.Memory | undefined {
  return backend.wasm.asm?.memory ?? backend.wasm.wasmMemory;
}

/** The programs, compiled once per wasm memory; null when this runtime has no wasm SIMD. */
export function programsFor(backend: WasmHeapBackend): ProgramThreads | null {
  const memory = memoryOf(backend);
  if (!memory) return null;
  if (!compiled.has(memory)) {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const functions: ExportedFunction[] = [
      { name: EXACT.filterGradient, body: filterGradientProgram('exact') },
      { name: EXACT.conv, body: convProgram('exact') },
      ...Object.entries(GROUP_NORM_PROGRAMS).map(([name, body]) => ({ name, body: body() })),
      ...Object.entries(WINOGRAD_PROGRAMS).map(([name, body]) => ({ name, body: body() })),
      ...Object.entries(ADAM_PROGRAMS).map(([name, body]) => ({ name, body: body() })),
      ...Object.entries(MEMORY_PROGRAMS).map(([name, body]) => ({ name, body: body() })),
    ];
    // One module holds both encodings, so the flag can switch between them at any time (A/B benches).
    if (runtimeHasRelaxedSimd()) {
      functions.push(
        { name: RELAXED.filterGradient, body: filterGradientProgram('relaxed') },
        { name: RELAXED.conv, body: convProgram('relaxed') },
      );
    }
    const bytes = assembleModule(functions, shared);
    let programs: ProgramThreads | null = null;
    if (WebAssembly.validate(bytes)) {
      const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports;
      const names = functions.map((fn) => fn.name);
      const local = Object.fromEntries(names.map((name) => [name, exports[name] as Program]));
      programs = new ProgramThreads(bytes, memory, names, local, shared ? threadsWanted - 1 : 0);
      programs.pollMicroseconds = () => (tf.env().getBool(WASM_THREAD_POLL_FLAG) ? THREAD_POLL_MICROSECONDS : 0);
    }
    compiled.set(memory, programs);
  }
  return compiled.get(memory)!;
}

/** Threads the programs run on for this backend's memory (0 before their first use). */
export function simdConvThreadsInUse(backend: WasmHeapBackend): number {
  const memory = memoryOf(backend);
  return (memory && compiled.get(memory)?.threads) ?? 0;
}

export function stride1(info: tf.backend_util.Conv2DInfo): boolean {
  return info.strideHeight === 1 && info.strideWidth === 1 && info.dilationHeight === 1 &&
    info.dilationWidth === 1 && info.dataFormat === 'channelsLast';
}

/** Byte address of a tensor in the wasm memory. */
export function address(backend: WasmHeapBackend, t: TensorInfo): number {
  return backend.typedArrayFromHeap(t).byteOffset;
}

/**
 * x [N,H,W,C] copied into a zeroed [N, Ho+KH−1, Wo+KW−1, C] tensor at offset (top, left): the
 * input every output pixel's window reads, without bounds checks. Rows or columns a 'valid'
 * window never reaches are left out.
 */
export function padInput(backend: WasmHeapBackend, x: TensorInfo, info: tf.backend_util.Conv2DInfo): TensorInfo {
  const [N, H, W, C] = x.shape as [number, number, number, number];
  const Hp = info.outHeight + info.filterHeight - 1;
  const Wp = info.outWidth + info.filterWidth - 1;
  const { top, left } = info.padInfo;
  const padded = backend.makeOutput([N, Hp, Wp, C], 'float32');
  const dst = backend.typedArrayFromHeap(padded);
  const src = backend.typedArrayFromHeap(x);
  // Input columns [w0, w1) land at padded columns [w0 + left, w1 + left); only the rest is zeroed.
  const w0 = Math.max(0, -left);
  const w1 = Math.min(W, Wp - left);
  const rowFloats = Wp * C;
  for (let n = 0; n < N; n++) {
    for (let hp = 0; hp < Hp; hp++) {
      const h = hp - top;
      const row = (n * Hp + hp) * rowFloats;
      if (h < 0 || h >= H || w1 <= w0) {
        dst.fill(0, row, row + rowFloats);
        continue;
      }
      dst.fill(0, row, row + (w0 + left) * C);
      dst.set(src.subarray(((n * H + h) * W + w0) * C, ((n * H + h) * W + w1) * C), row + (w0 + left) * C);
      dst.fill(0, row + (w1 + left) * C, row + rowFloats);
    }
  }
  return padded;
}

/** dW [KH,KW,Ci,Co] of a stride-1 conv, or null when not covered. */
export function simdFilterGradient(
  backend: WasmHeapBackend, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo,
): TensorInfo | null {
  const { inChannels: Ci, outChannels: Co, filterHeight: KH, filterWidth: KW, outHeight: Ho, outWidth: Wo, batchSize: N } = info;
  if (!stride1(info) || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
  if (Ci % FILTER_GRAD_INPUT_BLOCK !== 0 || Co % OUTPUT_CHANNEL_BLOCK !== 0 || N * Ho * Wo === 0) return null;
  const programs = programsFor(backend);
  if (!programs) return null;
  const padded = padInput(backend, x, info);
  const dw = backend.makeOutput([KH, KW, Ci, Co], 'float32');
  backend.typedArrayFromHeap(dw).fill(0);
  const Hp = Ho + KH - 1;
  const Wp = Wo + KW - 1;
  const [xAt, dyAt, dwAt] = [padded, dy, dw].map((t) => address(backend, t)) as [number, number, number];
  const chunkRows = Math.max(1, Math.floor(FILTER_GRAD_CHUNK_PIXELS / Wo));
  const blocks = splitRange(Ci / FILTER_GRAD_INPUT_BLOCK, programs.threads);
  programs.run(programName('filterGradient'), blocks.map(([b0, b1]) => [
    xAt, dyAt, dwAt, N, Ho, Wo, Hp, Wp, Ci, Co, KH, KW, b0 * FILTER_GRAD_INPUT_BLOCK, b1 * FILTER_GRAD_INPUT_BLOCK, chunkRows, 0, 0, 0,
  ]));
  backend.disposeData(padded.dataId);
  return dw;
}

/**
 * y = act(conv(x, filter) + bias) of a stride-1 conv (act: identity or ReLU), or null when not
 * covered.
 */
export function simdConv(
  backend: WasmHeapBackend, x: TensorInfo, filter: TensorInfo, bias: TensorInfo | undefined, relu: boolean,
  info: tf.backend_util.Conv2DInfo,
): TensorInfo | null {
  const { inChannels: Ci, outChannels: Co, filterHeight: KH, filterWidth: KW, outHeight: Ho, outWidth: Wo, batchSize: N } = info;
  if (!stride1(info) || x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  if (Co % OUTPUT_CHANNEL_BLOCK !== 0 || N * Ho * Wo * Ci === 0) return null;
  if (KH * KW * Ci * Co * 4 > MAX_FORWARD_FILTER_BYTES) return null;
  if (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== Co)) return null;
  const programs = programsFor(backend);
  if (!programs) return null;
  const padded = padInput(backend, x, info);
  const y = backend.makeOutput([N, Ho, Wo, Co], 'float32');
  const Hp = Ho + KH - 1;
  const Wp = Wo + KW - 1;
  const xAt = address(backend, padded);
  const wAt = address(backend, filter);
  const biasAt = bias ? address(backend, bias) : 0;
  const yAt = address(backend, y);
  programs.run(programName('conv'), splitRange(Ho, programs.threads).map(([i0, i1]) => [
    xAt, wAt, biasAt, yAt, N, Ho, Wo, Hp, Wp, Ci, Co, KH, KW, relu ? 1 : 0, i0, i1, 0, 0, 0,
  ]));
  backend.disposeData(padded.dataId);
  return y;
}

/** The last two dimensions of a and b: float32 tensors of one rank ≥ 2 whose batch dimensions are all 1; else null. */
function singleMatrices(a: TensorInfo, b: TensorInfo): [[number, number], [number, number]] | null {
  const rank = a.shape.length;
  if (rank < 2 || b.shape.length !== rank || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  if (a.shape.slice(0, -2).some((d) => d !== 1) || b.shape.slice(0, -2).some((d) => d !== 1)) return null;
  return [a.shape.slice(-2) as [number, number], b.shape.slice(-2) as [number, number]];
}

/**
 * aᵀ·b for a [..., K, M] and b [..., K, N] with every batch dimension 1 (the result [..., M, N]), or
 * null when not covered (M % 4 ≠ 0, N % 8 ≠ 0, not float32). The filter-gradient program with a 1×1
 * filter computes it: a as K "pixels" of M channels, b as K pixels of N channels. Why: the
 * up-convolution's weight gradient is such a product (K = batch·H·W pixels, 16–256 channels), and
 * XNNPACK's GEMM after a transpose ran it at 5–8 GFLOP/s (one 64² step: 3.1 ms for K = 4096,
 * M = 32, N = 64), as it did the convolutions' filter gradients.
 */
export function simdTransposedProduct(backend: WasmHeapBackend, a: TensorInfo, b: TensorInfo): TensorInfo | null {
  const matrices = singleMatrices(a, b);
  if (!matrices) return null;
  const [[K, M], [Kb, N]] = matrices;
  if (K !== Kb || K === 0 || M % FILTER_GRAD_INPUT_BLOCK !== 0 || N % OUTPUT_CHANNEL_BLOCK !== 0) return null;
  const programs = programsFor(backend);
  if (!programs) return null;
  const out = backend.makeOutput([...a.shape.slice(0, -2), M, N], 'float32');
  backend.typedArrayFromHeap(out).fill(0);
  // K pixels as rows of `width` (a divisor of K up to one chunk), so the program streams them a
  // cache-sized chunk at a time.
  let width = 1;
  for (let w = Math.min(K, FILTER_GRAD_CHUNK_PIXELS); w > 1; w--) if (K % w === 0) { width = w; break; }
  const rows = K / width;
  const [aAt, bAt, outAt] = [a, b, out].map((t) => address(backend, t)) as [number, number, number];
  const blocks = splitRange(M / FILTER_GRAD_INPUT_BLOCK, programs.threads);
  programs.run(programName('filterGradient'), blocks.map(([b0, b1]) => [
    aAt, bAt, outAt, 1, rows, width, rows, width, M, N, 1, 1, b0 * FILTER_GRAD_INPUT_BLOCK, b1 * FILTER_GRAD_INPUT_BLOCK,
    Math.max(1, Math.floor(FILTER_GRAD_CHUNK_PIXELS / width)), 0, 0, 0,
  ]));
  return out;
}

/** Pixels per row when a product's M rows run as a 1×1 conv: the conv program takes pixels four at a time. */
const PRODUCT_ROW_PIXELS = 64;

/**
 * a·b for a [..., M, K] and b [..., K, N] with every batch dimension 1 (the result [..., M, N]), or
 * null when not covered (N % 8 ≠ 0, b over MAX_FORWARD_FILTER_BYTES, not float32). The forward conv
 * program with a 1×1 filter computes it: a as M "pixels" of K channels in rows of up to 64, b as the
 * filter [1, 1, K, N]. Why: the up-convolution's forward pass and input gradient are such products
 * (M = batch·H·W, K and N 16–512), and XNNPACK ran the deeper ones at 9–22 GFLOP/s (a 128² step:
 * 3.5 ms for M = 256, K = 256, N = 512). Both add the K products in order with separate multiplies
 * and adds, so the results are XNNPACK's bits.
 */
export function simdProduct(backend: WasmHeapBackend, a: TensorInfo, b: TensorInfo): TensorInfo | null {
  const matrices = singleMatrices(a, b);
  if (!matrices) return null;
  const [[M, K], [Kb, N]] = matrices;
  if (K !== Kb || M === 0 || !simdProductCovers(K, N)) return null;
  const programs = programsFor(backend);
  if (!programs) return null;
  const width = productRowWidth(M, programs.threads);
  const rows = M / width;
  const out = backend.makeOutput([...a.shape.slice(0, -2), M, N], 'float32');
  const [aAt, bAt, outAt] = [a, b, out].map((t) => address(backend, t)) as [number, number, number];
  programs.run(programName('conv'), splitRange(rows, programs.threads).map(([i0, i1]) => [
    aAt, bAt, 0, outAt, 1, rows, width, rows, width, K, N, 1, 1, 0, i0, i1, 0, 0, 0,
  ]));
  return out;
}

/** Whether simdProduct takes a product with inner dimension K and N columns (the shapes alone). */
export function simdProductCovers(K: number, N: number): boolean {
  return K > 0 && N % OUTPUT_CHANNEL_BLOCK === 0 && K * N * 4 <= MAX_FORWARD_FILTER_BYTES;
}

/** The largest divisor of M up to PRODUCT_ROW_PIXELS that leaves a row for each thread (1 if none). */
export function productRowWidth(M: number, threads: number): number {
  let width = 1;
  for (let w = 2; w <= Math.min(M, PRODUCT_ROW_PIXELS); w++) {
    if (M % w === 0 && M / w >= Math.min(threads, M)) width = w;
  }
  return width;
}
