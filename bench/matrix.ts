/**
 * Runs the training-step bench over backends × kernel sets × sizes × batches, with the PyTorch
 * reference of each shape timed in the same run, and prints a table (and profiles).
 */
import * as tf from '@tensorflow/tfjs';
import type { Normalization } from '../src/model/unet.js';
import { startBackend, type BackendName } from '../src/backend/index.js';
import { installNodeWebgpu, selectWebgpuBackend } from '../src/backend/webgpu/node-gpu.js';
import { registerWebgpuTrainingKernels, restoreStockWebgpuKernels } from '../src/backend/webgpu/kernels.js';
import {
  benchTrainingStep,
  formatProfile,
  formatTable,
  runTorchReference,
  type StepBenchResult,
  type TorchResult,
} from './step-lib.js';

export interface MatrixOptions {
  backends: string[];
  /** For webgpu: `ctquant` (src/backend/webgpu kernels), `ctquant-gn-ops` (the same, group norm from tf ops) and/or `stock`; other backends run once. */
  kernelSets: string[];
  sizes: number[];
  batches: number[];
  /** U-Net normalisations to time (default ['none']); PyTorch's reference is the 'none' model only. */
  normalizations?: Normalization[];
  steps: number;
  warmup: number;
  profile: boolean;
  /** Time the pipelined figure too (default true). */
  pipelined?: boolean;
  /** Also time the pipelined steps reading the loss back every n steps, for each n here. */
  readEveryAlternatives?: number[];
  torchDevice: 'cpu' | 'cuda' | 'none';
  torchThreads?: number;
  /** Python interpreter for bench/torch_step.py (default: env CTQUANT_PYTHON or python3). */
  python?: string;
  /** Fewer timed steps for the stock webgpu kernels (seconds per step at 512²); default `steps`. */
  stockSteps?: number;
  /** wasm thread counts to time (default [1]); 1 is the single-threaded build, more the threaded one. */
  wasmThreads?: number[];
  /**
   * Runs the wasm rows of one thread count in another process (the wasm backend starts once per
   * process); needed when `wasmThreads` has more than one entry.
   */
  runWasmIsolated?: (threads: number) => Promise<StepBenchResult[]>;
  log: (line: string) => void;
}

export interface MatrixReport {
  adapter?: string;
  /** The wasm backend's start-up line (threads, SIMD, relaxed FMA) when wasm ran in this process. */
  wasmDetail?: string;
  results: (StepBenchResult & {
    torchMs?: number; ratioToTorch?: number; torchPipelinedMs?: number;
    /** torch_step.py's peak_mem_mb and peak_mem_kind (process_max_rss on CPU). */
    torchPeakMiB?: number; torchPeakKind?: string;
  })[];
  torch: { size: number; batch: number; result: TorchResult | null; error?: string }[];
}

/** The webgpu adapter once set up: a second Dawn instance in one process hangs or crashes. */
let webgpuDetail: string | undefined;

async function useBackend(name: string, wasmThreads = 1): Promise<string | undefined> {
  if (name === 'webgpu' && webgpuDetail !== undefined) {
    await tf.setBackend('webgpu');
    return webgpuDetail;
  }
  if (name === 'webgpu') {
    // Not startBackend: its kernel registration is a runtime import that a bundle (bench/gpu.ts) cannot follow.
    const adapter = await installNodeWebgpu();
    if (!adapter) throw new Error('webgpu: no adapter (no Vulkan driver? see scripts/setup-swiftshader.sh)');
    await selectWebgpuBackend(tf);
    webgpuDetail = [adapter.vendor, adapter.architecture, adapter.device || adapter.description].filter((s) => s).join(' ');
    return webgpuDetail;
  }
  const started = await startBackend(name as BackendName, (line) => console.log(line), { wasmThreads });
  return started.detail;
}

export async function runStepMatrix(o: MatrixOptions): Promise<MatrixReport> {
  const report: MatrixReport = { results: [], torch: [] };
  const torchMs = new Map<string, number>();
  const torchPipelinedMs = new Map<string, number>();
  const torchPeak = new Map<string, { mib: number; kind: string }>();
  const key = (size: number, batch: number) => `${size}x${batch}`;

  if (o.torchDevice !== 'none') {
    for (const size of o.sizes) {
      for (const batch of o.batches) {
        o.log(`torch ${o.torchDevice} ${size}² batch ${batch} …`);
        const r = runTorchReference({ size, batch, steps: Math.max(o.steps, 10), warmup: o.warmup, device: o.torchDevice, threads: o.torchThreads, python: o.python });
        report.torch.push({ size, batch, ...r });
        if (r.result) {
          torchMs.set(key(size, batch), r.result.ms_median);
          if (typeof r.result.ms_pipelined === 'number') torchPipelinedMs.set(key(size, batch), r.result.ms_pipelined);
          if (typeof r.result.peak_mem_mb === 'number') {
            torchPeak.set(key(size, batch), { mib: r.result.peak_mem_mb, kind: String(r.result.peak_mem_kind ?? '') });
          }
        }
        else o.log(`  torch reference unavailable: ${r.error}`);
      }
    }
  }

  const wasmThreads = o.wasmThreads ?? [1];
  const withTorch = (r: StepBenchResult): MatrixReport['results'][number] => {
    if (r.normalization !== 'none') return { ...r };
    const t = torchMs.get(key(r.size, r.batch));
    const tp = torchPipelinedMs.get(key(r.size, r.batch));
    const peak = torchPeak.get(key(r.size, r.batch));
    return {
      ...r, torchMs: t, ratioToTorch: t !== undefined ? t / r.msMedian : undefined, torchPipelinedMs: tp,
      torchPeakMiB: peak?.mib, torchPeakKind: peak?.kind,
    };
  };
  for (const backend of o.backends) {
    if (backend === 'wasm' && wasmThreads.length > 1) {
      if (!o.runWasmIsolated) throw new Error('several wasm thread counts need runWasmIsolated (one process each)');
      for (const threads of wasmThreads) {
        o.log(`wasm, ${threads} thread(s), in its own process …`);
        report.results.push(...(await o.runWasmIsolated(threads)).map(withTorch));
      }
      continue;
    }
    const detail = await useBackend(backend, backend === 'wasm' ? wasmThreads[0] : undefined);
    if (backend === 'webgpu') report.adapter = detail;
    if (backend === 'wasm') report.wasmDetail = detail;
    o.log(`backend ${tf.getBackend()}: ${detail}`);
    // wasm rows are labelled with the threads the backend really got (a failed threaded start falls back to 1).
    const wasmLabel = /(\d+ threads?)/.exec(detail ?? '')?.[1] ?? 'default';
    const sets = backend === 'webgpu' ? o.kernelSets : [backend === 'wasm' ? wasmLabel : 'default'];
    for (const set of sets) {
      if (backend === 'webgpu') {
        restoreStockWebgpuKernels();
        if (set === 'ctquant') registerWebgpuTrainingKernels();
        else if (set === 'ctquant-gn-ops') registerWebgpuTrainingKernels({ groupNorm: false });
        else if (set !== 'stock') throw new Error(`unknown kernel set ${set} (ctquant, ctquant-gn-ops or stock)`);
      }
      for (const normalization of o.normalizations ?? ['none']) for (const size of o.sizes) {
        for (const batch of o.batches) {
          const steps = backend === 'webgpu' && set === 'stock' ? (o.stockSteps ?? o.steps) : o.steps;
          o.log(`${backend}/${set} ${normalization === 'none' ? '' : `${normalization} norm `}${size}² batch ${batch}: ${o.warmup} warm-up + ${steps} steps …`);
          const r = await benchTrainingStep({
            size, batch, steps, warmup: o.warmup, profile: o.profile, pipelined: o.pipelined, normalization,
            readEveryAlternatives: o.readEveryAlternatives,
          }, set);
          const row = withTorch(r);
          const t = row.torchMs;
          report.results.push(row);
          o.log(`  ${r.msMedian.toFixed(1)} ms/step${t !== undefined ? `, ${(t / r.msMedian).toFixed(3)}× PyTorch (${t.toFixed(1)} ms)` : ''}`);
          for (const [every, ms] of Object.entries(r.pipelinedByReadEvery ?? {})) o.log(`  pipelined, loss read every ${every}: ${ms.toFixed(1)} ms/step`);
          if (r.profile) o.log(`  profile of one step (${backend}/${set} ${normalization} ${size}² b${batch}):\n${formatProfile(r.profile)}`);
        }
      }
    }
  }
  o.log('\n' + formatTable(report.results));
  return report;
}
