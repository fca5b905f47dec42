/**
 * The run store: the one place that names, writes, reads and validates `runs/<id>.json` inside an
 * output folder, and merges the run lists of several folders (sharded sweeps). A run found twice
 * with identical content is kept once; the same id with different content is an error, as is a
 * file that is not a well-formed RunResult (empty, truncated or hand-edited files included).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SETUPS, hasBudget, type RunResult, type Setup } from './types.js';
import { UserError } from '../errors.js';
import { readJsonFile } from '../util/json-file.js';
import { writeFileAtomic } from '../util/atomic.js';

/** The folder of an output folder's run files. */
export const runsFolder = (outDir: string) => join(outDir, 'runs');

/** The file name a run is stored under inside an output folder, relative to it. */
export function runFileName(id: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(id) || id.startsWith('.')) throw new UserError(`run id ${JSON.stringify(id)} is not a safe file name`);
  return `runs/${id}.json`;
}

/** Where a run of `outDir` is stored. */
export const runFile = (outDir: string, id: string) => join(outDir, runFileName(id));

/** Writes a run as `<outDir>/runs/<id>.json` (atomically, the one format: 1-space indented JSON); returns the relative path. */
export function writeRun(outDir: string, run: RunResult): string {
  const rel = runFileName(run.id);
  writeFileAtomic(join(outDir, rel), `${JSON.stringify(run, null, 1)}\n`);
  return rel;
}

/** Reads and validates one run file; every problem (missing, empty, truncated, wrong shape) is a UserError naming the file. */
export function readRunFile(file: string): RunResult {
  const run = checkRunResult(readJsonFile(file, 'run result'), file);
  if (`${run.id}.json` !== basename(file)) throw new UserError(`file name does not match the run id ${JSON.stringify(run.id)}`, { file });
  return run;
}

/** The stored runs with these ids in `outDir`, or null unless every one of them is there. */
export function readRunsIfAll(outDir: string, ids: readonly string[]): RunResult[] | null {
  if (!ids.every((id) => existsSync(runFile(outDir, id)))) return null;
  return ids.map((id) => readRunFile(runFile(outDir, id)));
}

/** Checks that parsed JSON is a RunResult (the fields tables rely on); throws UserError naming the file and field. */
export function checkRunResult(value: unknown, file: string): RunResult {
  const fail = (pointer: string, msg: string): never => {
    throw new UserError(msg, { file, pointer });
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('', 'a run must be a JSON object');
  const v = value as Record<string, unknown>;
  const isNum = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
  const numArray = (x: unknown) => Array.isArray(x) && x.every(isNum);
  if (typeof v.id !== 'string' || v.id === '') fail('/id', 'must be a non-empty string');
  if (!SETUPS.includes(v.setup as Setup)) fail('/setup', `must be one of ${SETUPS.join(', ')}`);
  for (const k of ['seed', 'bitsPerPixel', 'nativeBits', 'rows', 'cols', 'trainSeconds'] as const) {
    if (!isNum(v[k])) fail(`/${k}`, 'must be a number');
  }
  for (const k of ['keptBits', 'budget'] as const) if (v[k] !== undefined && !isNum(v[k])) fail(`/${k}`, 'must be a number');
  // What eval rebuilds a model from and the report draws a layout with: a stack trace otherwise.
  const isInt = (x: unknown, min: number) => Number.isInteger(x) && (x as number) >= min;
  if (!isInt(v.seed, 0)) fail('/seed', 'must be an integer ≥ 0');
  if (!isInt(v.nativeBits, 2) || (v.nativeBits as number) > 32) fail('/nativeBits', 'must be an integer 2..32');
  for (const k of ['rows', 'cols'] as const) if (!isInt(v[k], 1)) fail(`/${k}`, 'must be a positive integer');
  if (v.keptBits !== undefined && !(isInt(v.keptBits, 1) && (v.keptBits as number) < (v.nativeBits as number))) fail('/keptBits', `must be an integer 1..${(v.nativeBits as number) - 1} (below nativeBits)`);
  if (hasBudget(v.setup as Setup) && v.budget === undefined) fail('/budget', `is missing: a ${v.setup as string} run trains at a budget`);
  // Read by eval for the examples: a path out of the folder (or onto a FIFO) must not be followed.
  if (v.checkpoint !== undefined && !(typeof v.checkpoint === 'string' && /^checkpoints\/[A-Za-z0-9._-]+\.ckpt$/.test(v.checkpoint))) {
    fail('/checkpoint', 'must be checkpoints/<id>.ckpt inside the output folder');
  }
  if (typeof v.collapsed !== 'boolean') fail('/collapsed', 'must be true or false');
  if (typeof v.backend !== 'string') fail('/backend', 'must be a string');
  for (const k of ['dice', 'diceStochastic'] as const) {
    if (k === 'diceStochastic' && v[k] === undefined) continue;
    const d = v[k] as Record<string, unknown> | undefined;
    if (typeof d !== 'object' || d === null) fail(`/${k}`, 'must be an object');
    if (!numArray(d!.perImage)) fail(`/${k}/perImage`, 'must be an array of numbers');
    for (const f of ['mean', 'pooled', 'emptyPredictionShare']) if (!isNum(d![f])) fail(`/${k}/${f}`, 'must be a number');
    // The paired intervals and the per-patient table read perImage; the headline tables read mean.
    // An empty list or one that disagrees with its mean is a damaged record: the two would tell different stories.
    const perImage = d!.perImage as number[];
    if (perImage.length === 0) fail(`/${k}/perImage`, 'is empty: a run is evaluated on at least one image');
    const recomputed = perImage.reduce((a, b) => a + b, 0) / perImage.length;
    if (Math.abs(recomputed - (d!.mean as number)) > 1e-9) fail(`/${k}/mean`, `is ${d!.mean as number}, but perImage averages ${recomputed}`);
  }
  if (v.diceVolume !== undefined) {
    const d = v.diceVolume as Record<string, unknown>;
    if (typeof d !== 'object' || d === null) fail('/diceVolume', 'must be an object');
    if (!isNum(d.mean)) fail('/diceVolume/mean', 'must be a number');
    const perVolume = d.perVolume;
    if (!Array.isArray(perVolume) || !perVolume.every((e) => typeof e === 'object' && e !== null && typeof e.id === 'string' && isNum(e.dice))) {
      fail('/diceVolume/perVolume', 'must be a list of { id, dice }');
    }
  }
  if (!Array.isArray(v.history)) fail('/history', 'must be an array');
  (v.history as unknown[]).forEach((h, i) => {
    const e = h as Record<string, unknown>;
    if (typeof e !== 'object' || e === null || !isNum(e.epoch) || !isNum(e.loss)) fail(`/history/${i}`, 'needs numeric epoch and loss');
  });
  if (v.keptEpoch !== undefined && !(Number.isInteger(v.keptEpoch) && (v.keptEpoch as number) >= 1 && (v.keptEpoch as number) <= (v.history as unknown[]).length)) {
    fail('/keptEpoch', `must be an epoch of the history (1..${(v.history as unknown[]).length})`);
  }
  const cells = (v.rows as number) * (v.cols as number);
  for (const k of ['probabilityMap', 'hardwareLayout', 'bitsMap'] as const) {
    if (v[k] === undefined) continue;
    if (!numArray(v[k])) fail(`/${k}`, 'must be an array of numbers');
    if ((v[k] as number[]).length !== cells) fail(`/${k}`, `has ${(v[k] as number[]).length} values, expected rows×cols = ${cells}`);
  }
  return value as RunResult;
}

/** Every runs/*.json of one output folder, sorted by id; a folder without runs/ is a UserError. */
export function readRuns(dir: string): Array<{ run: RunResult; file: string }> {
  const runsDir = runsFolder(dir);
  let names: string[];
  try {
    if (!statSync(runsDir).isDirectory()) throw new Error('not a folder');
    names = readdirSync(runsDir);
  } catch {
    throw new UserError('no runs/ folder here (is this a ctquant output folder?)', { file: dir });
  }
  return names
    .filter((n) => n.endsWith('.json') && !n.startsWith('.'))
    .sort()
    .map((n) => {
      const file = join(runsDir, n);
      return { run: readRunFile(file), file };
    });
}

/** Every run stored in `outDir` (none when it has no runs/ folder yet), sorted by id. */
export function readStoredRuns(outDir: string): RunResult[] {
  return existsSync(runsFolder(outDir)) ? mergeRuns([outDir]) : [];
}

/** JSON with object keys sorted, so equal content compares equal whatever the key order. */
function canonical(x: unknown): string {
  return JSON.stringify(x, (_k, val: unknown) =>
    val && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : val,
  );
}

/** The runs of several output folders, concatenated and deduplicated; sorted by id. */
export function mergeRuns(dirs: readonly string[]): RunResult[] {
  if (dirs.length === 0) throw new UserError('name at least one output folder to merge');
  const byId = new Map<string, { run: RunResult; file: string; text: string }>();
  for (const dir of dirs) {
    for (const { run, file } of readRuns(dir)) {
      const text = canonical(run);
      const seen = byId.get(run.id);
      if (!seen) byId.set(run.id, { run, file, text });
      else if (seen.text !== text) {
        throw new UserError(`run ${JSON.stringify(run.id)} also in ${seen.file} with different content; refusing to merge`, { file });
      }
    }
  }
  return [...byId.values()].map((e) => e.run).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
