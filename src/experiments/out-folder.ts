/**
 * Guarding an output folder before a run starts: an earlier run is never deleted unless asked
 * (--overwrite), a --resume must use the settings the folder was made with, and temp files left
 * by interrupted atomic writes are removed.
 */
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { readJsonFile } from '../util/json-file.js';

/** The temp-file name src/util/atomic.ts writes: `.<name>.<pid>.<counter>.tmp`. */
const ATOMIC_TEMP = /^\..+\.(\d+)\.\d+\.tmp$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temp files of interrupted atomic writes in `dir` and its runs/ and checkpoints/
 * folders, except those of a process still running (a worker writing now). Returns their paths.
 */
export function removeStaleTemps(dir: string): string[] {
  const removed: string[] = [];
  for (const sub of [dir, join(dir, 'runs'), join(dir, 'checkpoints')]) {
    let names: string[];
    try {
      names = readdirSync(sub);
    } catch {
      continue;
    }
    for (const name of names) {
      const m = ATOMIC_TEMP.exec(name);
      if (!m || (Number(m[1]) !== process.pid && processAlive(Number(m[1])))) continue;
      rmSync(join(sub, name), { force: true });
      removed.push(join(sub, name));
    }
  }
  return removed;
}

/** Whether `dir` holds (part of) an earlier run: its record, run files or checkpoints. */
export function holdsRun(dir: string): boolean {
  if (existsSync(join(dir, 'experiment.json'))) return true;
  return ['runs', 'checkpoints'].some((sub) => {
    try {
      return statSync(join(dir, sub)).isDirectory() && readdirSync(join(dir, sub)).some((n) => !n.startsWith('.'));
    } catch {
      return false;
    }
  });
}

export interface Difference {
  path: string;
  was: unknown;
  now: unknown;
}

/** Every leaf where two JSON values differ, as dotted paths (`config.epochs`), in key order; empty when equal. */
export function differences(a: unknown, b: unknown, path = ''): Difference[] {
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
  if (isObj(a) && isObj(b) && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => differences(a[k], b[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ path, was: a, now: b }];
}

/** What a run's settings are, for comparing a --resume with the folder's experiment.json. */
export interface RunSettings {
  kind: string;
  profile: object;
  config: object;
  data: object;
  /** A designer's layout (`--layout`): its runs keep one id, so a resume must not swap the layout under them. */
  designer?: { file: string; bits: number[] };
}

/**
 * The comparable part: what decides a run's numbers (profile, config, data, a designer's layout). The
 * profile's (and a layout's) file path may differ between two command lines for the same file, and
 * the kind may differ: a study and a sweep plan runs of the same ids, so one folder can be filled by
 * a study, then a sweep with more seeds or budgets (RESULTS.md does so), each reusing finished runs.
 */
function comparable(s: RunSettings): unknown {
  const { file: _file, ...profile } = s.profile as { file?: string };
  const layout = s.designer ? { designerLayout: s.designer.bits } : {};
  return JSON.parse(JSON.stringify({ profile, config: withoutUnusedPriorShape(withoutLateDefaults(s.config), profile), data: s.data, ...layout }));
}

/**
 * `layoutTraining.priorShape` shapes a content or lesion prior only: where the prior is none or
 * uniform (or auto resolves to them: several reduced modes, or detector space) no run depends on
 * it, so a folder recorded before the field existed resumes whatever it says now. The rule is
 * run-point.ts layoutPriorFor's, read leniently: that one refuses combinations a recorded folder
 * cannot hold, and a comparison must not throw.
 */
function withoutUnusedPriorShape(config: object, profile: object): object {
  const training = (config as { layoutTraining?: { prior?: string; priorShape?: string } }).layoutTraining;
  if (!training || training.priorShape === undefined) return config;
  const { modes = [], detector } = profile as { modes?: unknown[]; detector?: unknown };
  const prior = training.prior ?? 'none';
  const ranksPixels = prior === 'content' || prior === 'lesion' || (prior === 'auto' && modes.length < 2 && detector === undefined);
  if (ranksPixels) return config;
  const { priorShape: _unused, ...rest } = training;
  return { ...config, layoutTraining: rest };
}

/**
 * Options added after folders were recorded, with the default that trains as those folders did:
 * a recorded config lacks them, so their default is left out of the comparison and --resume still
 * matches (any other value is a difference, named as usual).
 */
const LATE_DEFAULTS: ReadonlyArray<{ section: string; field: string; value: unknown }> = [
  { section: 'context', field: 'network', value: '2.5d' },
  { section: 'layoutTraining', field: 'prior', value: 'none' },
  { section: 'layoutTraining', field: 'priorShape', value: 'ranked' },
];

/** The config without the late options that hold their default (LATE_DEFAULTS). */
function withoutLateDefaults(config: object): object {
  const out: Record<string, unknown> = { ...config };
  for (const { section, field, value } of LATE_DEFAULTS) {
    const part = out[section] as Record<string, unknown> | undefined;
    if (!part || part[field] !== value) continue;
    const rest = { ...part };
    delete rest[field];
    out[section] = rest;
  }
  return out;
}

/**
 * Where two shards' configs differ in what decides a run's numbers: every field but `seed` and
 * `seeds` (a later sweep with more seeds is merged with the first), the late options at their
 * default left out as for --resume.
 */
export function shardConfigDifferences(a: object, b: object): Difference[] {
  const strip = (c: object) => {
    const { seed: _seed, seeds: _seeds, ...rest } = withoutLateDefaults(c) as Record<string, unknown>;
    return JSON.parse(JSON.stringify(rest)) as unknown;
  };
  return differences(strip(a), strip(b));
}

/** experiment.json as read back: the settings and the rules its `prior: auto` was resolved by. */
type RecordedSettings = RunSettings & { layoutPriorRules?: number };

/**
 * A folder recorded under layout-prior rules 1 (LAYOUT_PRIOR_RULES) with `prior: auto` and a
 * multi-level profile trained its multi-level runs without a prior: compare it as `none`, so a
 * resume with today's `auto` (the uniform prior) is refused naming the field instead of mixing two
 * starts in one folder, and `"prior": "none"` continues it.
 */
function withRecordedPrior(saved: RecordedSettings): RunSettings {
  const config = saved.config as { layoutTraining?: { prior?: string } };
  const modes = (saved.profile as { modes?: unknown[] }).modes ?? [];
  if ((saved.layoutPriorRules ?? 1) >= 2 || config.layoutTraining?.prior !== 'auto' || modes.length < 2) return saved;
  return { ...saved, config: { ...config, layoutTraining: { ...config.layoutTraining, prior: 'none' } } };
}

/**
 * Before a run writes anything into `dir`: cleans stale temp files; refuses a fresh run into a
 * folder holding an earlier one unless `overwrite` (then removes its runs and checkpoints);
 * refuses a resume whose settings differ from the folder's experiment.json, naming the field.
 */
export function prepareOutFolder(dir: string, opts: { resume: boolean; overwrite: boolean; settings: RunSettings }): void {
  refuseNonFolder(dir);
  removeStaleTemps(dir);
  if (!opts.resume) {
    if (holdsRun(dir) && !opts.overwrite) {
      throw new UserError('holds an earlier run: continue it with --resume, or replace it with --overwrite', { file: dir });
    }
    // A fresh run must not pick up results or checkpoints of an earlier one in the same folder.
    for (const sub of ['runs', 'checkpoints']) rmSync(join(dir, sub), { recursive: true, force: true });
    return;
  }
  const file = join(dir, 'experiment.json');
  if (!existsSync(file)) return;
  const saved = readJsonFile(file, 'experiment record');
  if (typeof saved !== 'object' || saved === null || Array.isArray(saved)) throw new UserError('experiment record is not a JSON object', { file });
  const diffs = differences(comparable(withRecordedPrior(saved as RecordedSettings)), comparable(opts.settings));
  if (diffs.length) {
    const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));
    const listed = diffs.slice(0, 3).map((d) => `${d.path} was ${show(d.was)}, now ${show(d.now)}`).join('; ');
    const more = diffs.length > 3 ? ` (and ${diffs.length - 3} more)` : '';
    throw new UserError(`--resume with other settings: ${listed}${more}; resume with the same flags, or start afresh with --overwrite`, { file });
  }
}

/** An existing path that is not a folder cannot hold an output (clearing runs/ inside it would fail with a stack). */
function refuseNonFolder(dir: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UserError('output folder is a file; name a folder', { file: dir });
}

/**
 * eval and merge write experiment.json and the report into `dir`: never into a folder holding a
 * run (its record and report would be replaced, the run no longer described by them). An earlier
 * output of the same command (its record names its sources: `evaluatedFrom`, `mergedFrom`) holds
 * nothing that is not derived again, so it may be written anew.
 */
export function checkDerivedOut(dir: string, command: 'eval' | 'merge'): void {
  refuseNonFolder(dir);
  if (!existsSync(dir) || !holdsRun(dir)) return;
  const file = join(dir, 'experiment.json');
  const saved = existsSync(file) ? readJsonFile(file, 'experiment record') : null;
  const mark = command === 'eval' ? 'evaluatedFrom' : 'mergedFrom';
  if (typeof saved === 'object' && saved !== null && mark in saved) return;
  throw new UserError(`holds a run: ${command} would replace its experiment.json and report; name a new --out folder`, { file: dir });
}
