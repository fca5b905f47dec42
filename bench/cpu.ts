/**
 * CPU throughput on all cores, against PyTorch, in interleaved rounds.
 *
 * Two ways to use P cores, each timed for ctquant (wasm) and PyTorch (bench/torch_step.py):
 * - one training on P threads (`threads`): how fast a single `ctquant train` runs;
 * - P trainings side by side, one thread each (`processes`): how a study or sweep runs with
 *   `--workers P`. Throughput = P / (mean of the P processes' ms per step).
 * A shared machine drifts by tens of percent over minutes, so each round times every configuration
 * once, in turn, and a ratio is taken within a round; the report gives the median over rounds.
 *
 * Memory: each process reports its own peak resident set size (ru_maxrss: Node's
 * process.resourceUsage().maxRSS in bench/step.ts, Python's resource.getrusage in torch_step.py), so
 * both columns are measured the same way, per process.
 * ctquant's relaxed-SIMD FMA (src/backend/wasm/module-writer.ts) as a variant: `--fma relaxed,exact`
 * times both against the same PyTorch round (Node 20: the relaxed child gets --experimental-wasm-relaxed-simd).
 *
 *   node --import tsx bench/cpu.ts --sizes 256 --batch 4 --rounds 3 --cores 2 --python /usr/bin/python3
 * Each process runs --warmup (default 10) untimed steps, then --steps (default 10) timed ones.
 *   node --import tsx bench/cpu.ts --shapes 64x4,128x4,256x4,64x8 --fma relaxed,exact --rounds 3
 *
 * Prints one line per measurement, a table of medians, and a JSON line (also to --json FILE).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/util/atomic.js';
import { runtimeHasRelaxedSimd } from '../src/backend/wasm/module-writer.js';
import { SIMD_RELAXED_FMA_FLAG } from '../src/backend/flags.js';
import type { MatrixReport } from './matrix.js';
import {
  formatSummary, parseFmaVariants, parseShapes, parseTorchOutput, summarise, throughputMs,
  type FmaVariant, type Framework, type Layout, type Measurement, type Shape,
} from './cpu-summary.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256' },
    batch: { type: 'string', default: '4' },
    shapes: { type: 'string' },
    fma: { type: 'string', default: 'default' },
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '10' },
    // A ctquant process needs ~8 steps to reach its steady speed when the cores are all busy (V8
    // optimises its JavaScript in background threads; BENCHMARKS.md): warm up past that.
    warmup: { type: 'string', default: '10' },
    cores: { type: 'string', default: '2' },
    python: { type: 'string', default: process.env.CTQUANT_PYTHON ?? 'python3' },
    json: { type: 'string' },
    norm: { type: 'string', default: 'none' },
  },
});
/** U-Net normalisation on both sides: none (the bench model) or group (the training recipe's; ctquant's wasm group-norm kernels). */
const norm = values.norm;
if (!['none', 'group'].includes(norm)) throw new Error('--norm: none or group');
const shapes: Shape[] = values.shapes
  ? parseShapes(values.shapes)
  : values.sizes.split(',').map((s) => ({ size: Number(s), batch: Number(values.batch) }));
const fmas = parseFmaVariants(values.fma);
const rounds = Number(values.rounds);
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const cores = Number(values.cores);

/** What one process reports: ms per step, peak RSS, and (ctquant) whether relaxed FMA ran. */
interface ProcessResult { ms: number; peakRssMiB: number; relaxedFmaUsed?: boolean }

/** Runs a command, resolves with its stdout; rejects with its stderr tail on failure. */
function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`))));
  });
}

const RELAXED_V8_FLAG = '--experimental-wasm-relaxed-simd';

/** One ctquant wasm training process (bench/step.ts child) with the FMA variant asked for. */
async function ctquantStep(shape: Shape, threads: number, fma: FmaVariant): Promise<ProcessResult> {
  const dir = mkdtempSync(join(tmpdir(), 'ctquant-cpu-'));
  try {
    const json = join(dir, 'r.json');
    // Node 20 validates relaxed SIMD only behind the V8 flag; later Node ships it on.
    const v8 = fma === 'relaxed' && !runtimeHasRelaxedSimd() && !process.execArgv.includes(RELAXED_V8_FLAG) ? [RELAXED_V8_FLAG] : [];
    const flags = fma === 'default' ? [] : ['--flags', `${SIMD_RELAXED_FMA_FLAG}=${fma === 'relaxed'}`];
    await run(process.execPath, [
      ...v8, ...process.execArgv, join(import.meta.dirname, 'step.ts'), '--backend', 'wasm', '--threads', `${threads}`,
      '--sizes', `${shape.size}`, '--batches', `${shape.batch}`, '--steps', `${steps}`, '--warmup', `${warmup}`,
      '--torch-device', 'none', '--no-pipelined', '--norm', norm, ...flags, '--json', json,
    ]);
    const report = JSON.parse(readFileSync(json, 'utf8')) as MatrixReport;
    const relaxedFmaUsed = /relaxed FMA/.test(report.wasmDetail ?? '');
    if (fma !== 'default' && relaxedFmaUsed !== (fma === 'relaxed')) {
      throw new Error(`--fma ${fma}: the child ran ${relaxedFmaUsed ? 'relaxed' : 'exact'} (${report.wasmDetail})`);
    }
    const r = report.results[0]!;
    return { ms: r.msMedian, peakRssMiB: r.peakRssMiB, relaxedFmaUsed };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** One PyTorch training process. */
async function torchStep(shape: Shape, threads: number): Promise<ProcessResult> {
  const out = await run(values.python, [
    join(import.meta.dirname, 'torch_step.py'), '--device', 'cpu', '--threads', `${threads}`,
    '--size', `${shape.size}`, '--batch', `${shape.batch}`, '--steps', `${steps}`, '--warmup', `${warmup}`, '--norm', norm,
  ], { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' });
  const r = parseTorchOutput(out);
  if (r.peakKind !== 'process_max_rss') throw new Error(`torch_step.py on cpu reported peak memory as ${r.peakKind}`);
  return { ms: r.msMedian, peakRssMiB: r.peakMiB };
}

async function measure(round: number, shape: Shape, framework: Framework, layout: Layout, fma?: FmaVariant): Promise<Measurement> {
  const one = (threads: number) => (framework === 'ctquant' ? ctquantStep(shape, threads, fma ?? 'default') : torchStep(shape, threads));
  const results = layout === 'threads'
    ? [await one(cores)]
    : await Promise.all(Array.from({ length: cores }, () => one(1)));
  const perProcess = results.map((r) => r.ms);
  const msPerStep = throughputMs(layout, perProcess);
  const relaxedFmaUsed = framework === 'ctquant' ? results.every((r) => r.relaxedFmaUsed) : undefined;
  const m: Measurement = {
    round, size: shape.size, batch: shape.batch, framework, layout, msPerStep, perProcess, peakRssMiB: results.map((r) => r.peakRssMiB),
    ...(framework === 'ctquant' ? { fma, relaxedFmaUsed } : {}),
  };
  const label = framework === 'ctquant' ? `ctquant (${relaxedFmaUsed ? 'relaxed FMA' : 'exact mul+add'})` : 'pytorch';
  console.log(`round ${round} ${shape.size}² b${shape.batch} ${label} ${layout}: ${msPerStep.toFixed(1)} ms per step of throughput ` +
    `(processes: ${perProcess.map((t) => t.toFixed(0)).join(', ')} ms; peak RSS ${m.peakRssMiB.map((x) => x.toFixed(0)).join(', ')} MiB)`);
  return m;
}

const measurements: Measurement[] = [];
for (let round = 1; round <= rounds; round++) {
  for (const shape of shapes) {
    for (const layout of ['threads', 'processes'] as const) {
      measurements.push(await measure(round, shape, 'pytorch', layout));
      for (const fma of fmas) measurements.push(await measure(round, shape, 'ctquant', layout, fma));
    }
  }
}

const summary = summarise(measurements, shapes, fmas, cores);
console.log(`\n${formatSummary(summary)}`);
const report = { shapes, fmas, norm, steps, warmup, rounds, cores, summary, measurements };
if (values.json) writeFileAtomic(values.json, JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report));
