/**
 * The GPU-machine entry (bundled by shared/gpu/stage.sh; no tsx, no npm there): webgpu training
 * steps with the stock tfjs kernels and with ctquant's (src/backend/webgpu), at 256² and 512²,
 * batch 8, plus PyTorch on CUDA (bench/torch_step.py) in the same run. Results: stdout and
 * $OUT/gpu-bench.json when OUT is set.
 *   bash .gpu/run.sh gpu.mjs [--sizes 256,512] [--sets ctquant,stock] [--steps 10] [--no-profile]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { runStepMatrix, type MatrixReport } from './matrix.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,512' },
    batches: { type: 'string', default: '8' },
    sets: { type: 'string', default: 'ctquant,stock' },
    steps: { type: 'string', default: '10' },
    'stock-steps': { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    'no-profile': { type: 'boolean', default: false },
    torch: { type: 'string', default: 'cuda' },
    // tfjs env flags to try, one variant per ';'-separated group, e.g. "-;WEBGPU_CPU_FORWARD=false".
    variants: { type: 'string', default: '-' },
  },
});
const nums = (s: string) => s.split(',').map(Number);

const started = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0)}s] ${line}`);
const reports: (MatrixReport & { flags: string })[] = [];
let torch = values.torch as 'cuda' | 'cpu' | 'none';
for (const variant of values.variants.split(';')) {
  const flags = variant === '-' ? [] : variant.split(',').map((kv) => kv.split('=') as [string, string]);
  for (const [k, v] of flags) tf.env().set(k, v === 'true' ? true : v === 'false' ? false : Number(v));
  log(`variant: ${variant}`);
  const report = await runStepMatrix({
    backends: ['webgpu'],
    kernelSets: values.sets.split(','),
    sizes: nums(values.sizes),
    batches: nums(values.batches),
    steps: Number(values.steps),
    stockSteps: Number(values['stock-steps']),
    warmup: Number(values.warmup),
    profile: !values['no-profile'],
    torchDevice: torch,
    log,
  });
  reports.push({ ...report, flags: variant });
  torch = 'none'; // the reference does not change with tfjs flags
}
const json = JSON.stringify(reports, null, 2);
if (process.env.OUT) writeFileSync(join(process.env.OUT, 'gpu-bench.json'), json + '\n');
for (const r of reports) {
  console.log(r.flags, JSON.stringify(r.results.map((x) => ({ k: x.kernels, s: x.size, ms: +x.msMedian.toFixed(1), enq: +x.msEnqueueMedian.toFixed(1), piped: +x.msPipelined.toFixed(1), kernels: x.kernelCalls }))));
}
