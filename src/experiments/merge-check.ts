/**
 * Before shards are merged: each folder's experiment.json is well-formed, and all were made with
 * one detector (profile name, geometry, native bits, kept bits, quantizer rule, budget kind) and
 * one config (seeds aside).
 * Anything else is refused with one line naming the folder and the field.
 */
import { join, resolve } from 'node:path';
import { UserError } from '../errors.js';
import { readExperimentRecord, type ExperimentRecord } from './record.js';
import { shardConfigDifferences } from './out-folder.js';

export { checkExperimentRecord } from './record.js';

/** The record of one output folder, checked. */
export function readCheckedRecord(dir: string): ExperimentRecord {
  return readExperimentRecord(dir);
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
    // One report states one config: shards trained with another (epochs, U-Net, layout family) are not one experiment.
    const diff = shardConfigDifferences(records[0]!.config, r.config)[0];
    if (diff) {
      const show = (v: unknown) => (v === undefined ? 'nothing' : JSON.stringify(v));
      throw new UserError(`shard made with another config: ${diff.path} is ${show(diff.now)} here, ${show(diff.was)} in ${dirs[0]}; refusing to merge`, {
        file: join(dirs[i]!, 'experiment.json'),
      });
    }
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
