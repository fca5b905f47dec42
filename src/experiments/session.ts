import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { startBackend, type BackendName } from '../backend/index.js';
import { UserError } from '../errors.js';
import type { DetectorProfile } from '../profile/types.js';
import type { ExampleInput } from '../report/examples.js';
import { writeReport } from '../report/index.js';
import type { CtDataset } from '../data/types.js';
import { predictMasks } from '../train/evaluate.js';
import { restoreModelState } from '../train/trainer.js';
import { modelForPoint, pointOfRun } from './run-point.js';
import { writeFileAtomic } from '../util/atomic.js';
import type { ExperimentConfig } from './config.js';
import { prepareData, type DataSource } from './data.js';
import { planStudy, planSweep, seedList, type PlanPoint } from './plan.js';
import { readExperimentRecord, reevaluateRuns, type ExperimentRecord } from './evaluate-run.js';
import { mergeRuns } from '../report/merge.js';
import { executePoints, installStopHandler, readRuns, runWorkers } from './runner.js';
import { prepareOutFolder } from './out-folder.js';
import { checkShards } from './merge-check.js';
export { stopExitCode } from './runner.js';
import type { RunResult } from './types.js';

export type ExperimentKind = 'train' | 'study' | 'sweep' | 'demo';

export interface SessionOptions {
  kind: ExperimentKind;
  profile: DetectorProfile;
  config: ExperimentConfig;
  data: DataSource;
  outDir: string;
  backend: BackendName;
  /** Sweep budgets (default: the profile's sweep). */
  budgets?: number[];
  resume: boolean;
  /** Replace an earlier run in outDir (without it, and without resume, such a folder is refused). */
  overwrite?: boolean;
  shard?: { index: number; count: number };
  /** Run this many worker processes in parallel (each takes every n-th point). */
  workers: number;
  /** wasm threads of this process (default 1); worker processes stay single-threaded. */
  threads?: number;
  /** Set in worker processes: run points, write no report. */
  isWorker: boolean;
  /** Arguments to pass to worker processes (the command line of this run). */
  workerArgs?: string[];
  plain: boolean;
  log: (line: string) => void;
}

export interface SessionOutcome {
  outDir: string;
  runs: RunResult[];
  files: string[];
  stopped: boolean;
  backend: string;
  seconds: number;
}

/** The points of an experiment kind. `train` is one learned (or multilevel) run at the profile's budget. */
export function planFor(kind: ExperimentKind, profile: DetectorProfile, config: ExperimentConfig, budgets?: number[]): PlanPoint[] {
  const seeds = kind === 'train' ? [config.seed] : seedList(config.seed, config.seeds);
  const sweepBudgets = budgets?.length ? budgets : profile.sweep.length ? profile.sweep : [profile.budget.value];
  switch (kind) {
    case 'train':
      return planSweep(profile, [profile.budget.value], seeds).filter((p) => p.setup === 'learned' || p.setup === 'multilevel');
    case 'study':
      return planStudy(profile, seeds, { budgets });
    case 'sweep':
      return planSweep(profile, sweepBudgets, seeds);
    case 'demo':
      return planStudy(profile, seeds, { budgets: sweepBudgets });
  }
}

/**
 * A tip for one process training several models on a GPU: it spends most of a step issuing
 * operations, so the GPU idles; on an H100, four processes trained 2.2× the steps per second of
 * one (BENCHMARKS.md). Not the default: each worker holds its own model and activations in GPU memory.
 */
export function workersHint(backend: string, points: number): string | null {
  if (backend !== 'webgpu' || points < 2) return null;
  return `tip: on a GPU, worker processes train faster than one (--workers ${Math.min(4, points)}; ` +
    'each holds its own model in GPU memory)';
}

/** Runs an experiment end to end: backend, data, the plan (here or in workers), then the report. */
export async function runSession(opts: SessionOptions): Promise<SessionOutcome> {
  const t0 = Date.now();
  const outDir = resolve(opts.outDir);
  if (!opts.isWorker) {
    const settings = { kind: opts.kind, profile: opts.profile, config: opts.config, data: opts.data };
    prepareOutFolder(outDir, { resume: opts.resume, overwrite: opts.overwrite ?? false, settings });
  }
  mkdirSync(outDir, { recursive: true });
  installStopHandler(opts.log);
  if (!opts.isWorker) {
    const record: ExperimentRecord = {
      kind: opts.kind,
      profile: opts.profile,
      config: opts.config,
      data: opts.data,
      createdAt: new Date().toISOString(),
    };
    writeJson(join(outDir, 'experiment.json'), record);
  }
  const points = planFor(opts.kind, opts.profile, opts.config, opts.budgets);
  if (points.length === 0) throw new UserError(`nothing to run for ${opts.kind} with profile ${opts.profile.name}`);

  let backendName = opts.backend as string;
  let stopped = false;
  let data: Awaited<ReturnType<typeof prepareData>> | null = null;
  if (opts.workers > 1 && !opts.isWorker) {
    opts.log(`running ${points.length} trainings in ${opts.workers} worker processes`);
    ({ stopped } = await runWorkers(opts.workerArgs ?? [], opts.workers, opts.log));
    // The example predictions run on the backend the workers chose; probing `auto` again would only repeat its log.
    const used = readRuns(outDir)[0]?.backend as BackendName | undefined;
    const started = await startBackend(used ?? opts.backend, () => undefined);
    backendName = started.name;
    if (!stopped) data = await prepareData(opts.data, opts.profile, opts.config);
  } else {
    // `auto` logs its choice itself; the chosen backend is printed once, here.
    const started = await startBackend(opts.backend, (line) => line.startsWith('backend: ') || opts.log(line), { wasmThreads: opts.threads });
    backendName = started.name;
    opts.log(`backend: ${started.name} (${started.detail})`);
    const hint = opts.isWorker || opts.shard ? null : workersHint(started.name, points.length);
    if (hint) opts.log(hint);
    data = await prepareData(opts.data, opts.profile, opts.config);
    opts.log(
      `data: ${data.source}: ${data.split.train.slices.length} train / ${data.split.validation.slices.length} validation / ` +
        `${data.split.test.slices.length} test slices at ${opts.config.size}x${opts.config.size}`,
    );
    const outcome = await executePoints({
      profile: opts.profile,
      config: opts.config,
      data: data.split,
      points,
      outDir,
      backend: backendName,
      resume: opts.resume,
      shard: opts.shard,
      plain: opts.plain,
      log: opts.log,
    });
    stopped = outcome.stopped;
  }
  const runs = readRuns(outDir);
  if (stopped) {
    opts.log(`stopped: ${runs.length} run(s) finished; continue with --resume`);
    return { outDir, runs, files: [], stopped, backend: backendName, seconds: (Date.now() - t0) / 1000 };
  }
  if (opts.isWorker) return { outDir, runs, files: [], stopped, backend: backendName, seconds: (Date.now() - t0) / 1000 };

  const examples = data ? await examplePredictions(outDir, runs, data.split.test, opts) : [];
  const seconds = (Date.now() - t0) / 1000;
  const files = await writeReport(outDir, {
    runs,
    profile: opts.profile,
    config: opts.config,
    examples,
    meta: {
      kind: opts.kind,
      backend: backendName,
      seeds: seedList(opts.config.seed, opts.kind === 'train' ? 1 : opts.config.seeds),
      data: data?.source ?? String(opts.data.kind),
      seconds,
      tfjsVersion: tf.version.tfjs,
    },
  });
  return { outDir, runs, files, stopped, backend: backendName, seconds };
}

/** A few test images with lesions and the prediction of the first learned run (else the baseline), for the report. */
async function examplePredictions(
  outDir: string,
  runs: RunResult[],
  test: CtDataset,
  opts: SessionOptions,
): Promise<ExampleInput[]> {
  const run =
    runs.find((r) => (r.setup === 'learned' || r.setup === 'multilevel') && !r.collapsed && r.budget === opts.profile.budget.value) ??
    runs.find((r) => r.setup === 'baseline' && !r.collapsed);
  if (!run?.checkpoint) return [];
  const model = modelForPoint(opts.profile, opts.config, pointOfRun(run));
  try {
    restoreModelState(model, join(outDir, run.checkpoint));
    const indices = test.slices
      .map((s, i) => ({ i, lesion: s.mask.reduce((a, v) => a + v, 0) }))
      .filter((x) => x.lesion > 0)
      .sort((a, b) => b.lesion - a.lesion)
      .slice(0, 4)
      .map((x) => x.i);
    const preds = await predictMasks(model, test, { mode: 'hardware', batchSize: opts.config.batchSize, indices });
    return indices.map((idx, k) => ({
      image: test.slices[idx]!.image,
      mask: test.slices[idx]!.mask,
      prediction: preds[k]!,
      rows: test.height,
      cols: test.width,
      nativeBits: test.nativeBits,
      title: `${test.slices[idx]!.name} (${run.id})`,
    }));
  } finally {
    model.dispose();
  }
}

export function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}


/** Joins the runs of several output folders (shards of one sweep) into `outDir` with one report. */
export async function mergeSession(dirs: string[], outDir: string, log: (line: string) => void): Promise<SessionOutcome> {
  const t0 = Date.now();
  const record = checkShards(dirs, outDir);
  const runs = mergeRuns(dirs);
  log(`merging ${runs.length} runs from ${dirs.length} folder(s) into ${outDir}`);
  mkdirSync(outDir, { recursive: true });
  writeJson(join(outDir, 'experiment.json'), { ...record, kind: `${record.kind} (merged)`, mergedFrom: dirs });
  const files = await writeReport(outDir, {
    runs,
    profile: record.profile,
    config: record.config,
    meta: { kind: 'merge', seconds: (Date.now() - t0) / 1000, tfjsVersion: tf.version.tfjs },
  });
  return { outDir, runs, files, stopped: false, backend: [...new Set(runs.map((r) => r.backend))].join(','), seconds: (Date.now() - t0) / 1000 };
}

/** Re-evaluates a saved run folder's models on other data (all of it is test data) or on its own test split. */
export async function evalSession(
  runDir: string,
  opts: { data?: DataSource; outDir: string; backend: BackendName; log: (line: string) => void },
): Promise<SessionOutcome> {
  const t0 = Date.now();
  const record = readExperimentRecord(runDir);
  const started = await startBackend(opts.backend, opts.log);
  let test: CtDataset;
  let source: string;
  if (opts.data) {
    const prepared = await prepareData(opts.data, record.profile, { ...record.config, testFraction: 0.999, validationFraction: 0 }, { allTest: true });
    test = prepared.split.test;
    source = prepared.source;
  } else {
    const prepared = await prepareData(record.data, record.profile, record.config);
    test = prepared.split.test;
    source = `${prepared.source} (the run's own test split)`;
  }
  opts.log(`evaluating the runs of ${runDir} on ${test.slices.length} slices of ${source}`);
  const runs = await reevaluateRuns(runDir, record, test, record.config.batchSize);
  mkdirSync(opts.outDir, { recursive: true });
  writeJson(join(opts.outDir, 'experiment.json'), { ...record, kind: 'eval', evaluatedFrom: runDir, data: opts.data ?? record.data });
  const files = await writeReport(opts.outDir, {
    runs,
    profile: record.profile,
    config: record.config,
    meta: { kind: 'eval', backend: started.name, data: source, seconds: (Date.now() - t0) / 1000, tfjsVersion: tf.version.tfjs },
  });
  return { outDir: opts.outDir, runs, files, stopped: false, backend: started.name, seconds: (Date.now() - t0) / 1000 };
}
