import type { CommandModule } from 'yargs';
import { BACKEND_NAMES, type BackendName } from '../backend/names.js';
import { checkShards } from '../experiments/merge-check.js';
import { checkDerivedOut } from '../experiments/out-folder.js';
import { loadCompute } from './compute.js';
import { basename, join, resolve } from 'node:path';
import { printJson, timestamp } from './format.js';
import { dataFlagOptions, limitsFromFlags, type DataFlagArgs } from './data-flags.js';
import { optionalInteger, safeFolderName } from './args.js';
import { UserError } from '../errors.js';
import { FITS, type Fit } from '../data/resize.js';
import type { DataSource } from '../experiments/data.js';
import type { EvalPart } from '../pipeline/session.js';

const EVAL_PARTS: readonly EvalPart[] = ['test', 'validation'];

interface MergeArgs {
  dirs: string[];
  out: string;
  json: boolean;
}

const log = (line: string) => process.stderr.write(`${line}\n`);

export const mergeCommand: CommandModule<object, MergeArgs> = {
  command: 'merge <dirs...>',
  describe: 'Join the outputs of sweep shards (--shard i/n) into one set of tables and one report',
  builder: (y) =>
    y
      .positional('dirs', { type: 'string', array: true, demandOption: true, describe: 'shard output folders' })
      .option('out', { type: 'string', demandOption: true, describe: 'folder for the merged tables and report' }) as never,
  handler: async (args) => {
    checkShards(args.dirs, args.out);
    checkDerivedOut(args.out, 'merge');
    const { mergeSession } = await loadCompute();
    const r = await mergeSession(args.dirs, args.out, log);
    if (args.json) printJson({ outDir: r.outDir, runs: r.runs.length, files: r.files });
    else log(`${r.runs.length} runs merged; report: ${join(r.outDir, 'report.html')}`);
  },
};

interface EvalArgs extends DataFlagArgs {
  run: string;
  data?: string;
  'image-dir'?: string;
  'mask-dir'?: string;
  fit?: Fit;
  'skip-bad'?: boolean;
  part?: EvalPart;
  every?: number;
  out?: string;
  backend: BackendName;
  json: boolean;
}

export const evalCommand: CommandModule<object, EvalArgs> = {
  command: 'eval',
  describe: "Re-evaluate a saved run's models on other data (or on its own test split)",
  builder: (y) =>
    dataFlagOptions(y)
      .option('run', { type: 'string', demandOption: true, describe: 'output folder of a train / study / sweep' })
      .option('data', { type: 'string', describe: 'dataset folder (PNG pairs, NIfTI or DICOM); every slice is test data' })
      .option('image-dir', { type: 'string', describe: 'image sub-folder of --data (default ct)' })
      .option('mask-dir', { type: 'string', describe: 'mask sub-folder of --data (default covid)' })
      .option('fit', { choices: FITS, describe: "other aspect ratios: stretch, pad or crop (default: the run's config fit)" })
      .option('skip-bad', { type: 'boolean', describe: 'skip unreadable or inconsistent files' })
      .option('part', { choices: EVAL_PARTS, describe: "without --data: which part of the run's own split (default test)" })
      .option('every', { type: 'number', describe: "keep every n-th slice (default: as the run did; 1: every slice, e.g. more validation slices)" })
      .option('out', { type: 'string', describe: 'output folder (default: <run>/eval-<data set>-<time>)' })
      .option('backend', { choices: BACKEND_NAMES, default: 'auto' as BackendName }) as never,
  handler: async (args) => {
    if (!args.data && (args['image-dir'] !== undefined || args['mask-dir'] !== undefined || args['skip-bad'] !== undefined)) {
      throw new UserError('--image-dir, --mask-dir and --skip-bad describe a --data folder: give --data too');
    }
    if (args.data && args.part !== undefined) throw new UserError("--part picks a part of the run's own split: leave out --data");
    const every = optionalInteger('every', args.every, 1);
    const limits = limitsFromFlags(args);
    const limitsGiven = limits.maxPixels !== undefined || limits.maxVoxels !== undefined;
    const orient = args.orient && args.orient !== 'as-stored' ? { orient: args.orient } : {};
    const data: DataSource | undefined = args.data
      ? {
          kind: 'folder',
          path: args.data,
          skipBad: args['skip-bad'] ?? false,
          limits,
          ...(args.split ? { split: args.split } : {}),
          ...(args['image-dir'] !== undefined ? { imageDir: args['image-dir'] } : {}),
          ...(args['mask-dir'] !== undefined ? { maskDir: args['mask-dir'] } : {}),
          ...(every !== undefined ? { every } : {}),
          ...orient,
        }
      : undefined;
    // The folder and the report name the data set: the --data folder's name, or the part of the run's own split (and its thinning).
    const part = args.part ?? 'test';
    const thinned = every !== undefined ? `, every ${every === 1 ? 'slice' : `${every}th slice`}` : '';
    const datasetName = args.data ? basename(resolve(args.data)) : `its own ${part} split${thinned}`;
    const folderName = args.data ? safeFolderName(datasetName) : `own-${part}-split${every !== undefined ? `-every${every}` : ''}`;
    const outDir = args.out ?? join(args.run, `eval-${folderName}-${timestamp()}`);
    checkDerivedOut(outDir, 'eval');
    const { evalSession } = await loadCompute();
    const r = await evalSession(args.run, {
      data,
      datasetName,
      ...(args.fit ? { fit: args.fit } : {}),
      ...(args.data ? {} : {
        ownData: {
          ...(args.split ? { split: args.split } : {}), ...(limitsGiven ? { limits } : {}), ...orient,
          ...(every !== undefined ? { every } : {}), part,
        },
      }),
      outDir,
      backend: args.backend,
      log,
    });
    const empty = (x: (typeof r.runs)[number]) => `${(100 * x.dice.emptyPredictionShare).toFixed(0)}% empty predictions`;
    if (args.json) {
      printJson({
        outDir: r.outDir,
        dataset: datasetName,
        runs: r.runs.map((x) => ({ id: x.id, dice: x.dice.mean, emptyPredictionShare: x.dice.emptyPredictionShare, diceStochastic: x.diceStochastic?.mean ?? null, collapsedInTraining: x.collapsed })),
      });
    } else {
      for (const x of r.runs) log(`${x.id}: Dice ${x.dice.mean.toFixed(3)}, ${empty(x)}${x.collapsed ? ' (collapsed in training)' : ''}`);
      log(`report: ${join(r.outDir, 'report.html')}`);
    }
  },
};
