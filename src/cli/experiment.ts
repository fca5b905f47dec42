import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { Argv, CommandModule } from 'yargs';
import { BACKEND_NAMES, type BackendName } from '../backend/names.js';
import { FITS, type Fit } from '../data/resize.js';
import { UserError } from '../errors.js';
import { layoutFamilyProblem, loadConfig, resolveConfig, type ExperimentConfig } from '../config/experiment-config.js';
import { DATASET_PRESETS, type DataSource, type DatasetPreset } from '../experiments/data.js';
import { readExperimentRecord } from '../experiments/record.js';
import { EXPERIMENT_KINDS, type ExperimentKind } from '../experiments/plan.js';
import { FIXED_FAMILIES } from '../runs/types.js';
import { loadProfile, studyProfile } from '../profile/load.js';
import { checkBudgets, optionalInteger, parseFamilies, parseHuWindow, parseInteger, parseIntegerList, parseList, parseNumberList, parseShardFlag, parseTolerance, refuseInapplicable, safeFolderName, terminalSafe } from './args.js';
import { readDesignerLayout } from '../layout-io/designer-layout.js';
import type { DesignerLayout } from '../experiments/plan.js';
import { loadCompute } from './compute.js';
import { printJson, timestamp } from './format.js';
import { dataFlagOptions, limitsFromFlags, type DataFlagArgs } from './data-flags.js';

/** Flags shared by train, study, sweep and demo. */
interface ExperimentArgs extends DataFlagArgs {
  profile?: string;
  config?: string;
  data?: string;
  synthetic?: boolean;
  'skip-bad'?: boolean;
  'test-volumes'?: string[];
  'validation-volumes'?: string[];
  'volume-starts'?: string[];
  every?: number;
  'hu-from-display'?: string;
  preset?: DatasetPreset;
  backend: BackendName;
  out?: string;
  seed?: number;
  seeds?: number;
  epochs?: number;
  size?: number;
  fit?: Fit;
  budgets?: string[];
  layout?: string;
  tolerance?: number;
  families?: string[];
  resume: boolean;
  overwrite: boolean;
  shard?: string;
  workers: number;
  threads: number;
  json: boolean;
}

function experimentOptions<T>(y: Argv<T>, kind: ExperimentKind): Argv<T & ExperimentArgs> {
  return dataFlagOptions(y)
    .option('profile', { type: 'string', describe: 'detector profile JSON (demo default: the study setup, 8-bit / 1-bit / 0.5)', demandOption: kind !== 'demo' })
    .option('config', { type: 'string', describe: 'experiment config JSON (training settings; defaults in the README)' })
    .option('data', { type: 'string', describe: 'folder of ct/ + covid/ PNG pairs (default: synthetic phantoms)' })
    .option('synthetic', { type: 'boolean', describe: 'use the embedded synthetic phantoms (the default)' })
    .option('skip-bad', { type: 'boolean', describe: 'skip unreadable or inconsistent files, report how many and why' })
    .option('test-volumes', { type: 'string', array: true, describe: 'volume ids held out for testing, separated by commas or spaces (default: a seeded share)' })
    .option('validation-volumes', { type: 'string', array: true, describe: 'volume ids held out for validation, e.g. one fold of a cross-validation (default: a seeded share of the rest)' })
    .option('volume-starts', { type: 'string', array: true, describe: 'first-slice indices of each volume in --data (sorted file order), separated by commas or spaces' })
    .option('every', { type: 'number', describe: 'keep every n-th slice of --data (file order) for quicker runs' })
    .option('hu-from-display', {
      type: 'string',
      describe:
        'detector space with display images (8-bit PNG): low,high HU that grey 0 and the top grey level stand for. An approximation: windowing and contrast enhancement cannot be undone',
    })
    .option('preset', { choices: Object.keys(DATASET_PRESETS), describe: 'a known dataset layout: volume starts and held-out volumes (covid-ct-20)' })
    .option('backend', { choices: BACKEND_NAMES, default: 'auto' as BackendName, describe: 'compute backend' })
    .option('out', { type: 'string', describe: `output folder (default: out/${kind}-<profile>-<time>, demo: out/demo)` })
    .option('seed', { type: 'number', describe: 'first seed (config seed)' })
    .option('seeds', { type: 'number', describe: 'trainings per configuration (config seeds)' })
    .option('epochs', { type: 'number', describe: 'epochs of every training (config epochs and baselineEpochs)' })
    .option('size', { type: 'number', describe: 'image size in pixels (config size)' })
    .option('fit', { choices: FITS, describe: 'other aspect ratios: stretch, pad (centred, image minimum) or crop (centre) (config fit)' })
    .option('budgets', { type: 'string', array: true, describe: 'budgets separated by commas or spaces (sweep default: the profile sweep; study default: the profile budget); not for train' })
    .option('layout', { type: 'string', describe: "a designer's layout (.ctql, or a .csv/.png map: 0/1 mask or kept bits per pixel), trained and evaluated as a fixed layout" })
    .option('tolerance', { type: 'number', describe: 'τ of the design decision: the most saving within this Dice of full precision, chosen on validation (default 0.02)' })
    .option('families', { type: 'string', array: true, describe: `fixed layout families next to the random control: ${FIXED_FAMILIES.join(', ')} or none (default: all); not for train` })
    .option('resume', { type: 'boolean', default: false, describe: 'continue the run in --out from its checkpoints (its settings must match)' })
    .option('overwrite', { type: 'boolean', default: false, describe: 'replace an earlier run in --out (without it, a folder holding a run is refused)' })
    .option('shard', { type: 'string', describe: 'run every n-th point only: i/n (1-based); join shards with ctquant merge' })
    .option('workers', {
      type: 'number',
      default: kind === 'demo' ? Math.min(2, availableParallelism()) : 1,
      describe: 'parallel worker processes (one per core on wasm)',
    })
    .option('threads', {
      type: 'number',
      default: 1,
      describe: 'wasm threads in one process (the threaded SIMD build; falls back to 1 if it cannot start); not with --workers > 1',
    }) as unknown as Argv<T & ExperimentArgs>;
}


function configFrom(args: ExperimentArgs, kind: ExperimentKind): ExperimentConfig {
  const base = args.config ? loadConfig(args.config) : resolveConfig(kind === 'demo' ? DEMO_OVERRIDES : {});
  const cfg: ExperimentConfig = { ...base };
  const epochs = optionalInteger('epochs', args.epochs, 1);
  if (epochs !== undefined) cfg.epochs = cfg.baselineEpochs = epochs;
  const seeds = optionalInteger('seeds', args.seeds, 1);
  if (seeds !== undefined) cfg.seeds = seeds;
  // The config schema's maximum: a 1024² step at batch 8 already holds about 16 GB on the CPU (experiments/memory.ts).
  const size = optionalInteger('size', args.size, 1, 1024);
  if (size !== undefined) cfg.size = size;
  const seed = optionalInteger('seed', args.seed, 0, 2 ** 32 - 1);
  if (seed !== undefined) cfg.seed = seed;
  if (args.fit !== undefined) cfg.fit = args.fit;
  if (cfg.size % 2 ** cfg.unet.depth !== 0)
    throw new UserError(`size ${cfg.size} must be divisible by 2^depth = ${2 ** cfg.unet.depth} (U-Net depth ${cfg.unet.depth})`);
  // --size may shrink the image below a configured tile.
  const layoutProblem = layoutFamilyProblem(cfg.layout, cfg.size);
  if (layoutProblem) throw new UserError(`--size ${cfg.size}: ${layoutProblem}`, args.config ? { file: args.config, pointer: '/layout' } : {});
  return cfg;
}

/**
 * The demo: the study and a short sweep at 64×64 in under 10 minutes on 2 cores. One seed (the
 * study and sweep commands default to three); the joint model and its random control train
 * 20 epochs, U-Nets without a layout 8.
 */
const DEMO_OVERRIDES = { epochs: 20, baselineEpochs: 8, seeds: 1 };
const DEMO_BUDGETS = '0.25,0.5,0.75';

/** `--layout FILE` read at the training size (a one-line UserError naming the file on any problem). */
async function designerLayoutFrom(file: string, profile: { nativeBits: number; modes: readonly number[] }, size: number): Promise<DesignerLayout> {
  const modes = [...profile.modes].sort((a, b) => b - a);
  const layout = await readDesignerLayout(file, { rows: size, cols: size, nativeBits: profile.nativeBits, modes });
  return { file, bits: Array.from(layout.bits) };
}

/** Every flag checked, in this order, before any file is written or tfjs is loaded. */
async function run(kind: ExperimentKind, args: ExperimentArgs): Promise<void> {
  refuseInapplicable(kind, args as unknown as Record<string, unknown>);
  if (args.resume && args.overwrite) throw new UserError('--resume and --overwrite exclude each other');
  const profile = args.profile ? loadProfile(args.profile) : studyProfile();
  const config = configFrom(args, kind);
  const budgetsGiven = args.budgets ?? (kind === 'demo' ? [DEMO_BUDGETS] : undefined);
  const budgets = budgetsGiven === undefined ? undefined : checkBudgets('budgets', parseNumberList('budgets', budgetsGiven), profile);
  const families = args.families !== undefined ? parseFamilies(args.families) : undefined;
  const tolerance = args.tolerance !== undefined ? parseTolerance(args.tolerance) : undefined;
  const designer = args.layout !== undefined ? await designerLayoutFrom(args.layout, profile, config.size) : undefined;
  if (args.data && args.synthetic) throw new UserError('--data and --synthetic exclude each other');
  const preset = args.preset ? DATASET_PRESETS[args.preset] : undefined;
  if (preset && !args.data) throw new UserError('--preset describes a --data folder: give --data too');
  if (!args.data && args['validation-volumes'] !== undefined) throw new UserError('--validation-volumes names volumes of a --data folder: give --data too');
  if (!args.data && (args.split || args['max-pixels'] !== undefined || args['max-voxels'] !== undefined || args.orient)) {
    throw new UserError('--split, --max-pixels, --max-voxels and --orient describe a --data folder: give --data too');
  }
  const data: DataSource = args.data
    ? {
        kind: 'folder',
        path: args.data,
        skipBad: args['skip-bad'] ?? false,
        testVolumes: args['test-volumes'] !== undefined ? parseList('test-volumes', args['test-volumes']) : preset ? [...preset.testVolumes] : undefined,
        ...(args['validation-volumes'] !== undefined ? { validationVolumes: parseList('validation-volumes', args['validation-volumes']) } : {}),
        volumeStarts: args['volume-starts'] !== undefined ? parseIntegerList('volume-starts', args['volume-starts']) : preset ? [...preset.volumeStarts] : undefined,
        every: optionalInteger('every', args.every, 1),
        ...(args.split ? { split: args.split } : {}),
        ...(args.orient && args.orient !== 'as-stored' ? { orient: args.orient } : {}),
        limits: limitsFromFlags(args),
        ...(args['hu-from-display'] !== undefined ? { huFromDisplay: parseHuWindow('hu-from-display', args['hu-from-display'], profile) } : {}),
      }
    : { kind: 'synthetic' };
  if (!args.data && args['hu-from-display'] !== undefined) throw new UserError('--hu-from-display describes a --data folder of display images: give --data too');
  if (args.resume && !args.out && kind !== 'demo') throw new UserError('--resume needs --out: the folder of the run to continue');
  // The profile's name is the user's text: sanitised, so "../x" cannot leave out/.
  const outDir = args.out ?? (kind === 'demo' ? join('out', 'demo') : join('out', `${kind}-${safeFolderName(profile.name)}-${timestamp()}`));
  const shard = args.shard !== undefined ? parseShardFlag(args.shard) : undefined;
  args.workers = parseInteger('workers', args.workers, 1, 1024);
  if (args.workers > 1 && shard) throw new UserError('--workers and --shard exclude each other (workers are shards of this machine)');
  args.threads = parseInteger('threads', args.threads, 1, 1024);
  if (args.threads > 1 && args.workers > 1) {
    throw new UserError('--threads > 1 and --workers > 1 exclude each other (workers are one single-threaded process per core): add --workers 1');
  }
  const log = (line: string) => process.stderr.write(`${terminalSafe(line)}\n`);
  const { runSession, stopExitCode } = await loadCompute();
  const outcome = await runSession({
    kind,
    profile,
    config,
    data,
    outDir,
    backend: args.backend,
    budgets,
    ...(families ? { families } : {}),
    ...(designer ? { designer } : {}),
    ...(tolerance !== undefined ? { tolerance } : {}),
    resume: args.resume,
    // The demo's default folder is the tool's own (npm start reruns it): replaced without asking.
    overwrite: args.overwrite || (kind === 'demo' && args.out === undefined),
    shard,
    workers: args.workers,
    threads: args.threads,
    plain: args.json || !process.stderr.isTTY,
    log,
  });
  if (outcome.stopped) process.exitCode = stopExitCode();
  const summary = {
    outDir: outcome.outDir,
    stopped: outcome.stopped,
    backend: outcome.backend,
    seconds: Math.round(outcome.seconds),
    runs: outcome.runs.map((r) => ({ id: r.id, dice: r.dice.mean, collapsed: r.collapsed })),
    files: outcome.files,
  };
  if (args.json) printJson(summary);
  else if (!outcome.stopped) {
    const collapsed = outcome.runs.filter((r) => r.collapsed);
    log('');
    log(`${outcome.runs.length} runs in ${summary.seconds} s on ${outcome.backend}; report: ${join(outcome.outDir, 'report.html')}`);
    if (collapsed.length) log(`WARNING: ${collapsed.length} run(s) collapsed to an empty prediction: ${collapsed.map((r) => r.id).join(', ')}`);
  }
}

function experimentCommand(kind: ExperimentKind, describe: string): CommandModule<object, ExperimentArgs> {
  return {
    command: kind,
    describe,
    builder: (y) => experimentOptions(y, kind),
    handler: (args) => run(kind, args),
  };
}

export const trainCommand = experimentCommand('train', 'One joint training of the trainable quantization layer and the U-Net at the profile budget');
export const studyCommand = experimentCommand(
  'study',
  'The published comparison: baseline, all pixels at each bit depth (fed to the baseline, and retrained), the trainable layer and a random control',
);
export const sweepCommand = experimentCommand('sweep', 'The trainable layer and the random control at each budget (--budgets, default: the profile sweep)');
export const demoCommand = experimentCommand('demo', 'What npm start runs: the study and a short sweep on synthetic phantoms, with a full report');

interface WorkerArgs {
  dir: string;
  shard: string;
}

/**
 * Internal (hidden from --help): one worker process of `--workers N`. It runs its shard of the
 * experiment recorded in <dir>/experiment.json, resuming from whatever is already there, and
 * writes runs only; the parent process writes the report.
 */
export const workerCommand: CommandModule<object, WorkerArgs> = {
  command: 'worker <dir>',
  describe: false,
  builder: (y) =>
    y
      .positional('dir', { type: 'string', demandOption: true })
      .option('shard', { type: 'string', demandOption: true }) as unknown as Argv<WorkerArgs>,
  handler: async (args) => {
    const record = readExperimentRecord(args.dir);
    const kind = record.kind as ExperimentKind;
    if (!EXPERIMENT_KINDS.includes(kind)) throw new UserError(`a worker runs ${EXPERIMENT_KINDS.join(', ')}, not ${record.kind}`, { file: join(args.dir, 'experiment.json') });
    const { runExperiment, stopExitCode } = await loadCompute();
    const outcome = await runExperiment({
      kind,
      profile: record.profile,
      config: record.config,
      data: record.data,
      outDir: args.dir,
      backend: record.backend ?? 'auto',
      budgets: record.budgets,
      ...(record.families ? { families: record.families } : {}),
      ...(record.designer ? { designer: record.designer } : {}),
      resume: true,
      shard: parseShardFlag(args.shard),
      workers: 1,
      isWorker: true,
      plain: true,
      log: (line: string) => process.stderr.write(`${terminalSafe(line)}\n`),
    });
    if (outcome.stopped) process.exitCode = stopExitCode();
  },
};
