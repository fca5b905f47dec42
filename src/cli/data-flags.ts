/**
 * Flags every data-taking command shares: how to split (`--split`), the size limits checked
 * from file headers before decoding (`--max-pixels`, `--max-voxels`) and what to do with the
 * orientation NIfTI / DICOM files record (`--orient`).
 */
import type { Argv } from 'yargs';
import { UserError } from '../errors.js';
import { DEFAULT_MAX_PIXELS, DEFAULT_MAX_VOXELS, type PixelLimits } from '../data/limits.js';
import { SPLIT_RULES, type SplitRule } from '../data/volumes.js';
import { ORIENT_MODES, type OrientMode } from '../data/orientation.js';

export interface DataFlagArgs {
  split?: SplitRule;
  'max-pixels'?: number;
  'max-voxels'?: number;
  orient?: OrientMode;
}

export function dataFlagOptions<T>(y: Argv<T>): Argv<T & DataFlagArgs> {
  return y
    .option('split', {
      choices: SPLIT_RULES,
      describe: 'volume: by patient (needs volume ids, the default); slice: each slice its own volume (patients may leak into test)',
    })
    .option('max-pixels', { type: 'number', describe: `most pixels per slice, checked from headers before decoding (default ${DEFAULT_MAX_PIXELS})` })
    .option('max-voxels', { type: 'number', describe: `most voxels per NIfTI volume, checked before inflating (default ${DEFAULT_MAX_VOXELS})` })
    .option('orient', {
      choices: ORIENT_MODES,
      describe: 'NIfTI / DICOM: as-stored (the default) or canonical: turn slices so columns run to the patient left and rows to posterior, by the orientation the files record',
    }) as unknown as Argv<
    T & DataFlagArgs
  >;
}

/** The limits the flags give (undefined keeps the defaults); a UserError on a value that is not a positive integer. */
export function limitsFromFlags(args: DataFlagArgs): PixelLimits {
  const check = (flag: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= 1)) throw new UserError(`--${flag}: expected a positive integer, got ${String(v)}`);
    return v;
  };
  return { maxPixels: check('max-pixels', args['max-pixels']), maxVoxels: check('max-voxels', args['max-voxels']) };
}
