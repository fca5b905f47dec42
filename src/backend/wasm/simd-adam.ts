/**
 * Adam's update (kernel-names.ts ADAM_UPDATE_KERNEL) on wasm as one SIMD program call per variable,
 * in the tf-op Adam's operation order (src/train/adam.ts), so the bits are the same:
 *   m' = m·β1 + g·(1 − β1),  v' = v·β2 + (g·g)·(1 − β2),  x' = x − (m'·s) / (√v' + ε̂)
 * with every scalar rounded to float32 once, as tf's scalar tensors are, and every operation
 * rounded as a float32 kernel rounds it (f32x4 mul, add, sub, div and sqrt are IEEE 754 operations).
 * Why: the tf-op update is ~12 kernels per variable (~440 of the ~900 small kernels of a U-Net
 * step); a JS loop doing the same work was no faster (BENCHMARKS.md), four lanes at a time are.
 * m and v are rewritten in place; x' goes to a fresh tensor, returned per variable: XNNPACK caches a
 * convolution's packed filter by data id, so a filter changed in place would be read stale.
 */
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { ADAM_UPDATE_KERNEL } from '../kernel-names.js';
import { overrideKernel } from '../kernel-override.js';
import type { WasmHeapBackend } from './heap.js';
import { ADAM_SCALARS as SCALARS } from './simd-adam-programs.js';
import { address, programsFor } from './simd-conv.js';

interface AdamUpdateArgs {
  inputs: Record<string, TensorInfo>;
  backend: WasmHeapBackend;
  attrs: { beta1: number; beta2: number; stepSize: number; epsilonHat: number; rateScales: number[] };
}

/** The six scalars of one variable's update, each rounded to float32 once. */
function scalarsOf(attrs: AdamUpdateArgs['attrs'], rateScale: number): Float32Array {
  return Float32Array.of(attrs.beta1, 1 - attrs.beta1, attrs.beta2, 1 - attrs.beta2, attrs.stepSize * rateScale, attrs.epsilonHat);
}

/** Adam over every (g_i, m_i, v_i, x_i): m_i, v_i in place, x_i' returned (one fresh tensor each). */
function adamUpdate({ inputs, backend, attrs }: AdamUpdateArgs): TensorInfo[] {
  const programs = programsFor(backend);
  if (!programs) throw new Error(`${ADAM_UPDATE_KERNEL}: this runtime has no wasm SIMD`);
  const scalarBlock = backend.makeOutput([SCALARS], 'float32');
  const outputs = attrs.rateScales.map((rateScale, k) => {
    const [g, m, v, x] = ['g', 'm', 'v', 'x'].map((name) => inputs[`${name}${k}`]);
    if (!g || !m || !v || !x) throw new Error(`${ADAM_UPDATE_KERNEL}: inputs g${k}, m${k}, v${k}, x${k} expected`);
    const n = x.shape.reduce((a, b) => a * b, 1);
    const xOut = backend.makeOutput(x.shape, 'float32');
    const scalars = scalarsOf(attrs, rateScale);
    // A view taken after the allocation above: growing the wasm memory detaches earlier views.
    backend.typedArrayFromHeap(scalarBlock).set(scalars);
    const vectorFloats = n - (n % 4);
    programs.run('adamUpdate', [[...[g, m, v, x, xOut].map((t) => address(backend, t)), address(backend, scalarBlock), vectorFloats * 4]]);
    if (vectorFloats < n) updateTail(backend, { g, m, v, x, xOut }, scalars, vectorFloats, n);
    return xOut;
  });
  backend.disposeData(scalarBlock.dataId);
  return outputs;
}

/** The last n mod 4 floats in JS, each float32 operation rounded with Math.fround, as the program rounds it. */
function updateTail(
  backend: WasmHeapBackend, t: Record<'g' | 'm' | 'v' | 'x' | 'xOut', TensorInfo>, scalars: Float32Array, from: number, to: number,
): void {
  const [g, m, v, x, xOut] = [t.g, t.m, t.v, t.x, t.xOut].map((info) => backend.typedArrayFromHeap(info)) as Float32Array[];
  const [beta1, oneMinusBeta1, beta2, oneMinusBeta2, stepSize, epsilonHat] = scalars as unknown as number[];
  const r = Math.fround;
  for (let i = from; i < to; i++) {
    const gi = g![i]!;
    const mi = r(r(m![i]! * beta1!) + r(gi * oneMinusBeta1!));
    const vi = r(r(v![i]! * beta2!) + r(r(gi * gi) * oneMinusBeta2!));
    m![i] = mi;
    v![i] = vi;
    xOut![i] = r(x![i]! - r(r(mi * stepSize!) / r(r(Math.sqrt(vi)) + epsilonHat!)));
  }
}

/** Registers ADAM_UPDATE_KERNEL for wasm (train/adam.ts uses it under FUSED_ADAM_FLAG). */
export function registerWasmAdamKernel(): void {
  overrideKernel('wasm', ADAM_UPDATE_KERNEL, () => adamUpdate as unknown as KernelFunc);
}
