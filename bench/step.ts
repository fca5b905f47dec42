/**
 * Training-step benchmark: ctquant's model on one or more tfjs backends, with PyTorch
 * (bench/torch_step.py) timed in the same run as the reference.
 *
 *   node --import tsx bench/step.ts --backend wasm --sizes 128,256 --batches 4 --steps 10
 *   node --import tsx bench/step.ts --backend webgpu --kernels stock,ctquant --sizes 256 --profile
 *   flags: --backend wasm|webgpu|cpu (repeatable or comma list)  --kernels ctquant|stock (webgpu)
 *          --sizes 128,256,512  --batches 4,8  --steps 10  --warmup 3  --profile
 *          --torch-device cpu|cuda|none  --torch-threads 2  --python /usr/bin/python3  --json FILE
 *          --flags NAME=value,… (tfjs env flags, e.g. CTQUANT_FUSED_ADAM=false for the tf-op Adam on webgpu)
 *          --threads 1,2 (wasm threads; several: each count runs in a child process of this script)
 *          --no-pipelined (skip the steps-queued-back-to-back figure; it matters on a GPU only)
 * Prints a table, then one JSON object (all results) on the last line.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { writeFileAtomic } from '../src/util/atomic.js';
import { runStepMatrix, type MatrixOptions, type MatrixReport } from './matrix.js';
import type { StepBenchResult } from './step-lib.js';

function list(v: string | string[] | undefined, fallback: string[]): string[] {
  if (v === undefined) return fallback;
  return (Array.isArray(v) ? v : [v]).flatMap((s) => s.split(',')).filter((s) => s !== '');
}

function numbers(v: string | string[] | undefined, fallback: number[], flag: string): number[] {
  const out = list(v, fallback.map(String)).map(Number);
  if (out.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--${flag}: positive integers expected`);
  return out;
}

const { values } = parseArgs({
  options: {
    backend: { type: 'string', multiple: true },
    kernels: { type: 'string', multiple: true },
    sizes: { type: 'string', multiple: true },
    batches: { type: 'string', multiple: true },
    steps: { type: 'string' },
    warmup: { type: 'string' },
    profile: { type: 'boolean' },
    'no-pipelined': { type: 'boolean' },
    'torch-device': { type: 'string' },
    'torch-threads': { type: 'string' },
    json: { type: 'string' },
    python: { type: 'string' },
    flags: { type: 'string' },
    threads: { type: 'string', multiple: true },
    norm: { type: 'string' },
  },
});

const NORMS = ['none', 'batch', 'group', 'instance'] as const;
const normalizations = list(values.norm, ['none']) as Array<(typeof NORMS)[number]>;
if (normalizations.some((n) => !NORMS.includes(n))) throw new Error(`--norm: ${NORMS.join(', ')}`);

const torchDevice = values['torch-device'] ?? 'cpu';
if (!['cpu', 'cuda', 'none'].includes(torchDevice)) throw new Error('--torch-device: cpu, cuda or none');
const options: MatrixOptions = {
  backends: list(values.backend, ['wasm']),
  kernelSets: list(values.kernels, ['ctquant']),
  sizes: numbers(values.sizes, [128, 256], 'sizes'),
  batches: numbers(values.batches, [4], 'batches'),
  steps: numbers(values.steps, [10], 'steps')[0]!,
  warmup: Number(values.warmup ?? 3),
  profile: values.profile ?? false,
  pipelined: !values['no-pipelined'],
  torchDevice: torchDevice as MatrixOptions['torchDevice'],
  torchThreads: values['torch-threads'] ? Number(values['torch-threads']) : undefined,
  python: values.python,
  wasmThreads: numbers(values.threads, [1], 'threads'),
  normalizations,
  runWasmIsolated: (threads) => runChild(threads),
  log: (line) => console.log(line),
};

/** This script again, wasm only with one thread count and no PyTorch; its rows from its --json file. */
function runChild(threads: number): Promise<StepBenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ctquant-step-'));
  const json = join(dir, 'report.json');
  const args = [
    ...process.execArgv, process.argv[1]!, '--backend', 'wasm', '--threads', `${threads}`,
    '--sizes', options.sizes.join(','), '--batches', options.batches.join(','),
    '--steps', `${options.steps}`, '--warmup', `${options.warmup}`, '--torch-device', 'none', '--json', json,
    '--norm', normalizations.join(','),
  ];
  if (options.profile) args.push('--profile');
  if (!options.pipelined) args.push('--no-pipelined');
  if (values.flags) args.push('--flags', values.flags);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let pending = '';
    child.stdout.on('data', (d: Buffer) => {
      const lines = (pending + d.toString()).split('\n');
      pending = lines.pop() ?? '';
      // Forward the child's log, not its closing table and JSON line (the parent prints both for all rows).
      for (const l of lines) if (!l.startsWith('{')) console.log(`  [${threads}t] ${l}`);
    });
    child.on('close', (code) => {
      try {
        if (code !== 0) throw new Error(`wasm ${threads}-thread child exited ${code}`);
        resolve((JSON.parse(readFileSync(json, 'utf8')) as MatrixReport).results);
      } catch (e) {
        reject(e);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

for (const kv of list(values.flags, [])) {
  const [k, v] = kv.split('=') as [string, string];
  tf.env().set(k, v === 'true' ? true : v === 'false' ? false : Number(v));
}
const report = await runStepMatrix(options);
if (values.json) writeFileAtomic(values.json, JSON.stringify(report, null, 2) + '\n');
console.log(JSON.stringify(report));
