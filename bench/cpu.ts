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
 *   node --import tsx bench/cpu.ts --sizes 256 --batch 4 --rounds 3 --steps 5 --cores 2 --python /usr/bin/python3
 *
 * Prints one line per measurement, a table of medians, and a JSON line (also to --json FILE).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/util/atomic.js';
import type { MatrixReport } from './matrix.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256' },
    batch: { type: 'string', default: '4' },
    rounds: { type: 'string', default: '3' },
    steps: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    cores: { type: 'string', default: '2' },
    python: { type: 'string', default: process.env.CTQUANT_PYTHON ?? 'python3' },
    json: { type: 'string' },
  },
});
const sizes = values.sizes.split(',').map(Number);
const batch = Number(values.batch);
const rounds = Number(values.rounds);
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const cores = Number(values.cores);

type Framework = 'ctquant' | 'pytorch';
type Layout = 'threads' | 'processes';
interface Measurement { round: number; size: number; framework: Framework; layout: Layout; msPerStep: number; perProcess: number[] }

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

/** ms per step of one ctquant wasm training process (bench/step.ts child). */
async function ctquantStep(size: number, threads: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'ctquant-cpu-'));
  try {
    const json = join(dir, 'r.json');
    await run(process.execPath, [
      ...process.execArgv, join(import.meta.dirname, 'step.ts'), '--backend', 'wasm', '--threads', `${threads}`,
      '--sizes', `${size}`, '--batches', `${batch}`, '--steps', `${steps}`, '--warmup', `${warmup}`,
      '--torch-device', 'none', '--no-pipelined', '--json', json,
    ]);
    return (JSON.parse(readFileSync(json, 'utf8')) as MatrixReport).results[0]!.msMedian;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ms per step of one PyTorch training process. */
async function torchStep(size: number, threads: number): Promise<number> {
  const out = await run(values.python, [
    join(import.meta.dirname, 'torch_step.py'), '--device', 'cpu', '--threads', `${threads}`,
    '--size', `${size}`, '--batch', `${batch}`, '--steps', `${steps}`, '--warmup', `${warmup}`,
  ], { ...process.env, OMP_WAIT_POLICY: 'PASSIVE' });
  const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error('torch_step.py printed no JSON line');
  return (JSON.parse(line) as { ms_median: number }).ms_median;
}

async function measure(round: number, size: number, framework: Framework, layout: Layout): Promise<Measurement> {
  const one = framework === 'ctquant' ? ctquantStep : torchStep;
  const perProcess = layout === 'threads'
    ? [await one(size, cores)]
    : await Promise.all(Array.from({ length: cores }, () => one(size, 1)));
  // P processes each at t ms per step together finish P steps per t ms.
  const mean = perProcess.reduce((a, b) => a + b, 0) / perProcess.length;
  const msPerStep = layout === 'threads' ? perProcess[0]! : mean / cores;
  const m = { round, size, framework, layout, msPerStep, perProcess };
  console.log(`round ${round} ${size}² ${framework} ${layout}: ${msPerStep.toFixed(1)} ms per step of throughput (processes: ${perProcess.map((t) => t.toFixed(0)).join(', ')} ms)`);
  return m;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const measurements: Measurement[] = [];
for (let round = 1; round <= rounds; round++) {
  for (const size of sizes) {
    for (const layout of ['threads', 'processes'] as const) {
      for (const framework of ['pytorch', 'ctquant'] as const) measurements.push(await measure(round, size, framework, layout));
    }
  }
}

const rows: string[][] = [];
const summary: Record<string, unknown>[] = [];
for (const size of sizes) {
  for (const layout of ['threads', 'processes'] as const) {
    const pick = (f: Framework) => measurements.filter((m) => m.size === size && m.layout === layout && m.framework === f);
    const ours = pick('ctquant');
    const ref = pick('pytorch');
    const ratios = ours.map((m, i) => ref[i]!.msPerStep / m.msPerStep);
    const row = {
      size, layout, cores, ctquantMs: median(ours.map((m) => m.msPerStep)), pytorchMs: median(ref.map((m) => m.msPerStep)),
      ratioMedian: median(ratios), ratios,
    };
    summary.push(row);
    rows.push([`${size}²`, layout === 'threads' ? `1 process × ${cores} threads` : `${cores} processes × 1 thread`,
      row.ctquantMs.toFixed(0), row.pytorchMs.toFixed(0), `${row.ratioMedian.toFixed(2)}×`, ratios.map((r) => r.toFixed(2)).join(' ')]);
  }
}
const header = ['size', 'cores used as', 'ctquant ms/step', 'PyTorch ms/step', 'vs torch (median)', 'per round'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log(['', fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n'));
const report = { batch, steps, warmup, rounds, cores, summary, measurements };
if (values.json) writeFileAtomic(values.json, JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report));
