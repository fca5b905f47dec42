/**
 * Before shards are merged: each folder's experiment.json is well-formed, and all were made with
 * one detector (profile name, geometry, native bits, kept bits, quantizer rule, budget kind).
 * Anything else is refused with one line naming the folder and the field.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { readJsonFile } from '../util/json-file.js';
import type { ExperimentRecord } from './record.js';

/** Checks the fields merge and the report rely on; throws a UserError naming the file and pointer. */
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
  if (!isObj(value.config)) fail('/config', 'must be an object');
  return value as unknown as ExperimentRecord;
}

/** The record of one output folder, checked. */
export function readCheckedRecord(dir: string): ExperimentRecord {
  const file = join(dir, 'experiment.json');
  if (!existsSync(file)) throw new UserError('not a ctquant run folder (no experiment.json)', { file: dir });
  return checkExperimentRecord(readJsonFile(file, 'experiment record'), file);
}

/** What makes two shards one experiment's: the same detector and quantizer. */
function detectorOf(r: ExperimentRecord) {
  const p = r.profile;
  return { name: p.name, rows: p.rows, cols: p.cols, nativeBits: p.nativeBits, modes: p.modes, rule: p.rule, budgetKind: p.budget.kind };
}

/**
 * The first folder's record once every shard's is checked and describes the same detector;
 * refuses `out` equal to one of the shards (merging would write into its input).
 */
export function checkShards(dirs: readonly string[], out: string): ExperimentRecord {
  if (dirs.length === 0) throw new UserError('name at least one output folder to merge');
  const outPath = resolve(out);
  const same = dirs.find((d) => resolve(d) === outPath);
  if (same !== undefined) throw new UserError('--out is one of the shards being merged; name a new folder', { file: same });
  const records = dirs.map((d) => readCheckedRecord(d));
  const first = detectorOf(records[0]!);
  records.forEach((r, i) => {
    const here = detectorOf(r);
    for (const key of Object.keys(first) as (keyof typeof first)[]) {
      const [was, now] = [JSON.stringify(first[key]), JSON.stringify(here[key])];
      if (was !== now) {
        throw new UserError(`shard made with another detector: ${key} is ${now} here, ${was} in ${dirs[0]}; refusing to merge`, {
          file: join(dirs[i]!, 'experiment.json'),
        });
      }
    }
  });
  return records[0]!;
}
