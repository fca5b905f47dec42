/**
 * Volume (patient) ids for slices loaded from a flat folder of PNG pairs. The first rule that
 * applies wins:
 *  1. explicit `volumeStarts` (e.g. `--volume-starts 0,159,279`): indices into the sorted list of
 *     image files where a new volume begins; volume k is named `v<k>` (two digits at least);
 *  2. `volumes.json` in the dataset folder (or a `volumesFile` given): `{ "volumes": { "<file
 *     stem>": "<volume id>" } }` or `{ "starts": [..] }` (rule 1's list); it may also carry
 *     `"nativeBits"`, the detector depth that 16-bit PNG samples hold (the synth writer writes it);
 *  3. `volumes.csv` in the folder: a header `file,volume`, then one `<file stem>,<volume id>` a line;
 *  4. file names `<volume>_<slice>.png`: the part before the last `_` (when every name has one);
 *  5. otherwise the folder is refused (a split slice by slice puts one patient's slices on both
 *     sides of it), unless the user asks for that explicitly with `split: 'slice'` (`--split
 *     slice`): then every slice is its own volume, and the rule says so.
 */
import { lstatSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { readRegularFile } from '../util/fs-safe.js';

/** How train / validation / test are cut: by volume (patient; the default) or, asked for explicitly, slice by slice. */
export type SplitRule = 'volume' | 'slice';
export const SPLIT_RULES: readonly SplitRule[] = ['volume', 'slice'];

/** The rule recorded when a split is slice by slice: patients may be on both sides. */
export const SLICE_SPLIT_RULE = 'slice by slice (--split slice): each slice is its own volume, so one patient may be in training and test';

/** Does anything (even a dangling link or a FIFO) exist at path? The reader then says what is wrong with it. */
function present(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** covid-ct-20 (see its README): approximate first slice index of each of its 19 volumes. */
export const COVID_CT_20_VOLUME_STARTS: readonly number[] = Object.freeze([
  0, 159, 279, 397, 510, 626, 696, 789, 970, 1081, 1247, 1258, 1376, 1443, 1474, 1486, 1511, 1565, 1587,
]);
/** covid-ct-20's suggested held-out volumes (slices 159-278, 696-788, 1258-1375, 1511-1564) under rule 1's names. */
export const COVID_CT_20_TEST_VOLUMES: readonly string[] = Object.freeze(['v01', 'v06', 'v11', 'v16']);
/**
 * covid-ct-20's second source (radiopaedia, many scanners): the volumes from slice 1247 on, where
 * bench/covid-sources.ts finds the change point of field of view, noise and histogram; v00-v09 are
 * the first source (coronacases, one site).
 */
export const COVID_CT_20_RADIOPAEDIA_VOLUMES: readonly string[] = Object.freeze(['v10', 'v11', 'v12', 'v13', 'v14', 'v15', 'v16', 'v17', 'v18']);

export interface VolumesFile {
  nativeBits?: number;
  starts?: number[];
  volumes?: Record<string, string>;
}

/** Name of volume k under a starts list: v00, v01, … */
export function startsVolumeName(k: number, count: number): string {
  return `v${String(k).padStart(Math.max(2, String(count - 1).length), '0')}`;
}

/** Checks a volume-starts list: non-negative integers, strictly increasing, beginning at 0. */
export function checkVolumeStarts(starts: number[], file?: string): void {
  const bad = starts.find((s, i) => !Number.isInteger(s) || s < 0 || (i > 0 && s <= starts[i - 1]!));
  if (bad !== undefined || starts.length === 0 || starts[0] !== 0) {
    throw new UserError(`volume starts must be increasing non-negative integers beginning at 0, got [${starts.join(', ')}]`, { file });
  }
}

/** Reads and checks a volumes.json file. */
export function readVolumesJson(path: string): VolumesFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readRegularFile(path, 'volumes file', 64 * 2 ** 20).toString('utf8'));
  } catch (e) {
    if (e instanceof UserError) throw e;
    throw new UserError(`not valid JSON (${e instanceof Error ? e.message : String(e)})`, { file: path });
  }
  if (Array.isArray(parsed)) parsed = { starts: parsed };
  if (parsed === null || typeof parsed !== 'object') throw new UserError('expected an object with "volumes" or "starts"', { file: path });
  const o = parsed as Record<string, unknown>;
  const out: VolumesFile = {};
  if (o.nativeBits !== undefined) {
    if (!Number.isInteger(o.nativeBits) || (o.nativeBits as number) < 1 || (o.nativeBits as number) > 16) {
      throw new UserError('nativeBits must be an integer 1..16', { file: path, pointer: '/nativeBits' });
    }
    out.nativeBits = o.nativeBits as number;
  }
  if (o.starts !== undefined) {
    if (!Array.isArray(o.starts)) throw new UserError('"starts" must be a list of slice indices', { file: path, pointer: '/starts' });
    checkVolumeStarts(o.starts as number[], path);
    out.starts = o.starts as number[];
  }
  if (o.volumes !== undefined) {
    if (o.volumes === null || typeof o.volumes !== 'object' || Array.isArray(o.volumes)) {
      throw new UserError('"volumes" must map file stems to volume ids', { file: path, pointer: '/volumes' });
    }
    for (const [k, v] of Object.entries(o.volumes)) {
      if (typeof v !== 'string' || v === '') throw new UserError('volume id must be a non-empty string', { file: path, pointer: `/volumes/${k}` });
    }
    out.volumes = o.volumes as Record<string, string>;
  }
  return out;
}

function readVolumesCsv(path: string): Record<string, string> {
  const lines = readRegularFile(path, 'volumes file', 64 * 2 ** 20).toString('utf8').split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = lines.shift()?.split(',').map((s) => s.trim().toLowerCase());
  if (!header || header[0] !== 'file' || header[1] !== 'volume') throw new UserError('expected a header line "file,volume"', { file: path });
  const out: Record<string, string> = {};
  lines.forEach((line, i) => {
    const [file, volume] = line.split(',').map((s) => s.trim());
    if (!file || !volume) throw new UserError(`line ${i + 2}: expected "<file stem>,<volume id>"`, { file: path });
    out[file.replace(/\.[^.]*$/, '')] = volume;
  });
  return out;
}

export interface VolumeAssignment {
  /** Volume id of each stem, in the order given. */
  ids: string[];
  /** The rule that applied, for the dataset's `volumeRule`. */
  rule: string;
  /** nativeBits from volumes.json, if it gave one. */
  nativeBits?: number;
}

/**
 * Assigns volume ids to the sorted file stems of a folder (see the module comment for the rules).
 * `stems` must be in sorted file order: starts index into it.
 */
export function assignVolumes(
  dir: string,
  stems: string[],
  opts: { volumeStarts?: number[]; volumesFile?: string; split?: SplitRule } = {},
): VolumeAssignment {
  if (opts.split === 'slice') return { ids: stems.slice(), rule: SLICE_SPLIT_RULE, nativeBits: nativeBitsOnly(dir, opts.volumesFile) };
  const fromStarts = (starts: number[], rule: string, nativeBits?: number): VolumeAssignment => {
    const ids = stems.map((_, i) => {
      let k = 0;
      while (k + 1 < starts.length && starts[k + 1]! <= i) k++;
      return startsVolumeName(k, starts.length);
    });
    return { ids, rule, nativeBits };
  };
  if (opts.volumeStarts) {
    checkVolumeStarts(opts.volumeStarts);
    return fromStarts(opts.volumeStarts, `volume starts ${opts.volumeStarts.join(',')}`);
  }
  const jsonPath = opts.volumesFile ?? join(dir, 'volumes.json');
  if (opts.volumesFile && !present(opts.volumesFile)) throw new UserError('volumes file not found', { file: opts.volumesFile });
  if (present(jsonPath)) {
    const vf = readVolumesJson(jsonPath);
    if (vf.volumes) {
      const map = vf.volumes;
      const missing = stems.find((s) => map[s] === undefined);
      if (missing !== undefined) throw new UserError(`no volume id for slice "${missing}"`, { file: jsonPath, pointer: '/volumes' });
      return { ids: stems.map((s) => map[s]!), rule: `volume map in ${jsonPath}`, nativeBits: vf.nativeBits };
    }
    if (vf.starts) return fromStarts(vf.starts, `volume starts in ${jsonPath}`, vf.nativeBits);
    const rest = assignWithoutJson(dir, stems);
    return { ...rest, nativeBits: vf.nativeBits };
  }
  return assignWithoutJson(dir, stems);
}

function assignWithoutJson(dir: string, stems: string[]): VolumeAssignment {
  const csvPath = join(dir, 'volumes.csv');
  if (present(csvPath)) {
    const map = readVolumesCsv(csvPath);
    const missing = stems.find((s) => map[s] === undefined);
    if (missing !== undefined) throw new UserError(`no volume id for slice "${missing}"`, { file: csvPath });
    return { ids: stems.map((s) => map[s]!), rule: `volume map in ${csvPath}` };
  }
  if (stems.length > 0 && stems.every((s) => s.lastIndexOf('_') > 0)) {
    return { ids: stems.map((s) => s.slice(0, s.lastIndexOf('_'))), rule: 'file name prefix <volume>_<slice>' };
  }
  throw new UserError(
    'no volume (patient) ids: a split slice by slice would put one patient in training and test. Give --volume-starts, ' +
      'a volumes.json (or volumes.csv), a --preset, or file names <volume>_<slice>; or accept that with --split slice',
    { file: dir },
  );
}

/** nativeBits of a volumes.json, when the split is slice by slice (the file's volume ids are not used then). */
function nativeBitsOnly(dir: string, volumesFile?: string): number | undefined {
  const path = volumesFile ?? join(dir, 'volumes.json');
  return present(path) ? readVolumesJson(path).nativeBits : undefined;
}
