/**
 * tfjs-backend-wasm's threaded SIMD build under Node. tfjs turns wasm threads off in Node (tfjs
 * issue 3830: `WASM_HAS_MULTITHREAD_SUPPORT` is false there), and forcing the flag alone fails with
 * ERR_WORKER_PATH: Emscripten starts its pthread workers from `blob:` URLs, which Node's
 * worker_threads refuses. This module is the one place that works around it, by monkey-patching
 * globals, each only while the backend initialises and restored afterwards, success or failure:
 *
 * - tfjs flag `WASM_HAS_MULTITHREAD_SUPPORT` → true (reset to its old value if the start fails);
 * - `URL.createObjectURL`: for the worker script's Blob it returns a file holding the same script
 *   (in a private temp folder, removed once the workers have loaded it), which Node can start a
 *   worker from; every other Blob goes to the real function;
 * - `os.cpus`: the build sizes its pool from `os.cpus().length / 2` (it assumes 2 hyper-threads per
 *   core) and caps every request at that, so it reads 2·N cores while it instantiates.
 *
 * Inside the worker file (our copy of tfjs's worker script, nothing else runs there)
 * `URL.createObjectURL` returns the threaded build's glue script from node_modules, so each worker
 * loads the glue from a path instead of the Blob the main thread posts. After the start the pool's
 * workers are unref'd, so they do not keep Node alive once the work is done.
 *
 * The wasm backend initialises once per process: the thread count cannot change afterwards, and a
 * process that already started the single-threaded build stays single-threaded.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

/** tfjs-backend-wasm pre-starts 8 pthread workers and caps its pool at 8 threads. */
export const MAX_WASM_THREADS = 8;

const THREADS_FLAG = 'WASM_HAS_MULTITHREAD_SUPPORT';
const WORKER_SCRIPT = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.worker.js';
const GLUE_SCRIPT = '@tensorflow/tfjs-backend-wasm/wasm-out/tfjs-backend-wasm-threaded-simd.js';

/** Why the threaded build could not start; the caller falls back to the single-threaded build. */
export class WasmThreadsUnavailable extends Error {}

export interface ThreadedWasmOptions {
  /** Threads of the XNNPACK pool (the calling thread included): 2..8; default all logical cores, at most 8. */
  threads?: number;
  /** Give up after this long (a worker that never loads would otherwise hang the start); default 60 s. */
  timeoutMs?: number;
}

let workerPatchEnabled = true;

/**
 * Test hook: `false` forces the threaded build without the worker-path fix, so its start fails the
 * way stock tfjs does in Node (ERR_WORKER_PATH) and the fallback can be exercised.
 */
export function setWorkerPatchEnabled(enabled: boolean): void {
  workerPatchEnabled = enabled;
}

/** The default thread count: all logical cores, 2..8. */
export function defaultWasmThreads(): number {
  return Math.max(2, Math.min(MAX_WASM_THREADS, os.availableParallelism()));
}

type WasmPackage = typeof import('@tensorflow/tfjs-backend-wasm');

/** The tfjs-backend-wasm module object (the Emscripten Module) behind the running backend. */
interface EmscriptenPThreads {
  PThread?: { runningWorkers?: { unref?: () => void }[]; unusedWorkers?: { unref?: () => void }[] };
}

/**
 * Starts tfjs-backend-wasm's threaded SIMD build with `threads` threads and makes it tfjs's current
 * backend; returns the thread count the pool really has. Call before anything initialised the wasm
 * backend in this process. Throws WasmThreadsUnavailable (with the reason) when it cannot start;
 * then no global stays patched and the tfjs flag is reset, so `tf.setBackend('wasm')` starts the
 * single-threaded build.
 */
export async function startThreadedWasm(wasm: WasmPackage, o: ThreadedWasmOptions = {}): Promise<number> {
  const threads = o.threads ?? defaultWasmThreads();
  if (!Number.isInteger(threads) || threads < 2 || threads > MAX_WASM_THREADS) {
    throw new WasmThreadsUnavailable(`threads must be an integer in 2..${MAX_WASM_THREADS}, got ${threads}`);
  }
  if (tf.findBackend('wasm')) {
    throw new WasmThreadsUnavailable('the wasm backend already started in this process (a single-threaded one stays single-threaded)');
  }
  if (typeof SharedArrayBuffer === 'undefined') throw new WasmThreadsUnavailable('SharedArrayBuffer is not available');

  // The module's ready promise waits until every pre-started worker has loaded this file, so it can go after the start.
  const worker = workerPatchEnabled ? writeWorkerFile() : undefined;
  const workerFile = worker?.path;
  const oldFlag = await tf.env().getAsync(THREADS_FLAG);
  const realCreateObjectURL = URL.createObjectURL;
  const realCpus = os.cpus;
  const restoreFactory = captureInitError();
  let timer: NodeJS.Timeout | undefined;
  let ok = false;
  try {
    tf.env().set(THREADS_FLAG, true);
    wasm.setThreadsCount(threads);
    if (workerFile) {
      URL.createObjectURL = (obj: Blob | MediaSource): string =>
        obj instanceof Blob && obj.type === 'application/javascript' ? workerFile : realCreateObjectURL.call(URL, obj);
      const cpus = realCpus();
      os.cpus = () => Array.from({ length: 2 * threads }, (_, i) => cpus[i % cpus.length]!);
    }
    const timeoutMs = o.timeoutMs ?? 60_000;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const started = await Promise.race([tf.setBackend('wasm'), timedOut]);
    if (started === 'timeout') throw new WasmThreadsUnavailable(`its workers did not start within ${timeoutMs / 1000} s`);
    if (!started) throw new WasmThreadsUnavailable(`tfjs could not initialise it: ${restoreFactory.reason() ?? 'no reason given'}`);
    await tf.ready();
    ok = true;
  } finally {
    clearTimeout(timer);
    URL.createObjectURL = realCreateObjectURL;
    os.cpus = realCpus;
    restoreFactory.restore();
    if (!ok) tf.env().set(THREADS_FLAG, oldFlag);
    worker?.remove();
  }
  unrefWorkers();
  return wasm.getThreadsCount();
}

/** Writes tfjs's pthread worker script, patched as above, to a file in a new private temp folder. */
function writeWorkerFile(): { path: string; remove(): void } {
  const require = createRequire(import.meta.url);
  let contents: string;
  let glue: string;
  try {
    contents = (require(WORKER_SCRIPT) as { wasmWorkerContents: string }).wasmWorkerContents;
    glue = require.resolve(GLUE_SCRIPT);
  } catch (e) {
    throw new WasmThreadsUnavailable(`this tfjs-backend-wasm has no threaded worker script: ${(e as Error).message}`);
  }
  // As tfjs does before making its Blob: the script holds "\n" escapes that became real newlines.
  const script =
    contents.replace(/\n/g, '\\n') +
    `\n;URL.createObjectURL = function () { return ${JSON.stringify(glue)}; };` +
    `\nURL.revokeObjectURL = function () {};\n`;
  let dir: string;
  try {
    dir = mkdtempSync(join(os.tmpdir(), 'ctquant-wasm-'));
    writeFileSync(join(dir, 'worker.cjs'), script);
  } catch (e) {
    throw new WasmThreadsUnavailable(`could not write the worker script to ${os.tmpdir()}: ${(e as Error).message}`);
  }
  return { path: join(dir, 'worker.cjs'), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * tfjs's engine swallows a backend's init error (it logs it, and not at all in production mode).
 * Wraps the registered wasm factory for the start so the reason can be reported.
 */
function captureInitError(): { reason(): string | undefined; restore(): void } {
  const registry = (tf.engine() as unknown as { registryFactory?: Record<string, { factory: () => unknown }> }).registryFactory;
  const entry = registry?.wasm;
  let reason: string | undefined;
  if (!entry) return { reason: () => undefined, restore: () => {} };
  const factory = entry.factory;
  entry.factory = () => {
    const out = factory();
    if (out && typeof (out as Promise<unknown>).then === 'function') {
      (out as Promise<unknown>).catch((e: unknown) => {
        reason = (e as Error)?.message ?? String(e);
      });
    }
    return out;
  };
  return {
    reason: () => reason?.split('\n')[0],
    restore: () => {
      entry.factory = factory;
    },
  };
}

/** Emscripten refs a worker while it runs a pthread; the XNNPACK pool's run for the process's life. */
function unrefWorkers(): void {
  const module = (tf.backend() as unknown as { wasm?: EmscriptenPThreads }).wasm;
  const pthreads = module?.PThread;
  for (const w of [...(pthreads?.runningWorkers ?? []), ...(pthreads?.unusedWorkers ?? [])]) w.unref?.();
}
