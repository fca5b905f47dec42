/**
 * Several processes training at once on one GPU, as `ctquant study --workers N` runs them: each
 * process has its own Dawn device and queues its own steps, so while one waits on its CPU side
 * (tfjs issuing operations) another's work runs. The figure is the summed steps per second.
 * A child warms up, says READY, waits for GO on stdin (so that all timed windows overlap), then
 * times its steps and prints one JSON line.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import * as tf from '@tensorflow/tfjs';
import type { Normalization } from '../src/model/unet.js';
import { installNodeWebgpu, selectWebgpuBackend } from '../src/backend/webgpu/node-gpu.js';
import { registerWebgpuTrainingKernels } from '../src/backend/webgpu/kernels.js';
import { defaultLossReadEvery } from '../src/train/trainer.js';
import { pipelinedSteps, prepareTrainingStep } from './step-lib.js';

export interface ConcurrentShape {
  size: number;
  batch: number;
  normalization: Normalization;
  /** Timed steps per process. */
  steps: number;
}

export interface ConcurrentResult extends ConcurrentShape {
  processes: number;
  /** Each process's mean ms per step over its timed steps. */
  msPerStepEach: number[];
  /** Sum over processes of 1000 / msPerStep. */
  stepsPerSecond: number;
}

const WARMUP_STEPS = Number(process.env.CTQUANT_CONCURRENT_WARMUP ?? 4);

/** The child's side: train `shape` on webgpu with ctquant's kernels, time after GO. */
export async function runConcurrentChild(shape: ConcurrentShape): Promise<void> {
  if (!(await installNodeWebgpu())) throw new Error('webgpu: no adapter');
  await selectWebgpuBackend(tf);
  registerWebgpuTrainingKernels();
  const { step, dispose } = prepareTrainingStep({ ...shape, warmup: WARMUP_STEPS });
  const readEvery = defaultLossReadEvery('webgpu');
  await pipelinedSteps(step, WARMUP_STEPS, readEvery);
  console.log('READY');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === 'GO') break;
  const ms = await pipelinedSteps(step, shape.steps, readEvery);
  dispose();
  console.log(JSON.stringify({ msPerStep: ms }));
}

/** Starts `processes` children (`childArgs` gives node's arguments for the child), times them together. */
export async function timeConcurrent(
  processes: number,
  shape: ConcurrentShape,
  childArgs: (args: string[]) => string[],
): Promise<ConcurrentResult> {
  const args = childArgs(['--child', '--concurrent-size', `${shape.size}`, '--concurrent-norm', shape.normalization,
    '--concurrent-batch', `${shape.batch}`, '--concurrent-steps', `${shape.steps}`]);
  let ready = 0;
  let releaseAll: () => void = () => {};
  const allReady = new Promise<void>((resolve) => (releaseAll = resolve));
  const children = Array.from({ length: processes }, () => spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] }));
  const results = children.map(
    (child, i) =>
      new Promise<number>((resolve, reject) => {
        let out = '';
        createInterface({ input: child.stdout! }).on('line', (line) => {
          if (line === 'READY' && ++ready === processes) releaseAll();
          else if (line.startsWith('{')) out = line;
        });
        child.on('exit', (code) => {
          if (code !== 0 || !out) reject(new Error(`concurrent child ${i + 1} exited with ${code}`));
          else resolve((JSON.parse(out) as { msPerStep: number }).msPerStep);
        });
      }),
  );
  // A child that dies before READY must not leave the others waiting for GO.
  await Promise.race([allReady, Promise.all(results)]);
  for (const child of children) child.stdin!.end('GO\n');
  const msPerStepEach = await Promise.all(results);
  return { processes, ...shape, msPerStepEach, stepsPerSecond: msPerStepEach.reduce((a, ms) => a + 1000 / ms, 0) };
}
