import { totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { startBackend, type BackendName } from '../backend/index.js';
import { LAYOUT_PRIOR_RULES, type ExperimentConfig } from '../config/experiment-config.js';
import { UserError } from '../errors.js';
import type { DetectorProfile } from '../profile/types.js';
import { readStoredRuns } from '../runs/store.js';
import { FIXED_FAMILIES, learnsLayout, type FixedFamily, type RunResult } from '../runs/types.js';
import { prepareData, slicesHeld, type DataSource, type PreparedData } from './data.js';
import { makeFolder } from '../util/atomic.js';
import { detectorRetrainLevels, planStudy, planSweep, seedList, type DesignerLayout, type PlanExtras, type PlanPoint } from './plan.js';
import { writeExperimentRecord } from './record.js';
import { executePoints, installStopHandler, runWorkers } from './runner.js';
import { prepareOutFolder } from './out-folder.js';
import { experimentMemoryPlan, memoryProblem, wasmHeapProblem } from './memory.js';
import { MAX_PHANTOM_SIZE, MIN_PHANTOM_SIZE } from '../data/phantom.js';
export { stopExitCode } from './runner.js';

export { EXPERIMENT_KINDS, type ExperimentKind } from './plan.js';
import type { ExperimentKind } from './plan.js';

export interface ExperimentOptions {
  kind: ExperimentKind;
  profile: DetectorProfile;
  config: ExperimentConfig;
  data: DataSource;
  outDir: string;
  backend: BackendName;
  /** Sweep budgets (default: the profile's sweep). */
  budgets?: number[];
  /** Fixed layout families next to the random control (default: all). */
  families?: FixedFamily[];
  /** A designer's layout (`--layout FILE`), read at the training size. */
  designer?: DesignerLayout;
  /** τ of the design decision (the report's headline); default 0.02. */
  tolerance?: number;
  resume: boolean;
  /** Replace an earlier run in outDir (without it, and without resume, such a folder is refused). */
  overwrite?: boolean;
  shard?: { index: number; count: number };
  /** Run this many worker processes in parallel (each takes every n-th point). */
  workers: number;
  /** wasm threads of this process (default 1); worker processes stay single-threaded. */
  threads?: number;
  /** Set in worker processes: run this shard's points of the experiment.json in outDir, write nothing else. */
  isWorker: boolean;
  plain: boolean;
  log: (line: string) => void;
}

export interface ExperimentOutcome {
  /** outDir, resolved. */
  outDir: string;
  /** Every run stored in outDir (all workers' and shards' so far). */
  runs: RunResult[];
  stopped: boolean;
  backend: string;
  /** The data the runs used, prepared in this process (null when stopped while workers ran). */
  data: PreparedData | null;
}

/**
 * The points of an experiment kind. `train` is one learned (or multilevel) run at the profile's
 * budget (and a designer's layout when given).
 */
export function planFor(kind: ExperimentKind, profile: DetectorProfile, config: ExperimentConfig, budgets?: number[], imageExtras: PlanExtras = {}): PlanPoint[] {
  if (profile.detector && profile.budget.kind !== 'fraction')
    throw new UserError(`detector space has one reduced mode per channel: the profile needs a "fraction" budget (multi-level layouts are image-space only)`, {
      ...(profile.file ? { file: profile.file } : {}),
      pointer: '/budget/bitsPerPixel',
    });
  if (profile.detector && imageExtras.designer)
    throw new UserError('--layout is an image-space layout (one ADC per pixel); a detector-space profile lays out channels', { file: imageExtras.designer.file });
  // The content and lesion heuristics rank image pixels by the training images: they have no meaning over detector channels.
  const extras: PlanExtras = profile.detector
    ? { ...imageExtras, families: (imageExtras.families ?? FIXED_FAMILIES).filter((f) => f !== 'content' && f !== 'lesion') }
    : imageExtras;
  const seeds = kind === 'train' ? [config.seed] : seedList(config.seed, config.seeds);
  const sweepBudgets = budgets?.length ? budgets : profile.sweep.length ? profile.sweep : [profile.budget.value];
  switch (kind) {
    case 'train':
      return planSweep(profile, [profile.budget.value], seeds, extras).filter((p) => learnsLayout(p.setup) || p.setup === 'designer');
    case 'study':
      return planStudy(profile, seeds, {
        budgets,
        ...(profile.detector ? { retrainLevels: detectorRetrainLevels(profile, budgets?.length ? budgets : [profile.budget.value]) } : {}),
        ...extras,
      });
    case 'sweep':
      return planSweep(profile, sweepBudgets, seeds, extras);
    case 'demo':
      return planStudy(profile, seeds, { budgets: sweepBudgets, ...(profile.detector ? { retrainLevels: detectorRetrainLevels(profile, sweepBudgets) } : {}), ...extras });
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

/** Runs an experiment's trainings: record, backend, data, the plan (here or in workers). Writes runs/, no report. */
export async function runExperiment(opts: ExperimentOptions): Promise<ExperimentOutcome> {
  const outDir = resolve(opts.outDir);
  const points = planFor(opts.kind, opts.profile, opts.config, opts.budgets, {
    ...(opts.families ? { families: opts.families } : {}),
    ...(opts.designer ? { designer: opts.designer } : {}),
  });
  if (points.length === 0) throw new UserError(`nothing to run for ${opts.kind} with profile ${opts.profile.name}`);
  // More workers than trainings would only start idle processes, each holding the runtime and the data.
  const workers = Math.min(opts.workers, points.length);
  if (!opts.isWorker) {
    // Before the folder is touched: a run that cannot start leaves nothing behind to --overwrite.
    const { size } = opts.config;
    if (opts.data.kind === 'synthetic' && (size < MIN_PHANTOM_SIZE || size > MAX_PHANTOM_SIZE)) {
      throw new UserError(`--size ${size}: the synthetic phantoms are ${MIN_PHANTOM_SIZE} to ${MAX_PHANTOM_SIZE} pixels a side; give --data for other sizes`);
    }
    const plan = experimentMemoryPlan(opts.config, slicesHeld(opts.data, opts.config), workers, opts.backend !== 'webgpu', opts.profile.detector);
    // The wasm heap's cap first: it holds on any machine, so its message is the one that helps.
    const tooBig = (opts.backend === 'wasm' ? wasmHeapProblem(plan) : null) ?? memoryProblem(plan, totalmem());
    if (tooBig) throw new UserError(tooBig);
    const settings = { kind: opts.kind, profile: opts.profile, config: opts.config, data: opts.data, ...(opts.designer ? { designer: opts.designer } : {}) };
    prepareOutFolder(outDir, { resume: opts.resume, overwrite: opts.overwrite ?? false, settings });
  }
  makeFolder(outDir);
  installStopHandler(opts.log);
  if (!opts.isWorker) {
    writeExperimentRecord(outDir, {
      kind: opts.kind,
      profile: opts.profile,
      config: opts.config,
      data: opts.data,
      ...(opts.budgets ? { budgets: opts.budgets } : {}),
      ...(opts.families ? { families: opts.families } : {}),
      ...(opts.designer ? { designer: opts.designer } : {}),
      ...(opts.tolerance !== undefined ? { tolerance: opts.tolerance } : {}),
      backend: opts.backend,
      layoutPriorRules: LAYOUT_PRIOR_RULES,
      createdAt: new Date().toISOString(),
    });
  }

  let backendName: string;
  let stopped = false;
  let data: PreparedData | null = null;
  if (workers > 1 && !opts.isWorker) {
    opts.log(`running ${points.length} trainings in ${workers} worker processes${workers < opts.workers ? ` (not ${opts.workers}: one per training at most)` : ''}`);
    ({ stopped } = await runWorkers(outDir, workers, opts.log));
    // Later steps (example predictions) run on the backend the workers chose; probing `auto` again would only repeat its log.
    const used = readStoredRuns(outDir)[0]?.backend as BackendName | undefined;
    const started = await startBackend(used ?? opts.backend, () => undefined);
    backendName = started.name;
    if (!stopped) data = await prepareData(opts.data, opts.profile, opts.config);
  } else {
    // `auto` logs its choice itself; the chosen backend is printed once, here.
    const started = await startBackend(opts.backend, (line) => line.startsWith('backend: ') || opts.log(line), { wasmThreads: opts.threads });
    backendName = started.name;
    opts.log(`backend: ${started.name} (${started.detail})`);
    // `auto` (here and in each worker) may end on wasm, whose heap caps a step whatever the machine has.
    const overHeap = started.name === 'wasm' ? wasmHeapProblem(experimentMemoryPlan(opts.config, undefined, 1, true)) : null;
    if (overHeap) throw new UserError(overHeap);
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
  const runs = readStoredRuns(outDir);
  if (stopped) opts.log(`stopped: ${runs.length} run(s) finished; continue with --resume`);
  return { outDir, runs, stopped, backend: backendName, data };
}
