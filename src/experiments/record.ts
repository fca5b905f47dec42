import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendName } from '../backend/index.js';
import { recordedConfigProblems, type ExperimentConfig } from '../config/experiment-config.js';
import { UserError } from '../errors.js';
import type { DetectorProfile } from '../profile/types.js';
import { readJsonFile, writeJsonAtomic } from '../util/json-file.js';
import type { DataSource } from './data.js';
import type { FixedFamily } from '../runs/types.js';
import type { DesignerLayout } from './plan.js';

/**
 * What a run folder records about how it was made (experiment.json): eval and merge rebuild its
 * models from it, and worker processes read their whole task from it (no flags passed on).
 */
export interface ExperimentRecord {
  kind: string;
  profile: DetectorProfile;
  config: ExperimentConfig;
  data: DataSource;
  /** Sweep budgets asked for on the command line (absent: the profile's). */
  budgets?: number[];
  /** Fixed layout families asked for with `--families` (absent: all). */
  families?: FixedFamily[];
  /** A designer's layout (`--layout FILE`) at the training size (absent: none). */
  designer?: DesignerLayout;
  /** τ of the design decision (`--tolerance`; absent: 0.02). */
  tolerance?: number;
  /** The backend asked for (may be `auto`). */
  backend?: BackendName;
  /** The rules `layoutTraining.prior: auto` was resolved by (LAYOUT_PRIOR_RULES; absent: 1). */
  layoutPriorRules?: number;
  createdAt: string;
}

const recordFile = (dir: string) => join(dir, 'experiment.json');

/** The record of one output folder, checked (checkExperimentRecord). */
export function readExperimentRecord(dir: string): ExperimentRecord {
  const file = recordFile(dir);
  if (!existsSync(file)) throw new UserError('not a ctquant run folder (no experiment.json)', { file: dir });
  return checkExperimentRecord(readJsonFile(file, 'experiment record'), file);
}

/**
 * Checks the fields eval, merge, workers and the report rely on: the detector, the config (the
 * schema's types and ranges) and the data source; throws a UserError naming the file and pointer.
 */
export function checkExperimentRecord(value: unknown, file: string): ExperimentRecord {
  const fail = (pointer: string, msg: string): never => {
    throw new UserError(msg, { file, pointer });
  };
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  const isInt = (x: unknown) => typeof x === 'number' && Number.isInteger(x) && x >= 1;
  if (!isObj(value)) return fail('', 'an experiment record must be a JSON object');
  if (typeof value.kind !== 'string') fail('/kind', 'must be a string');
  const p = value.profile;
  if (!isObj(p)) return fail('/profile', 'must be an object (the detector profile)');
  if (typeof p.name !== 'string') fail('/profile/name', 'must be a string');
  for (const k of ['rows', 'cols', 'nativeBits'] as const) if (!isInt(p[k])) fail(`/profile/${k}`, 'must be a positive integer');
  if (!Array.isArray(p.modes) || p.modes.length === 0 || !p.modes.every(isInt)) fail('/profile/modes', 'must be a non-empty list of kept bits');
  if (typeof p.rule !== 'string') fail('/profile/rule', 'must be a string');
  const b = p.budget;
  if (!isObj(b) || (b.kind !== 'fraction' && b.kind !== 'bitsPerPixel') || typeof b.value !== 'number') fail('/profile/budget', 'must be {kind, value}');
  if (p.rule !== 'floor' && p.rule !== 'midrise') fail('/profile/rule', 'must be "floor" or "midrise"');
  if ((p.nativeBits as number) > 32 || (p.modes as number[]).some((m) => m >= (p.nativeBits as number))) fail('/profile/modes', 'must be kept bits below nativeBits (at most 32)');
  if (!isObj(value.config)) fail('/config', 'must be an object');
  // A hand-edited or damaged config would otherwise surface as a TypeError deep in model building.
  const problem = recordedConfigProblems(value.config)[0];
  if (problem) fail(`/config${problem.pointer === '/' ? '' : problem.pointer}`, problem.message);
  checkDataSource(value.data, fail);
  return value as unknown as ExperimentRecord;
}

/** The `data` of a record: synthetic, or a folder with the loader's options of the right types. */
function checkDataSource(data: unknown, fail: (pointer: string, msg: string) => never): void {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return fail('/data', 'must be an object (the data source)');
  const d = data as Record<string, unknown>;
  if (d.kind === 'synthetic') return;
  if (d.kind !== 'folder') return fail('/data/kind', 'must be "synthetic" or "folder"');
  const strings = (x: unknown) => Array.isArray(x) && x.every((e) => typeof e === 'string');
  const optional = (k: string, ok: (x: unknown) => boolean, what: string) => {
    if (d[k] !== undefined && !ok(d[k])) fail(`/data/${k}`, `must be ${what}`);
  };
  if (typeof d.path !== 'string' || d.path === '') fail('/data/path', 'must be a non-empty string');
  optional('skipBad', (x) => typeof x === 'boolean', 'true or false');
  optional('testVolumes', strings, 'a list of volume ids');
  optional('validationVolumes', strings, 'a list of volume ids');
  optional('volumeStarts', (x) => Array.isArray(x) && x.every((e) => Number.isInteger(e) && (e as number) >= 0), 'a list of slice indices');
  optional('every', (x) => Number.isInteger(x) && (x as number) >= 1, 'a positive integer');
  optional('split', (x) => x === 'volume' || x === 'slice', '"volume" or "slice"');
  optional('orient', (x) => x === 'as-stored' || x === 'canonical', '"as-stored" or "canonical"');
  optional('imageDir', (x) => typeof x === 'string', 'a string');
  optional('maskDir', (x) => typeof x === 'string', 'a string');
  optional('limits', (x) => typeof x === 'object' && x !== null && Object.values(x).every((n) => Number.isInteger(n) && (n as number) >= 1), 'an object of positive integers');
  optional('huFromDisplay', (x) => typeof x === 'object' && x !== null && Number.isFinite((x as { lowHu?: unknown }).lowHu) && Number.isFinite((x as { highHu?: unknown }).highHu), '{ lowHu, highHu }');
}

/** Writes `<dir>/experiment.json` atomically; merge and eval add fields naming their sources. */
export function writeExperimentRecord(dir: string, record: ExperimentRecord & Record<string, unknown>): void {
  writeJsonAtomic(recordFile(dir), record);
}
