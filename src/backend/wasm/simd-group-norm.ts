/**
 * Group normalisation + affine + ReLU on tfjs-backend-wasm, forward and backward, as ctquant's
 * kernels GROUP_NORM_RELU_KERNEL / GROUP_NORM_RELU_GRAD_KERNEL (kernel-names.ts): two passes of
 * SIMD programs each way (simd-group-norm-programs.ts) in place of the ~45 tf ops of the composed
 * form, which read and write the whole tensor about 20 times.
 *
 * Forward: per-channel sums of (x − K) and (x − K)² per chunk of pixels (K = the group's first
 *   value in the image, a shift so that E[(x−K)²] − E[x−K]² does not cancel when |μ| ≫ σ), added
 *   here in float64 into μ and 1/σ per (image, group) → stats [B, G, 2]; then z = relu(γ·x̂ + β).
 * Backward: per-channel sums of dy and dy·x̂ per chunk, added here in float64 into dβ, dγ and the
 *   group means of g = dy·γ and g·x̂; then dx = (g − mean(g) − x̂·mean(g·x̂))/σ.
 * Chunks are fixed by the shape alone and added in a fixed order, so the numbers are the same at
 * any thread count (the threaded build splits the chunks over tfjs's threads, like the convolutions).
 * Shapes: x, dz, z, dx [B, H, W, C]; γ, β, dγ, dβ [C]; C divisible by groups.
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, TensorInfo } from '@tensorflow/tfjs';
import { GROUP_NORM_RELU_GRAD_KERNEL, GROUP_NORM_RELU_KERNEL } from '../kernel-names.js';
import { overrideKernel } from '../kernel-override.js';
import type { WasmHeapBackend } from './heap.js';
import { assembleModule } from './module-writer.js';
import { address, programsFor, type SimdProgramName } from './simd-conv.js';
import { groupNormApplyProgram, groupNormSumsProgram, PARAM, PARAM_ROWS } from './simd-group-norm-programs.js';
import { splitRange } from './simd-workers.js';

/**
 * Floats of x per chunk (one unit of work): a chunk of x, dz and the output stays in the L1/L2
 * cache while the programs go over it once per 4 channels, and each float32 partial sum adds at
 * most CHUNK_FLOATS / C / 2 terms before it is added in float64.
 */
const CHUNK_FLOATS = 8192;

/** How an image's N pixels are cut into units of work. */
export interface GroupNormUnits {
  chunkPixels: number;
  chunksPerImage: number;
  units: number;
}

/** Units of batch images of `pixels` pixels × `channels` channels: chunks of about CHUNK_FLOATS floats. */
export function planUnits(batch: number, pixels: number, channels: number): GroupNormUnits {
  const chunkPixels = Math.max(1, Math.floor(CHUNK_FLOATS / Math.max(1, channels)));
  const chunksPerImage = Math.ceil(pixels / chunkPixels);
  return { chunkPixels, chunksPerImage, units: batch * chunksPerImage };
}

/** True when this runtime validates the programs (wasm SIMD); register the kernels only then. */
export function groupNormProgramsValidate(): boolean {
  const bytes = assembleModule([
    { name: 'sums', body: groupNormSumsProgram('backward') },
    { name: 'apply', body: groupNormApplyProgram('backward') },
  ], false);
  return WebAssembly.validate(bytes);
}

/** Registers both kernels for backend 'wasm' (they are looked up by name, see model/group-norm.ts). */
export function registerWasmGroupNormKernels(): void {
  overrideKernel('wasm', GROUP_NORM_RELU_KERNEL, () => groupNormRelu as unknown as KernelFunc);
  overrideKernel('wasm', GROUP_NORM_RELU_GRAD_KERNEL, () => groupNormReluGrad as unknown as KernelFunc);
}

interface Geometry {
  batch: number;
  pixels: number;
  channels: number;
  groups: number;
  plan: GroupNormUnits;
}

function geometry(x: TensorInfo, groups: number): Geometry {
  const [batch, h, w, channels] = x.shape as [number, number, number, number];
  if (x.shape.length !== 4 || x.dtype !== 'float32') throw new Error(`wasm group norm: expected float32 [B, H, W, C], got ${x.dtype} [${x.shape}]`);
  if (!(groups >= 1 && channels % groups === 0)) throw new Error(`wasm group norm: ${groups} groups do not divide ${channels} channels`);
  const pixels = h * w;
  return { batch, pixels, channels, groups, plan: planUnits(batch, pixels, channels) };
}

/** Runs program `name` over all units, split over the program threads. */
function runUnits(
  backend: WasmHeapBackend, name: SimdProgramName, g: Geometry, tensors: { x: TensorInfo; dz?: TensorInfo; params: TensorInfo; out: TensorInfo },
): void {
  const programs = programsFor(backend);
  if (!programs) throw new Error('wasm group norm: the SIMD programs are unavailable for this memory');
  const at = (t: TensorInfo | undefined) => (t ? address(backend, t) : 0);
  const head = [at(tensors.x), at(tensors.dz), at(tensors.params), at(tensors.out), g.channels, g.pixels, g.plan.chunkPixels, g.plan.chunksPerImage];
  programs.run(name, splitRange(g.plan.units, programs.threads).map(([u0, u1]) => [...head, u0, u1]));
}

/**
 * Per (image, channel) float64 totals over the image's chunks of the two sums a sums program wrote
 * to partial [units, 2, C]: returns [first, second], each [B·C].
 */
function channelTotals(partial: Float32Array, g: Geometry): [Float64Array, Float64Array] {
  const { batch, channels: C, plan } = g;
  const first = new Float64Array(batch * C);
  const second = new Float64Array(batch * C);
  for (let b = 0; b < batch; b++) {
    for (let k = 0; k < plan.chunksPerImage; k++) {
      const base = (b * plan.chunksPerImage + k) * 2 * C;
      for (let c = 0; c < C; c++) {
        first[b * C + c]! += partial[base + c]!;
        second[b * C + c]! += partial[base + C + c]!;
      }
    }
  }
  return [first, second];
}

/** Sets parameter row `row` of image b to `value(c)` for every channel. */
function setRow(params: Float32Array, g: Geometry, b: number, row: number, value: (c: number) => number): void {
  const base = (b * PARAM_ROWS + row) * g.channels;
  for (let c = 0; c < g.channels; c++) params[base + c] = value(c);
}

/** Rows μ, 1/σ (per group, from stats [B, G, 2]), γ and β of every image. */
function setNormParams(params: Float32Array, g: Geometry, stats: Float32Array, gamma: Float32Array, beta: Float32Array): void {
  const perGroup = g.channels / g.groups;
  for (let b = 0; b < g.batch; b++) {
    const stat = (c: number, k: 0 | 1) => stats[(b * g.groups + Math.floor(c / perGroup)) * 2 + k]!;
    setRow(params, g, b, PARAM.mu, (c) => stat(c, 0));
    setRow(params, g, b, PARAM.invStd, (c) => stat(c, 1));
    setRow(params, g, b, PARAM.gamma, (c) => gamma[c]!);
    setRow(params, g, b, PARAM.beta, (c) => beta[c]!);
  }
}

interface ForwardArgs {
  inputs: { x: TensorInfo; gamma: TensorInfo; beta: TensorInfo };
  backend: WasmHeapBackend;
  attrs: { groups: number; epsilon: number };
}

/** [z [B, H, W, C], stats [B, G, 2] = (μ, 1/σ)] (kernel-names.ts). */
function groupNormRelu({ inputs, backend, attrs }: ForwardArgs): TensorInfo[] {
  const { x, gamma, beta } = inputs;
  const g = geometry(x, attrs.groups);
  const { batch, channels: C, groups, plan } = g;
  const perGroup = C / groups;
  const params = backend.makeOutput([batch, PARAM_ROWS, C], 'float32');
  const partial = backend.makeOutput([plan.units, 2, C], 'float32');
  const z = backend.makeOutput(x.shape, 'float32');
  const stats = backend.makeOutput([batch, groups, 2], 'float32');
  // Views only after the last allocation: a growing heap detaches earlier ones.
  const xs = backend.typedArrayFromHeap(x);
  const ps = backend.typedArrayFromHeap(params);
  const ss = backend.typedArrayFromHeap(stats);
  const shiftOf = (b: number, group: number) => xs[b * g.pixels * C + group * perGroup]!;
  for (let b = 0; b < batch; b++) setRow(ps, g, b, PARAM.shift, (c) => shiftOf(b, Math.floor(c / perGroup)));
  runUnits(backend, 'groupNormSums', g, { x, params, out: partial });
  const [sum, sumSquares] = channelTotals(backend.typedArrayFromHeap(partial), g);
  const count = g.pixels * perGroup;
  for (let b = 0; b < batch; b++) {
    for (let group = 0; group < groups; group++) {
      let s1 = 0;
      let s2 = 0;
      for (let c = group * perGroup; c < (group + 1) * perGroup; c++) {
        s1 += sum[b * C + c]!;
        s2 += sumSquares[b * C + c]!;
      }
      const shiftedMean = s1 / count;
      const variance = Math.max(s2 / count - shiftedMean * shiftedMean, 0);
      ss[(b * groups + group) * 2] = shiftOf(b, group) + shiftedMean;
      ss[(b * groups + group) * 2 + 1] = 1 / Math.sqrt(variance + attrs.epsilon);
    }
  }
  setNormParams(ps, g, ss, backend.typedArrayFromHeap(gamma), backend.typedArrayFromHeap(beta));
  runUnits(backend, 'groupNormApply', g, { x, params, out: z });
  backend.disposeData(params.dataId);
  backend.disposeData(partial.dataId);
  return [z, stats];
}

interface BackwardArgs {
  inputs: { dz: TensorInfo; x: TensorInfo; gamma: TensorInfo; beta: TensorInfo; stats: TensorInfo };
  backend: WasmHeapBackend;
  attrs: { groups: number };
}

/** [dx [B, H, W, C], dγ [C], dβ [C]] (kernel-names.ts). */
function groupNormReluGrad({ inputs, backend, attrs }: BackwardArgs): TensorInfo[] {
  const { dz, x, gamma, beta, stats } = inputs;
  const g = geometry(x, attrs.groups);
  const { batch, channels: C, groups, plan } = g;
  if (dz.dtype !== 'float32' || dz.shape.join() !== x.shape.join()) throw new Error(`wasm group norm gradient: dz [${dz.shape}] does not match x [${x.shape}]`);
  const perGroup = C / groups;
  const params = backend.makeOutput([batch, PARAM_ROWS, C], 'float32');
  const partial = backend.makeOutput([plan.units, 2, C], 'float32');
  const dx = backend.makeOutput(x.shape, 'float32');
  const dGamma = backend.makeOutput([C], 'float32');
  const dBeta = backend.makeOutput([C], 'float32');
  const ps = backend.typedArrayFromHeap(params);
  const gammas = backend.typedArrayFromHeap(gamma);
  setNormParams(ps, g, backend.typedArrayFromHeap(stats), gammas, backend.typedArrayFromHeap(beta));
  runUnits(backend, 'groupNormGradSums', g, { x, dz, params, out: partial });
  const [sumDy, sumDyXHat] = channelTotals(backend.typedArrayFromHeap(partial), g);
  const dg = backend.typedArrayFromHeap(dGamma);
  const db = backend.typedArrayFromHeap(dBeta);
  for (let c = 0; c < C; c++) {
    let s1 = 0;
    let s2 = 0;
    for (let b = 0; b < batch; b++) {
      s1 += sumDy[b * C + c]!;
      s2 += sumDyXHat[b * C + c]!;
    }
    db[c] = s1;
    dg[c] = s2;
  }
  const count = g.pixels * perGroup;
  for (let b = 0; b < batch; b++) {
    const meanG = new Float64Array(groups);
    const meanGXHat = new Float64Array(groups);
    for (let c = 0; c < C; c++) {
      const group = Math.floor(c / perGroup);
      meanG[group]! += gammas[c]! * sumDy[b * C + c]!;
      meanGXHat[group]! += gammas[c]! * sumDyXHat[b * C + c]!;
    }
    setRow(ps, g, b, PARAM.meanG, (c) => meanG[Math.floor(c / perGroup)]! / count);
    setRow(ps, g, b, PARAM.meanGXHat, (c) => meanGXHat[Math.floor(c / perGroup)]! / count);
  }
  runUnits(backend, 'groupNormGradApply', g, { x, dz, params, out: dx });
  backend.disposeData(params.dataId);
  backend.disposeData(partial.dataId);
  return [dx, dGamma, dBeta];
}
