/**
 * Choosing and starting a tfjs backend: one place that knows which backends exist, how each is
 * started in Node, and why one could not start. `auto` tries tensorflow (tfjs-node, if the user
 * installed it), then WebGPU on a hardware adapter, then wasm, then the pure-JS cpu backend.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { UserError } from '../errors.js';
import { IM2COL_FLAG } from './flags.js';
import { registerWasmTrainingKernels } from './wasm/kernels.js';
import { relaxedFmaInUse, setSimdConvThreads } from './wasm/simd-conv.js';
import { registerWasmMemoryKernels } from './wasm/memory-kernels.js';
import { MAX_WASM_THREADS, startThreadedWasm, WasmThreadsUnavailable } from './wasm/threads.js';
// Static (so bundles carry it); it imports only types from tfjs-backend-webgpu, so loading it has no side effects.
import { registerWebgpuTrainingKernels } from './webgpu/kernels.js';
import { exposeAsNavigatorGpu, loadWebgpuBackend, openDawnAdapter } from './webgpu/node-gpu.js';
import { dawnFindsAdapter, driverMessagesWanted } from './webgpu/adapter-probe.js';

import { BACKEND_NAMES, type BackendName } from './names.js';
export { BACKEND_NAMES, type BackendName };

/** What a started backend is: its tfjs name and one human line (device, threads, package). */
export interface StartedBackend {
  name: string;
  detail: string;
}

/** The fields of a WebGPU adapter's `info` that tell hardware from a software rasteriser. */
export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

const SOFTWARE_ADAPTER_MARKERS = ['swiftshader', 'llvmpipe', 'lavapipe', 'softpipe', 'software rasterizer'];

/**
 * True when a WebGPU adapter is a CPU emulation (SwiftShader, Mesa llvmpipe / lavapipe) or a
 * fallback adapter. `auto` never picks such an adapter: it is slower than wasm by orders of magnitude.
 */
export function isSoftwareAdapter(info: AdapterInfoLike | null | undefined): boolean {
  if (!info) return false;
  if (info.isFallbackAdapter === true) return true;
  const text = [info.vendor, info.architecture, info.device, info.description]
    .filter((s): s is string => typeof s === 'string')
    .join(' ')
    .toLowerCase();
  return SOFTWARE_ADAPTER_MARKERS.some((m) => text.includes(m));
}

/** One line naming an adapter, e.g. `nvidia hopper (NVIDIA H100 80GB HBM3)`. */
export function describeAdapter(info: AdapterInfoLike | null | undefined): string {
  if (!info) return 'unknown adapter';
  const head = [info.vendor, info.architecture].filter((s) => s).join(' ') || 'unknown adapter';
  const tail = info.device || info.description;
  return tail ? `${head} (${tail})` : head;
}

/** A backend that could not start, with the reason to log or to show the user. */
class BackendUnavailable extends Error {}

/** How to start a backend, beyond its name. */
export interface BackendOptions {
  /**
   * Threads for the wasm backend (1 = the single-threaded SIMD build, the default). More than 1
   * starts the threaded SIMD build through src/backend/wasm/threads.ts; if that fails the
   * single-threaded build starts and the reason is logged. Other backends ignore it.
   */
  wasmThreads?: number;
}

/**
 * Starts a backend and makes it tfjs's current one.
 * `auto` tries tensorflow → webgpu (hardware adapter only) → wasm → cpu and logs why each one
 * that was skipped could not start; an explicitly requested backend that cannot start throws a
 * UserError saying why and what to do.
 */
export async function startBackend(
  requested: BackendName,
  log: (line: string) => void = () => {},
  options: BackendOptions = {},
): Promise<StartedBackend> {
  if (!BACKEND_NAMES.includes(requested)) {
    throw new UserError(`unknown backend "${String(requested)}"; choose one of ${BACKEND_NAMES.join(', ')}`);
  }
  const wasmThreads = options.wasmThreads ?? 1;
  if (!(Number.isInteger(wasmThreads) && wasmThreads >= 1)) {
    throw new UserError(`wasm threads: expected a positive integer, got ${wasmThreads}`);
  }
  if (requested !== 'auto') {
    try {
      return await STARTERS[requested]({ allowSoftwareAdapter: true, wasmThreads, log });
    } catch (e) {
      if (e instanceof BackendUnavailable) throw new UserError(`backend ${requested}: ${e.message}`);
      throw e;
    }
  }
  for (const name of ['tensorflow', 'webgpu', 'wasm', 'cpu'] as const) {
    try {
      const started = await STARTERS[name]({ allowSoftwareAdapter: false, wasmThreads, log });
      log(`backend: ${started.name} (${started.detail})`);
      return started;
    } catch (e) {
      if (!(e instanceof BackendUnavailable)) throw e;
      log(`${name}: ${e.message}`);
    }
  }
  throw new UserError('no tfjs backend could start (not even cpu)');
}

interface StartOptions {
  /** Whether a software WebGPU adapter (SwiftShader, llvmpipe) may be used. */
  allowSoftwareAdapter: boolean;
  /** Threads the wasm backend should use (≥ 1). */
  wasmThreads: number;
  log: (line: string) => void;
}

const STARTERS: Record<Exclude<BackendName, 'auto'>, (o: StartOptions) => Promise<StartedBackend>> = {
  tensorflow: startTensorflow,
  webgpu: startWebgpu,
  wasm: startWasm,
  cpu: startCpu,
};

async function setBackendOrThrow(name: string): Promise<void> {
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new BackendUnavailable(`tfjs could not initialise it: ${(e as Error).message ?? String(e)}`);
  }
  if (!ok) throw new BackendUnavailable('tfjs could not initialise it');
  await tf.ready();
}

function isModuleNotFound(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

async function startTensorflow(): Promise<StartedBackend> {
  // Variable specifiers: these packages are optional, never in package.json, and tsc must not need them.
  const candidates = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];
  const failures: string[] = [];
  for (const specifier of candidates) {
    try {
      await import(specifier);
    } catch (e) {
      if (isModuleNotFound(e)) {
        failures.push(`${specifier} is not installed`);
        continue;
      }
      // Installed but broken (missing libtensorflow, CUDA mismatch): say so instead of hiding it.
      failures.push(`${specifier} failed to load: ${(e as Error).message?.split('\n')[0]}`);
      continue;
    }
    if (!tf.findBackendFactory('tensorflow')) {
      failures.push(`${specifier} loaded but registered no "tensorflow" backend (a second copy of tfjs-core?)`);
      continue;
    }
    await setBackendOrThrow('tensorflow');
    return { name: 'tensorflow', detail: specifier };
  }
  throw new BackendUnavailable(
    `${failures.join('; ')} (npm install @tensorflow/tfjs-node-gpu or @tensorflow/tfjs-node, or pick another backend)`,
  );
}

async function startWebgpu(o: StartOptions): Promise<StartedBackend> {
  // Without a GPU, Dawn prints driver warnings when it loads: ask a child process first (unless --verbose).
  if (!driverMessagesWanted() && (await dawnFindsAdapter()) === false) {
    throw new BackendUnavailable('no adapter, is a Vulkan driver installed? (--verbose shows the driver messages)');
  }
  let opened: Awaited<ReturnType<typeof openDawnAdapter>>;
  try {
    opened = await openDawnAdapter();
  } catch (e) {
    throw new BackendUnavailable(`the webgpu (Dawn) package could not load: ${(e as Error).message?.split('\n')[0]}`);
  }
  if (!opened) throw new BackendUnavailable('no adapter, is a Vulkan driver installed?');
  const { gpu, adapter } = opened;
  // Dawn's GPUAdapterInfo fields are prototype getters: read them one by one (spreading copies nothing).
  const raw = (adapter.info ?? {}) as AdapterInfoLike;
  const info: AdapterInfoLike = {
    vendor: raw.vendor,
    architecture: raw.architecture,
    device: raw.device,
    description: raw.description,
    isFallbackAdapter: adapter.isFallbackAdapter === true || raw.isFallbackAdapter === true,
  };
  if (isSoftwareAdapter(info) && !o.allowSoftwareAdapter) {
    throw new BackendUnavailable(`only a software adapter (${describeAdapter(info)}), slower than wasm; not used`);
  }
  exposeAsNavigatorGpu(gpu);
  await loadWebgpuBackend(tf);
  await setBackendOrThrow('webgpu');
  registerWebgpuTrainingKernels();
  return { name: 'webgpu', detail: describeAdapter(info) };
}

async function startWasm(o: StartOptions): Promise<StartedBackend> {
  let wasm: typeof import('@tensorflow/tfjs-backend-wasm');
  try {
    wasm = await import('@tensorflow/tfjs-backend-wasm');
  } catch (e) {
    throw new BackendUnavailable(`@tensorflow/tfjs-backend-wasm could not load: ${(e as Error).message}`);
  }
  const alreadyStarted = tf.findBackend('wasm') !== null;
  if (!alreadyStarted) {
    // Point at the .wasm files in node_modules explicitly, so this works from src/ (tsx) and dist/ alike.
    const require = createRequire(import.meta.url);
    const dir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
    wasm.setWasmPaths(`${dir}/`);
  }
  let threaded = false;
  if (o.wasmThreads > 1 && !alreadyStarted) {
    const threads = Math.min(o.wasmThreads, MAX_WASM_THREADS);
    if (threads < o.wasmThreads) o.log(`wasm: at most ${MAX_WASM_THREADS} threads; using ${threads}`);
    try {
      await startThreadedWasm(wasm, { threads });
      threaded = true;
    } catch (e) {
      if (!(e instanceof WasmThreadsUnavailable)) throw e;
      o.log(`wasm: ${o.wasmThreads} threads unavailable (${e.message}); using the single-threaded build`);
    }
  }
  if (!threaded) await setBackendOrThrow('wasm');
  registerWasmTrainingKernels();
  registerWasmMemoryKernels();
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  // The wasm backend starts once per process: report the threads it really has.
  const threads = wasm.getThreadsCount();
  tf.env().set(IM2COL_FLAG, threads === 1);
  setSimdConvThreads(threads);
  if (alreadyStarted && threads !== o.wasmThreads) {
    o.log(`wasm: already running with ${threads} thread(s) in this process; ${o.wasmThreads} asked for`);
  }
  // Relaxed FMA (ctquant's SIMD convolutions, flags.ts SIMD_RELAXED_FMA_FLAG) changes the last bits
  // of results from one CPU to another, so the start-up line says when it is on.
  const fma = simd && relaxedFmaInUse() ? ', relaxed FMA' : '';
  return { name: 'wasm', detail: `XNNPACK${simd ? ', SIMD' : ''}${fma}, ${threads} thread${threads === 1 ? '' : 's'}` };
}

async function startCpu(): Promise<StartedBackend> {
  await setBackendOrThrow('cpu');
  return { name: 'cpu', detail: 'pure JavaScript reference (slow)' };
}
