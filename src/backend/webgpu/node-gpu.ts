/**
 * Minimal WebGPU-in-Node setup for tests and benchmarks: Dawn (npm `webgpu`) as navigator.gpu.
 * The CLI starts backends through src/backend/index.ts; this is the small path that tests and
 * bench entries use when they want the webgpu backend and nothing else.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { registerWebgpuOwnKernels } from './own-kernels.js';

/** An adapter's identification, as Dawn reports it. */
export interface GpuAdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

/**
 * Installs Dawn as `navigator.gpu` and returns the adapter it finds, or null when there is none
 * (no Vulkan driver: set VK_ICD_FILENAMES to SwiftShader, see scripts/setup-swiftshader.sh).
 * `swiftShaderDir`: a folder holding vk_swiftshader_icd.json (what setup-swiftshader.sh makes),
 * used when VK_ICD_FILENAMES / VK_DRIVER_FILES are unset.
 */
export async function installNodeWebgpu(opts: { swiftShaderDir?: string } = {}): Promise<GpuAdapterSummary | null> {
  if (opts.swiftShaderDir && !process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES) {
    const icd = join(opts.swiftShaderDir, 'vk_swiftshader_icd.json');
    // The Vulkan loader reads these when Dawn creates its instance, i.e. after this point.
    if (existsSync(icd)) {
      process.env.VK_ICD_FILENAMES = icd;
      process.env.VK_DRIVER_FILES = icd;
    }
  }
  const opened = await openDawnAdapter();
  if (!opened) return null;
  exposeAsNavigatorGpu(opened.gpu);
  const info = opened.adapter.info ?? {};
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
  };
}

/** What Dawn's GPU object and adapter offer that ctquant uses. */
export interface DawnGpu {
  requestAdapter(o?: object): Promise<DawnAdapter | null>;
}
export interface DawnAdapter {
  info?: Partial<GpuAdapterSummary>;
  isFallbackAdapter?: boolean;
}

/**
 * Loads Dawn (npm `webgpu`), installs its WebGPU globals and asks for a high-performance adapter;
 * null when there is none. Throws when the package itself cannot load.
 */
export async function openDawnAdapter(): Promise<{ gpu: DawnGpu; adapter: DawnAdapter } | null> {
  // Without it the Vulkan loader prints an error line on every start.
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const dawn = (await import('webgpu')) as unknown as { create(flags: string[]): DawnGpu; globals: Record<string, unknown> };
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  return adapter ? { gpu, adapter } : null;
}

/** Makes `gpu` the global navigator.gpu (tfjs-backend-webgpu registers itself only when it exists). */
export function exposeAsNavigatorGpu(gpu: DawnGpu): void {
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator === undefined) {
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  } else {
    g.navigator.gpu = gpu;
  }
}

/**
 * Loads tfjs-backend-webgpu (only now: it registers itself at import time only when navigator.gpu
 * exists), sets ctquant's flag for it, which exists only once it is loaded: fewer, larger queue
 * submits, measured 6–19 % off a step on an H100 (BENCHMARKS.md), and registers ctquant's own
 * kernels that every webgpu run has (own-kernels.ts).
 */
export async function loadWebgpuBackend(tf: typeof import('@tensorflow/tfjs')): Promise<void> {
  await import('@tensorflow/tfjs-backend-webgpu');
  tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', 60);
  registerWebgpuOwnKernels();
}

/** Selects tfjs's webgpu backend (after installNodeWebgpu), loaded by loadWebgpuBackend. */

export async function selectWebgpuBackend(tf: typeof import('@tensorflow/tfjs')): Promise<void> {
  await loadWebgpuBackend(tf);
  if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs could not initialise the webgpu backend');
  await tf.ready();
}
