/**
 * The GPU-machine entry (bundled by shared/gpu/stage.sh; no tsx, no npm there): webgpu training
 * steps with the stock tfjs kernels and with ctquant's (src/backend/webgpu), at 256² and 512²,
 * batch 8, plus PyTorch on CUDA (bench/torch_step.py) in the same run. Results: stdout and
 * $OUT/gpu-bench.json when OUT is set.
 *   bash .gpu/run.sh gpu.mjs [--sizes 256,512] [--sets ctquant,stock] [--norms none,group] [--steps 10] [--no-profile]
 * `--concurrent 1,4,8` then times N processes training at once on the one GPU (one Dawn device
 * each, as `ctquant study --workers N`): summed steps per second at `--concurrent-size`, batch 8.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { runStepMatrix, type MatrixReport } from './matrix.js';
import { runConcurrentChild, timeConcurrent, type ConcurrentResult } from './concurrent.js';
import type { Normalization } from '../src/model/unet.js';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '256,512' },
    batches: { type: 'string', default: '8' },
    sets: { type: 'string', default: 'ctquant,stock' },
    norms: { type: 'string', default: 'none' },
    concurrent: { type: 'string', default: '' },
    'concurrent-size': { type: 'string', default: '256' },
    'concurrent-norm': { type: 'string', default: 'group' },
    'concurrent-batch': { type: 'string', default: '8' },
    'concurrent-steps': { type: 'string', default: '48' },
    child: { type: 'boolean', default: false },
    // Pipelined steps also with these loss read-back intervals (the trainer's default is always timed).
    'read-every': { type: 'string', default: '' },
    steps: { type: 'string', default: '10' },
    'stock-steps': { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    'no-profile': { type: 'boolean', default: false },
    torch: { type: 'string', default: 'cuda' },
    // tfjs env flags to try, one variant per ';'-separated group, e.g. "-;WEBGPU_CPU_FORWARD=false".
    variants: { type: 'string', default: '-' },
  },
});
const nums = (s: string) => s.split(',').filter((x) => x.trim()).map(Number);

const concurrentShape = {
  size: Number(values['concurrent-size']), batch: Number(values['concurrent-batch']), normalization: values['concurrent-norm'] as Normalization,
  steps: Number(values['concurrent-steps']),
};
if (values.child) {
  await runConcurrentChild(concurrentShape);
  process.exit(0);
}

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
    normalizations: values.norms.split(',') as Normalization[],
    readEveryAlternatives: nums(values['read-every']),
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
const concurrent: ConcurrentResult[] = [];
for (const processes of values.concurrent ? nums(values.concurrent) : []) {
  log(`${processes} process(es) training at once: ${concurrentShape.normalization} norm, ${concurrentShape.size}², batch ${concurrentShape.batch} …`);
  const r = await timeConcurrent(processes, concurrentShape, (args) => [process.argv[1]!, ...args]);
  concurrent.push(r);
  log(`  ${r.stepsPerSecond.toFixed(1)} steps/s in all (${r.msPerStepEach.map((m) => m.toFixed(0)).join(', ')} ms/step each)`);
}
const json = JSON.stringify({ reports, concurrent }, null, 2);
if (process.env.OUT) writeFileSync(join(process.env.OUT, 'gpu-bench.json'), json + '\n');
for (const r of reports) {
  console.log(r.flags, JSON.stringify(r.results.map((x) => ({ k: x.kernels, s: x.size, ms: +x.msMedian.toFixed(1), enq: +x.msEnqueueMedian.toFixed(1), piped: +x.msPipelined.toFixed(1), kernels: x.kernelCalls }))));
}
