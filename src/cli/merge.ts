import type { CommandModule } from 'yargs';
import { BACKEND_NAMES, type BackendName } from '../backend/names.js';
import { checkShards } from '../experiments/merge-check.js';
import { loadCompute } from './compute.js';
import { join } from 'node:path';
import { printJson, timestamp } from './format.js';
import { limitsFromFlags, type DataFlagArgs } from './data-flags.js';

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
    const { mergeSession } = await loadCompute();
    const r = await mergeSession(args.dirs, args.out, log);
    if (args.json) printJson({ outDir: r.outDir, runs: r.runs.length, files: r.files });
    else log(`${r.runs.length} runs merged; report: ${join(r.outDir, 'report.html')}`);
  },
};

interface EvalArgs extends DataFlagArgs {
  run: string;
  data?: string;
  'skip-bad'?: boolean;
  out?: string;
  backend: BackendName;
  json: boolean;
}

export const evalCommand: CommandModule<object, EvalArgs> = {
  command: 'eval',
  describe: "Re-evaluate a saved run's models on other data (or on its own test split)",
  builder: (y) =>
    y
      .option('run', { type: 'string', demandOption: true, describe: 'output folder of a train / study / sweep' })
      .option('data', { type: 'string', describe: 'folder of ct/ + covid/ PNG pairs; every slice is test data' })
      .option('skip-bad', { type: 'boolean', describe: 'skip unreadable or inconsistent files' })
      .option('out', { type: 'string', describe: 'output folder (default: <run>/eval-<time>)' })
      .option('backend', { choices: BACKEND_NAMES, default: 'auto' as BackendName })
      .option('max-pixels', { type: 'number', describe: 'most pixels per slice, checked from headers before decoding' })
      .option('max-voxels', { type: 'number', describe: 'most voxels per NIfTI volume, checked before inflating' }) as never,
  handler: async (args) => {
    const { evalSession } = await loadCompute();
    const r = await evalSession(args.run, {
      data: args.data ? { kind: 'folder', path: args.data, skipBad: args['skip-bad'] ?? false, limits: limitsFromFlags(args) } : undefined,
      outDir: args.out ?? join(args.run, `eval-${timestamp()}`),
      backend: args.backend,
      log,
    });
    if (args.json) printJson({ outDir: r.outDir, runs: r.runs.map((x) => ({ id: x.id, dice: x.dice.mean, collapsed: x.collapsed })) });
    else for (const x of r.runs) log(`${x.id}: Dice ${x.dice.mean.toFixed(3)}${x.collapsed ? ' (collapsed)' : ''}`);
  },
};
