/**
 * The pipeline: what a command does end to end. It runs experiments (src/experiments) and then
 * writes their report (src/report); it is the one layer that knows both.
 */
import * as tf from '@tensorflow/tfjs';
import { startBackend, type BackendName } from '../backend/index.js';
import type { CtDataset } from '../data/types.js';
import { prepareData, slicesHeld, type DataSource } from '../experiments/data.js';
import { evalMemoryProblem } from '../experiments/memory.js';
import { reevaluateRuns } from '../experiments/evaluate-run.js';
import { seedList } from '../experiments/plan.js';
import { readExperimentRecord, writeExperimentRecord } from '../experiments/record.js';
import { runExperiment, type ExperimentOptions } from '../experiments/session.js';
import { writeReport } from '../report/write.js';
import { mergeRuns } from '../runs/store.js';
import type { RunResult } from '../runs/types.js';
import { makeFolder } from '../util/atomic.js';
import { bestAndWorstExamples, examplePredictions } from './examples.js';
import type { Fit } from '../data/resize.js';
import type { SplitRule } from '../data/volumes.js';
import type { PixelLimits } from '../data/limits.js';
import type { OrientMode } from '../data/orientation.js';
import { writeDetectorOutputs } from './detector-outputs.js';
import { readManifestSplit, splitPart } from '../report/manifest.js';
import { UserError } from '../errors.js';
import { join } from 'node:path';
import { totalmem } from 'node:os';
import { imageTables } from './image-tables.js';

export type SessionOptions = Omit<ExperimentOptions, 'isWorker'>;

export interface SessionOutcome {
  outDir: string;
  runs: RunResult[];
  files: string[];
  stopped: boolean;
  backend: string;
  seconds: number;
}

/** Runs an experiment end to end: its trainings (here or in workers), then the report. */
export async function runSession(opts: SessionOptions): Promise<SessionOutcome> {
  const t0 = Date.now();
  const { outDir, runs, stopped, backend, data } = await runExperiment({ ...opts, isWorker: false });
  if (stopped) return { outDir, runs, files: [], stopped, backend, seconds: (Date.now() - t0) / 1000 };

  const examples = data ? await examplePredictions(outDir, runs, data.split.test, opts.profile, opts.config) : [];
  const images = data ? imageTables(runs, opts.profile, data.split) : undefined;
  // Detector space: channel layouts, bits per channel, sinogram and reconstruction previews, storage per frame; written first so the report shows them.
  const detector = data && opts.profile.detector ? await writeDetectorOutputs(outDir, runs, opts.profile, opts.config, data.split.test) : undefined;
  const seconds = (Date.now() - t0) / 1000;
  const files = await writeReport(outDir, {
    runs,
    profile: opts.profile,
    config: opts.config,
    examples,
    ...(detector?.report ? { detector: detector.report } : {}),
    ...(images ?? {}),
    meta: {
      kind: opts.kind,
      backend,
      seeds: seedList(opts.config.seed, opts.kind === 'train' ? 1 : opts.config.seeds),
      data: data?.source ?? String(opts.data.kind),
      ...(data ? { split: data.splitRule } : {}),
      ...(opts.tolerance !== undefined ? { tolerance: opts.tolerance } : {}),
      seconds,
      tfjsVersion: tf.version.tfjs,
    },
  });
  return { outDir, runs, files, stopped, backend, seconds };
}

/** Joins the runs of several output folders (shards of one sweep) into `outDir` with one report. */
export async function mergeSession(dirs: string[], outDir: string, log: (line: string) => void): Promise<SessionOutcome> {
  const t0 = Date.now();
  const record = readExperimentRecord(dirs[0]!);
  const runs = mergeRuns(dirs);
  log(`merging ${runs.length} runs from ${dirs.length} folder(s) into ${outDir}`);
  makeFolder(outDir);
  writeExperimentRecord(outDir, { ...record, kind: `${record.kind} (merged)`, mergedFrom: dirs });
  const files = await writeReport(outDir, {
    runs,
    profile: record.profile,
    config: record.config,
    meta: { kind: 'merge', ...(record.tolerance !== undefined ? { tolerance: record.tolerance } : {}), seconds: (Date.now() - t0) / 1000, tfjsVersion: tf.version.tfjs },
  });
  return { outDir, runs, files, stopped: false, backend: [...new Set(runs.map((r) => r.backend))].join(','), seconds: (Date.now() - t0) / 1000 };
}

/** Which part of a run's own split `eval` re-evaluates. */
export type EvalPart = 'test' | 'validation';

export interface EvalSessionOptions {
  /** Other data (all of it is test data); absent: the run's own test split. */
  data?: DataSource;
  /** The name of the evaluated data set, for the report title (e.g. the folder's name). */
  datasetName: string;
  /** How other aspect ratios reach the run's size (default: the run's config `fit`). */
  fit?: Fit;
  /**
   * Re-evaluating on the own data: the split rule, size limits and slice thinning (`every`) to load
   * the run's data with (default: as recorded), and which part of its split (default test).
   */
  ownData?: { split?: SplitRule; limits?: PixelLimits; orient?: OrientMode; every?: number; part?: EvalPart };
  outDir: string;
  backend: BackendName;
  log: (line: string) => void;
}

/**
 * Re-evaluates a saved run folder's models on other data (all of it is test data) or on its own
 * test split, and writes a report that names the data set: every run stays in the tables with its
 * intervals (collapse is carried over from training), the examples are the best and worst slices
 * of the evaluated data, and the training curves are labelled as such.
 */
export async function evalSession(runDir: string, opts: EvalSessionOptions): Promise<SessionOutcome> {
  const t0 = Date.now();
  const record = readExperimentRecord(runDir);
  const config = opts.fit ? { ...record.config, fit: opts.fit } : record.config;
  const { part = 'test', ...loading } = opts.ownData ?? {};
  if (!opts.data && record.data.kind !== 'folder' && loading.every !== undefined) throw new UserError(`--every thins a folder's slices; ${runDir} ran on ${record.data.kind} data`);
  const data: DataSource = opts.data ?? (record.data.kind === 'folder' ? { ...record.data, ...definedOnly(loading) } : record.data);
  // Before the backend starts: a folder too large to hold is refused in one line, not by the OOM killer.
  const tooBig = evalMemoryProblem({ size: config.size, ...optionalSlices(slicesHeld(data, config)), ...(record.profile.detector ? { scan: record.profile.detector } : {}) }, totalmem());
  if (tooBig) throw new UserError(tooBig, { file: data.kind === 'folder' ? data.path : runDir });
  const started = await startBackend(opts.backend, opts.log);
  let test: CtDataset;
  let source: string;
  let splitRule: string;
  if (opts.data) {
    const prepared = await prepareData(data, record.profile, { ...config, testFraction: 0.999, validationFraction: 0 }, { allTest: true });
    test = prepared.split.test;
    source = prepared.source;
    splitRule = prepared.splitRule;
  } else {
    const prepared = await prepareData(data, record.profile, config);
    test = prepared.split[part];
    if (test.slices.length === 0) throw new UserError(`the run's ${part} split is empty`, { file: runDir });
    // An explicit --split is a deliberate other split; otherwise the volumes must be the run's.
    if (loading.split === undefined) checkSameVolumes(runDir, part, test);
    source = `${prepared.source} (the run's own ${part} split)`;
    splitRule = `${prepared.splitRule}; evaluated: its ${part} part`;
  }
  opts.log(`evaluating the runs of ${runDir} on ${test.slices.length} slices of ${source}`);
  const runs = await reevaluateRuns(runDir, record, test, config.batchSize);
  makeFolder(opts.outDir);
  writeExperimentRecord(opts.outDir, { ...record, config, kind: 'eval', evaluatedFrom: runDir, data });
  const evaluation = { dataset: opts.datasetName, slices: test.slices.length };
  const examples = await bestAndWorstExamples(runDir, runs, test, record.profile, config);
  const files = await writeReport(opts.outDir, {
    runs,
    profile: record.profile,
    config,
    examples,
    meta: {
      kind: 'eval',
      backend: started.name,
      data: `evaluated on ${evaluation.dataset} (${evaluation.slices} slices): ${source}`,
      split: splitRule,
      evaluation,
      seconds: (Date.now() - t0) / 1000,
      tfjsVersion: tf.version.tfjs,
    },
  });
  return { outDir: opts.outDir, runs, files, stopped: false, backend: started.name, seconds: (Date.now() - t0) / 1000 };
}

/**
 * The volumes of `part` as loaded now must be the ones the run recorded (manifest.json splitMembers,
 * where it has them): another `every` changes the slice counts the split balances, and a
 * re-evaluation on other volumes would be a new split under the old name.
 */
function checkSameVolumes(runDir: string, part: EvalPart, loaded: CtDataset): void {
  const recorded = readManifestSplit(runDir)?.[part].volumes;
  if (!recorded) return;
  const now = splitPart(loaded.slices).volumes;
  if (now.join() !== recorded.join()) {
    throw new UserError(`the ${part} volumes as loaded now (${now.join(', ')}) are not the run's (${recorded.join(', ')})`, { file: join(runDir, 'manifest.json') });
  }
}

function optionalSlices(slices: number | undefined): { slices?: number } {
  return slices === undefined ? {} : { slices };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
