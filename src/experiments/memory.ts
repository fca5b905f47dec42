/**
 * Host memory an experiment needs, estimated before anything trains, so that a run too large for
 * the machine is refused in one line rather than killed by the kernel's OOM killer, which also
 * takes other processes with it (seen: `--workers 1000` on 2 cores killed a study running beside it).
 *
 * Calibrated on the peak resident set of `ctquant train` on wasm (`/usr/bin/time -f %M`, 2026-12-03,
 * 32 phantom slices): 128², batch 4, base 8: 0.42 GB; 256², batch 4: 0.76–0.82 GB at base 8 and
 * 1.23 GB at base 16 (depth 4); 256², batch 8: 1.25 GB; 512², batch 2: 1.35 GB. That is a runtime
 * of ~0.32 GB plus ~222 bytes per pixel of the batch per base filter (the activations and their
 * gradients scale with the widest layers, the full-size ones); 232 bytes is used, a little over.
 * So a 1024² step at batch 8, base 8 holds about 16 GB on the CPU.
 */

import type { ExperimentConfig } from '../config/experiment-config.js';
import { CACHE_READINGS } from '../detector/limits.js';
import { formatGb } from '../util/bytes.js';

/** Node, tfjs and the wasm module before any tensor: about 0.32 GB (rounded up). */
export const RUNTIME_BYTES = 336 * 2 ** 20;
/** Activations and gradients of one training step: bytes per pixel of the batch per base filter. */
export const STEP_BYTES_PER_PIXEL_PER_FILTER = 232;
/** A slice held in memory: float32 counts and a uint8 mask per pixel. */
export const SLICE_BYTES_PER_PIXEL = 5;

export interface MemoryPlan {
  size: number;
  batchSize: number;
  baseFilters: number;
  /** Adjacent slices a 3D U-Net convolves through (its activations are that many times a 2D one's); 1 for 2D and 2.5D. */
  depthSlices: number;
  /** Slices every process holds at the training size (phantoms, or a folder's slices counted from names and headers); undefined when the folder cannot be judged before loading. */
  slices?: number;
  /** Processes training at the same time. */
  processes: number;
  /** Whether activations live in host memory (wasm, cpu); false on a GPU backend, where only the data does. */
  hostActivations: boolean;
  /** Detector space: the scan's views and channels (readings per image, always in host memory). */
  scan?: { views: number; channels: number };
}

/**
 * Detector space, host memory per reading of one image (views × channels): the expected, noisy,
 * digitised and filtered sinograms of a step and the reconstruction's working arrays. Calibrated
 * like the rest (2026-12-03, 64², batch 8, 24 phantoms, the parallel profile with its channels and
 * views scaled): 11,520 readings 0.27 GB, 460,800 readings 0.54 GB, 1,843,200 readings 0.87 GB.
 * 256 bytes a reading, plus the projector's plan (8 bytes per view per pixel) and the
 * expected-counts cache (4 bytes a reading, at most CACHE_READINGS), with the runtime and the U-Net
 * step above, covers those at 1.1–1.5× (most over where the scan is small and the runtime term
 * dominates). Measured at batch 8 only.
 */
export const DETECTOR_BYTES_PER_READING = 256;
export const DETECTOR_PLAN_BYTES_PER_VIEW_PIXEL = 8;

/** The plan of an experiment: its config's sizes, the `slices` it holds (when known), `processes` at once. */
export function experimentMemoryPlan(
  config: ExperimentConfig, slices: number | undefined, processes: number, hostActivations: boolean, scan?: { views: number; channels: number },
): MemoryPlan {
  return {
    ...(scan ? { scan: { views: scan.views, channels: scan.channels } } : {}),
    size: config.size,
    batchSize: config.batchSize,
    baseFilters: config.unet.baseFilters,
    depthSlices: config.context.network === '3d' ? config.context.slices : 1,
    ...(slices !== undefined ? { slices } : {}),
    processes,
    hostActivations,
  };
}

/** The U-Net step's activations and gradients, bytes: the tensors a backend holds (wasm: in its heap). */
export function stepBytes(plan: Pick<MemoryPlan, 'size' | 'batchSize' | 'baseFilters' | 'depthSlices'>): number {
  return STEP_BYTES_PER_PIXEL_PER_FILTER * plan.baseFilters * plan.batchSize * plan.size * plan.size * plan.depthSlices;
}

/** Estimated peak host memory of one training process, bytes. */
export function processBytes(plan: Omit<MemoryPlan, 'processes'>): number {
  const pixels = plan.size * plan.size;
  const step = plan.hostActivations ? stepBytes(plan) : 0;
  const data = (plan.slices ?? 0) * pixels * SLICE_BYTES_PER_PIXEL;
  return RUNTIME_BYTES + step + data + (plan.scan ? scanBytes(plan.scan, pixels, plan.slices) : 0);
}

/** Detector space's own arrays (see DETECTOR_BYTES_PER_READING); the cache as full when the slice count is not known. */
function scanBytes(scan: { views: number; channels: number }, pixels: number, slices: number | undefined): number {
  const readings = scan.views * scan.channels;
  const cached = Math.min(CACHE_READINGS, (slices ?? Infinity) * readings);
  return DETECTOR_BYTES_PER_READING * readings + DETECTOR_PLAN_BYTES_PER_VIEW_PIXEL * scan.views * pixels + 4 * cached;
}

const gb = formatGb;

/**
 * Why the plan cannot fit in `totalBytes` of memory (one line naming what to lower), or null when
 * its estimate fits. Only a plan over the machine's whole memory is refused: the estimate is rough,
 * and a run that fits is never turned away for it.
 */
export function memoryProblem(plan: MemoryPlan, totalBytes: number): string | null {
  const each = processBytes(plan);
  const total = each * plan.processes;
  if (total <= totalBytes) return null;
  const parts = [`--size ${plan.size}`, `batch size ${plan.batchSize}`, `base filters ${plan.baseFilters}`];
  if (plan.slices !== undefined) parts.push(`${plan.slices} slices`);
  if (plan.scan) parts.push(`${plan.scan.views} views × ${plan.scan.channels} channels`);
  const processes = plan.processes > 1 ? ` × ${plan.processes} worker processes` : '';
  return (
    `${parts.join(', ')} need about ${gb(each)} per training process${processes} = ${gb(total)} of memory, ` +
    `more than this machine's ${gb(totalBytes)}: lower --size, --workers or the config's batchSize${plan.scan ? ", or the profile's views and channels" : ''}`
  );
}

/** The most a wasm32 module can address, as tfjs-backend-wasm's emscripten build caps its heap (4 GiB − 64 KiB). */
export const WASM_HEAP_BYTES = 4294901760;

/**
 * Why a training step cannot run on the wasm backend, whatever the machine's memory: its tensors live
 * in the module's heap, and past 4 GiB the step fails with "memory access out of bounds" (seen: 512²,
 * batch 8, base 16, estimated 7.3 GB, crashed at 4.29 GB resident). Null when the estimate fits.
 */
export function wasmHeapProblem(plan: Pick<MemoryPlan, 'size' | 'batchSize' | 'baseFilters' | 'depthSlices'>): string | null {
  // Only the tensors: the slices and detector-space sinograms are JavaScript arrays outside the heap.
  const step = stepBytes(plan);
  if (step <= WASM_HEAP_BYTES) return null;
  return (
    `--size ${plan.size}, batch size ${plan.batchSize}, base filters ${plan.baseFilters}: a training step needs about ${gb(step)}, ` +
    `more than the ${gb(WASM_HEAP_BYTES)} the wasm backend can address: lower --size or the config's batchSize, or train on a GPU (--backend webgpu)`
  );
}

/**
 * Why `eval` cannot hold its data, or null: it keeps every slice it evaluates (and, in detector
 * space, the scan's arrays) while the models run over them. Inference keeps one batch's activations
 * without gradients, small beside a large folder's slices, so only the runtime, the slices and the
 * scan are counted; where the folder cannot be counted before loading nothing is refused.
 */
export function evalMemoryProblem(plan: Pick<MemoryPlan, 'size' | 'slices' | 'scan'>, totalBytes: number): string | null {
  const need = processBytes({ ...plan, batchSize: 0, baseFilters: 0, depthSlices: 1, hostActivations: false });
  if (need <= totalBytes) return null;
  const scan = plan.scan ? ` and ${plan.scan.views} views × ${plan.scan.channels} channels` : '';
  return (
    `${plan.slices ?? 0} slices of ${plan.size}×${plan.size}${scan} need about ${gb(need)} of memory to evaluate, ` +
    `more than this machine's ${gb(totalBytes)}: keep every n-th slice (--every n)`
  );
}

/** Why `slices` phantoms of size² cannot be generated in `totalBytes` (they are all held until written), or null. */
export function phantomMemoryProblem(slices: number, size: number, totalBytes: number): string | null {
  const need = RUNTIME_BYTES + slices * size * size * SLICE_BYTES_PER_PIXEL;
  if (need <= totalBytes) return null;
  return `--n ${slices} slices of ${size}×${size} need about ${gb(need)} of memory, more than this machine's ${gb(totalBytes)}: lower --n or --size`;
}

