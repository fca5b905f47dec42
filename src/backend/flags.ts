/**
 * ctquant's tfjs env flags, all registered here (on import) with their defaults: switches between
 * ctquant's kernels and the stock ones (or two ctquant variants), so one process can benchmark both.
 * Set one with `tf.env().set(NAME, value)` or the environment variable NAME=true|false (worker
 * processes inherit it); the benchmarks take `--flags NAME=value`.
 */
import * as tf from '@tensorflow/tfjs';

/**
 * wasm: the stride-1 filter gradient as im2col + GEMM (true) or as one XNNPACK conv (false; a
 * one-channel input always takes im2col). Measured per layer in a 256², batch-4 step: im2col is
 * ~10% faster on one thread (its row copies are JS, single-threaded) and ~30% slower on two, so
 * startBackend sets it to (threads === 1).
 */
export const IM2COL_FLAG = 'CTQUANT_WASM_IM2COL';

/**
 * wasm: stride-1 filter gradients (SIMD_FILTER_GRAD) and forward convolutions, which include the
 * input gradients (SIMD_CONV), through ctquant's SIMD programs (true, the default) or XNNPACK (false).
 */
export const SIMD_FILTER_GRAD_FLAG = 'CTQUANT_WASM_SIMD_FILTER_GRAD';
export const SIMD_CONV_FLAG = 'CTQUANT_WASM_SIMD_CONV';

/**
 * wasm: ctquant's SIMD programs multiply-add with relaxed SIMD's `f32x4.relaxed_madd` (true, where
 * the runtime validates it: Node ≥ 22, or Node 20 with `--experimental-wasm-relaxed-simd`) or with
 * f32x4.mul + f32x4.add (false, the default: the exact path, the same bits on every machine).
 * Relaxed is fused on CPUs with FMA, so its results may differ across CPUs in the last bits; off by
 * default because on the development machine (Zen 5) it gained nothing (0.9–1.1× per layer,
 * BENCHMARKS.md) and a seed should give the same numbers everywhere.
 */
export const SIMD_RELAXED_FMA_FLAG = 'CTQUANT_WASM_SIMD_RELAXED_FMA';

/**
 * wasm: 3×3 stride-1 convolutions (forward passes, input and filter gradients) by Winograd
 * F(2×2, 3×3) (wasm/simd-winograd.ts, true) or by the direct SIMD programs (false), under
 * SIMD_CONV_FLAG / SIMD_FILTER_GRAD_FLAG as those are. 2.25× fewer multiply-adds;
 * the results differ in the last bits (other sums), so a seed gives other (equally deterministic)
 * numbers with the flag off.
 */
export const WASM_WINOGRAD_FLAG = 'CTQUANT_WASM_WINOGRAD';

/**
 * wasm, under WASM_WINOGRAD_FLAG: Winograd F(4×4, 3×3) where a convolution's output sides are
 * multiples of 4 and the batch has enough tiles (wasm/simd-winograd.ts MIN_F4_TILES; true, the
 * default: 36 products per 16 outputs, 4× fewer multiply-adds than direct) or F(2×2, 3×3) everywhere
 * (false). Whole training steps ×1.09 (64²), ×1.17 (128²), ×1.25 (256²), 1 thread (BENCHMARKS.md).
 * F(4×4)'s larger transform coefficients cost accuracy: about 7× F(2×2)'s rounding error, at most
 * 1.2e-5 relative against the cpu backend in the tests.
 */
export const WASM_WINOGRAD_F4_FLAG = 'CTQUANT_WASM_WINOGRAD_F4';

/** wasm: the memory-bound kernels in JS over the heap (wasm/memory-kernels.ts; true) or the stock ones. */
export const WASM_JS_KERNELS_FLAG = 'CTQUANT_WASM_JS_KERNELS';

/**
 * wasm, under WASM_JS_KERNELS_FLAG: the bias-gradient sums, the 2×2 max-pool gradient, the
 * concat/split copies and Relu as SIMD programs (wasm/simd-memory-programs.ts; true) or as the JS
 * loops (false). The same bits either way.
 */
export const WASM_SIMD_MEMORY_FLAG = 'CTQUANT_WASM_SIMD_MEMORY';

/**
 * wasm: the filter of a stride-1 input gradient rotated 180° and in/out-swapped in one JS pass over
 * the heap (kernel-geometry.ts rotatedSwappedFilter; true) or by the stock Reverse + Transpose
 * (false), which took 39 ms for a 3×3×256×256 filter. The same numbers either way (a permutation).
 */
export const WASM_FILTER_ROTATION_FLAG = 'CTQUANT_WASM_FILTER_ROTATION';

/**
 * wasm: group norm + affine + ReLU and its gradient through ctquant's SIMD programs
 * (wasm/simd-group-norm.ts: two passes each way; true) or the tf-ops form (false; model/group-norm.ts
 * checks it). The two sum in different orders, so their numbers differ in the last bits.
 */
export const WASM_GROUP_NORM_FLAG = 'CTQUANT_WASM_GROUP_NORM';

/**
 * wasm, threaded build: the threads that share a SIMD program call poll for their next job or for
 * the other threads' results for ~30 µs before they sleep in Atomics.wait (wasm/simd-workers.ts;
 * true, the default) or sleep at once (false). Waking a sleeping thread cost more than many of a
 * step's jobs take: 2 threads, 64² step 74 → ~60 ms, 128² 182 → ~141 ms. The same numbers either way.
 */
export const WASM_THREAD_POLL_FLAG = 'CTQUANT_WASM_THREAD_POLL';

/** webgpu: the row-tiled filter gradient for 3×3 stride-1 'same' convolutions (webgpu/conv3x3-filter-grad.ts): off until a GPU run times it. */
export const ROW_FILTER_GRAD_FLAG = 'CTQUANT_WEBGPU_ROW_FILTER_GRAD';

/**
 * Adam through a backend's fused update kernel where it has one (webgpu: one WGSL dispatch per
 * variable, webgpu/adam.ts) instead of ~11 tf ops per variable (default true; false = the tf-op
 * path, as on every other backend).
 */
export const FUSED_ADAM_FLAG = 'CTQUANT_FUSED_ADAM';

const DEFAULTS: Record<string, boolean> = {
  [IM2COL_FLAG]: false,
  [SIMD_FILTER_GRAD_FLAG]: true,
  [SIMD_CONV_FLAG]: true,
  [WASM_WINOGRAD_FLAG]: true,
  [WASM_WINOGRAD_F4_FLAG]: true,
  [SIMD_RELAXED_FMA_FLAG]: false,
  [WASM_JS_KERNELS_FLAG]: true,
  [WASM_SIMD_MEMORY_FLAG]: true,
  [WASM_FILTER_ROTATION_FLAG]: true,
  [WASM_GROUP_NORM_FLAG]: true,
  [WASM_THREAD_POLL_FLAG]: true,
  [ROW_FILTER_GRAD_FLAG]: false,
  [FUSED_ADAM_FLAG]: true,
};

/** A flag's value from the environment variable of its name ("true" / "false"), so a run (and its workers) can switch one without code. */
function fromEnvironment(name: string): boolean | undefined {
  const text = typeof process === 'undefined' ? undefined : process.env?.[name];
  return text === 'true' ? true : text === 'false' ? false : undefined;
}

for (const [name, value] of Object.entries(DEFAULTS)) tf.env().registerFlag(name, () => fromEnvironment(name) ?? value);
