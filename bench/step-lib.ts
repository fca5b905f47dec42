/**
 * One training step of ctquant's model, timed: trainable quantization layer (stochastic mask) +
 * U-Net (base 16, depth 4, no normalisation) + Dice+BCE (per image) + Adam, fp32, on one synthetic
 * batch; the same model and settings as bench/torch_step.py, the PyTorch reference.
 * A step ends with reading the loss back, so queued GPU work is inside the time. A second figure,
 * `msPipelined`, times steps as the trainer runs them on a GPU: queued back to back with the losses
 * read every `defaultLossReadEvery('webgpu')` steps, so the CPU queues a step while the GPU runs one.
 */
import { spawnSync } from 'node:child_process';
import * as tf from '@tensorflow/tfjs';
import { TrainableQuantization } from '../src/quant/layer.js';
import { JointModel } from '../src/train/joint.js';
import { Adam } from '../src/train/adam.js';
import { defaultLossReadEvery } from '../src/train/trainer.js';
import { diceBceLoss } from '../src/model/losses.js';
import { Rng } from '../src/util/rng.js';
import type { Normalization as UNetNormalization } from '../src/model/unet.js';

export interface StepBenchOptions {
  size: number;
  batch: number;
  steps: number;
  warmup: number;
  depth?: number;
  baseFilters?: number;
  /** U-Net normalisation (default 'none', the PyTorch reference's model; 'group' is the training recipe's). */
  normalization?: UNetNormalization;
  /** Also run one step under tf.profile and keep the per-kernel totals. */
  profile?: boolean;
  /** Also time `steps` steps queued back to back (msPipelined; default true). */
  pipelined?: boolean;
  /** Also time the pipelined steps with these read-back intervals (pipelinedByReadEvery). */
  readEveryAlternatives?: number[];
  seed?: number;
}

export interface KernelTotal {
  name: string;
  ms: number;
  calls: number;
}

export interface StepBenchResult {
  backend: string;
  /** Which kernel set ran (`stock`, or `ctquant` for src/backend/webgpu kernels). */
  kernels: string;
  normalization: UNetNormalization;
  size: number;
  batch: number;
  steps: number;
  msMedian: number;
  msP10: number;
  msP90: number;
  /** Mean ms per step over `steps` steps queued back to back, losses read every few steps (the trainer's GPU rhythm); NaN when not timed. */
  msPipelined: number;
  /** Pipelined ms per step with other read-back intervals than the trainer's (readEveryAlternatives). */
  pipelinedByReadEvery?: Record<number, number>;
  /** Median time until the step's ops are enqueued (before the loss is read back): the CPU side of a step. */
  msEnqueueMedian: number;
  /** tfjs kernels one step runs (tf.profile records; the fused webgpu Adam counts as one). */
  kernelCalls: number;
  /** Largest live tensor bytes during one profiled step (tf.profile peakBytes), MiB. */
  peakTensorMiB: number;
  /** Process resident set size after the steps, MiB (includes the runtime). */
  rssMiB: number;
  /**
   * Peak resident set size of this process so far (ru_maxrss, as torch_step.py reports on CPU), MiB:
   * the runtime, the wasm heap and every step so far, so one process per shape gives that shape's peak.
   */
  peakRssMiB: number;
  finalLoss: number;
  /** Per-kernel totals of one step, longest first (only with `profile`). */
  profile?: KernelTotal[];
}

const NATIVE_BITS = 8;

/** Native counts [B,S,S,1] (uniform in 0..255) and 0/1 masks [B,S,S,1] of three random disks, as torch_step.py. */
export function syntheticBatch(size: number, batch: number, seed: number): { counts: tf.Tensor4D; masks: tf.Tensor4D } {
  const rng = new Rng(seed);
  const n = size * size;
  const counts = new Float32Array(batch * n);
  const masks = new Float32Array(batch * n);
  for (let i = 0; i < counts.length; i++) counts[i] = rng.int(2 ** NATIVE_BITS);
  for (let b = 0; b < batch; b++) {
    for (let d = 0; d < 3; d++) {
      const cy = rng.uniform(0, size);
      const cx = rng.uniform(0, size);
      const r = (0.04 + 0.04 * rng.uniform(0, 1)) * size;
      for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(size, Math.ceil(cy + r) + 1); y++) {
        for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(size, Math.ceil(cx + r) + 1); x++) {
          if ((y - cy) ** 2 + (x - cx) ** 2 <= r * r) masks[b * n + y * size + x] = 1;
        }
      }
    }
  }
  return {
    counts: tf.tensor4d(counts, [batch, size, size, 1]),
    masks: tf.tensor4d(masks, [batch, size, size, 1]),
  };
}

/** This process's peak resident set size (getrusage ru_maxrss, which Node gives in KiB), MiB. */
export function processPeakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

function quantile(sorted: number[], q: number): number {
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** One training step of the bench model on one synthetic batch, ready to run repeatedly. */
export interface PreparedStep {
  /** Runs one step (noise, forward, gradients, Adam); returns the loss, still on the device. */
  step: () => tf.Scalar;
  dispose: () => void;
}

/** Builds the bench model (layer + U-Net + Dice+BCE + Adam) and its batch on tfjs's current backend. */
export function prepareTrainingStep(o: StepBenchOptions): PreparedStep {
  const seed = o.seed ?? 1;
  const layer = new TrainableQuantization({
    rows: o.size, cols: o.size, nativeBits: NATIVE_BITS, keptBits: 1, rule: 'floor', budget: 0.5, seed,
  });
  const model = new JointModel({
    height: o.size, width: o.size, nativeBits: NATIVE_BITS, rule: 'floor',
    stage: { kind: 'learned', layer },
    unet: { depth: o.depth ?? 4, baseFilters: o.baseFilters ?? 16, normalization: o.normalization ?? 'none' },
    seed,
  });
  const trainable = model.trainableVariables();
  const adam = new Adam(trainable);
  const { counts, masks } = syntheticBatch(o.size, o.batch, seed);

  let stepIndex = 0;
  const step = (): tf.Scalar => {
    layer.resetNoise(seed + stepIndex++);
    const { value, grads } = tf.variableGrads(
      () => diceBceLoss(masks, model.forward(counts, { training: true, mode: 'stochastic' }), { perImage: true }),
      trainable,
    );
    adam.apply(trainable.map((v) => grads[v.name]!), 1e-3);
    tf.dispose(Object.values(grads));
    return value;
  };
  const dispose = () => {
    adam.dispose();
    tf.dispose([counts, masks]);
    model.dispose();
  };
  return { step, dispose };
}

/** Times `steps` training steps after `warmup` untimed ones, on tfjs's current backend. */
export async function benchTrainingStep(o: StepBenchOptions, kernels: string): Promise<StepBenchResult> {
  const { step, dispose } = prepareTrainingStep(o);
  const timedStep = async (): Promise<{ ms: number; enqueueMs: number; loss: number }> => {
    const t0 = performance.now();
    const value = step();
    const enqueueMs = performance.now() - t0;
    const loss = (await value.data())[0]!;
    const ms = performance.now() - t0;
    value.dispose();
    return { ms, enqueueMs, loss };
  };

  try {
    for (let i = 0; i < o.warmup; i++) await timedStep();
    const times: number[] = [];
    const enqueueTimes: number[] = [];
    let finalLoss = NaN;
    for (let i = 0; i < o.steps; i++) {
      const r = await timedStep();
      times.push(r.ms);
      enqueueTimes.push(r.enqueueMs);
      finalLoss = r.loss;
    }
    enqueueTimes.sort((a, b) => a - b);
    const msPipelined = o.pipelined === false ? NaN : await pipelinedSteps(step, o.steps, defaultLossReadEvery('webgpu'));
    let pipelinedByReadEvery: Record<number, number> | undefined;
    for (const every of o.pipelined === false ? [] : o.readEveryAlternatives ?? []) {
      (pipelinedByReadEvery ??= {})[every] = await pipelinedSteps(step, o.steps, every);
    }
    const rssMiB = process.memoryUsage().rss / 2 ** 20;
    let peakBytes = 0;
    let kernelCalls = 0;
    let profile: KernelTotal[] | undefined;
    const info = await tf.profile(async () => {
      const value = step();
      await value.data();
      value.dispose();
    });
    peakBytes = info.peakBytes;
    kernelCalls = info.kernels.length;
    if (o.profile) profile = await kernelTotals(info.kernels);
    times.sort((a, b) => a - b);
    return {
      backend: tf.getBackend(),
      kernels,
      normalization: o.normalization ?? 'none',
      size: o.size,
      batch: o.batch,
      steps: o.steps,
      msMedian: quantile(times, 0.5),
      msP10: quantile(times, 0.1),
      msP90: quantile(times, 0.9),
      msPipelined,
      pipelinedByReadEvery,
      msEnqueueMedian: quantile(enqueueTimes, 0.5),
      kernelCalls,
      peakTensorMiB: peakBytes / 2 ** 20,
      rssMiB,
      peakRssMiB: processPeakRssMiB(),
      finalLoss,
      profile,
    };
  } finally {
    dispose();
  }
}

/** Mean ms per step of `steps` steps with one read-back of the queued losses every `readEvery` steps. */
export async function pipelinedSteps(step: () => tf.Scalar, steps: number, readEvery: number): Promise<number> {
  const t0 = performance.now();
  const pending: tf.Scalar[] = [];
  for (let i = 0; i < steps; i++) {
    pending.push(step());
    if ((i + 1) % readEvery === 0 || i === steps - 1) {
      const losses = tf.stack(pending);
      await losses.data();
      tf.dispose([losses, ...pending.splice(0)]);
    }
  }
  return (performance.now() - t0) / steps;
}

/** Sums tf.profile's kernel records by name; longest total first. */
async function kernelTotals(kernels: Awaited<ReturnType<typeof tf.profile>>['kernels']): Promise<KernelTotal[]> {
  const totals = new Map<string, KernelTotal>();
  for (const k of kernels) {
    const raw = (k as unknown as { kernelTimeMs: number | { error: string } | Promise<number | { error: string }> }).kernelTimeMs;
    const t = await raw;
    const ms = typeof t === 'number' ? t : NaN;
    const entry = totals.get(k.name) ?? { name: k.name, ms: 0, calls: 0 };
    entry.ms += ms;
    entry.calls += 1;
    totals.set(k.name, entry);
  }
  return [...totals.values()].sort((a, b) => (b.ms || 0) - (a.ms || 0));
}

export interface TorchResult {
  ms_median: number;
  /** Mean ms per step of steps queued back to back, one synchronisation at the end. */
  ms_pipelined?: number;
  device?: string;
  [key: string]: unknown;
}

/**
 * Runs bench/torch_step.py with the same model and shape; null (and the reason) when python3 or
 * torch is missing or the script fails, so a bench still reports its own numbers.
 * The interpreter: `python`, else env CTQUANT_PYTHON, else `python3`.
 */
export function runTorchReference(
  o: { size: number; batch: number; steps: number; warmup: number; device: 'cpu' | 'cuda'; threads?: number; python?: string },
): { result: TorchResult | null; error?: string } {
  const args = ['bench/torch_step.py', '--size', `${o.size}`, '--batch', `${o.batch}`, '--steps', `${o.steps}`,
    '--warmup', `${o.warmup}`, '--device', o.device];
  if (o.threads) args.push('--threads', `${o.threads}`);
  const r = spawnSync(o.python ?? process.env.CTQUANT_PYTHON ?? 'python3', args, {
    encoding: 'utf8',
    env: { ...process.env, OMP_WAIT_POLICY: 'PASSIVE', PYTHONUNBUFFERED: '1' },
    timeout: 600_000,
  });
  if (r.error) return { result: null, error: r.error.message };
  if (r.status !== 0) return { result: null, error: `exit ${r.status}: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}` };
  const line = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) return { result: null, error: `no JSON line in output: ${r.stdout.slice(-200)}` };
  return { result: JSON.parse(line) as TorchResult };
}

/**
 * A plain-text table of results; `ratio` = PyTorch ms / this ms (throughput relative to PyTorch).
 * Memory: `peak MiB` is tfjs's largest live tensor bytes in one step; `peak RSS MiB` and `torch peak
 * MiB` are each process's peak resident set size (ru_maxrss), measured the same way on both sides
 * (on CUDA torch reports its peak tensor allocation instead, marked so).
 */
export function formatTable(
  rows: (StepBenchResult & { torchMs?: number; torchPipelinedMs?: number; torchPeakMiB?: number; torchPeakKind?: string })[],
): string {
  const header = [
    'backend', 'kernels', 'norm', 'size', 'batch', 'ms/step (p10–p90)', 'enqueue ms', 'kernels', 'peak MiB', 'peak RSS MiB',
    'torch ms', 'vs torch', 'torch peak MiB', 'pipelined ms', 'torch pipelined', 'vs torch (pipelined)',
  ];
  const lines = rows.map((r) => [
    r.backend, r.kernels, r.normalization, `${r.size}²`, `${r.batch}`,
    `${r.msMedian.toFixed(1)} (${r.msP10.toFixed(1)}–${r.msP90.toFixed(1)})`,
    r.msEnqueueMedian.toFixed(1),
    `${r.kernelCalls}`,
    r.peakTensorMiB.toFixed(0),
    r.peakRssMiB.toFixed(0),
    r.torchMs !== undefined ? r.torchMs.toFixed(1) : '–',
    r.torchMs !== undefined ? `${(r.torchMs / r.msMedian).toFixed(3)}×` : '–',
    r.torchPeakMiB !== undefined ? `${r.torchPeakMiB.toFixed(0)}${r.torchPeakKind === 'cuda_max_allocated' ? ' (cuda tensors)' : ''}` : '–',
    Number.isNaN(r.msPipelined) ? '–' : r.msPipelined.toFixed(1),
    r.torchPipelinedMs !== undefined ? r.torchPipelinedMs.toFixed(1) : '–',
    r.torchPipelinedMs !== undefined && !Number.isNaN(r.msPipelined) ? `${(r.torchPipelinedMs / r.msPipelined).toFixed(3)}×` : '–',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n');
}

/** The top `n` kernels of a profile as text lines. */
export function formatProfile(profile: KernelTotal[], n = 15): string {
  const total = profile.reduce((a, k) => a + (k.ms || 0), 0);
  return profile
    .slice(0, n)
    .map((k) => `${k.name.padEnd(28)} ${k.ms.toFixed(2).padStart(10)} ms  ${String(k.calls).padStart(5)} calls  ${((100 * k.ms) / total).toFixed(1).padStart(5)}%`)
    .concat([`${'(all kernels)'.padEnd(28)} ${total.toFixed(2).padStart(10)} ms`])
    .join('\n');
}
