import type { CtDataset } from '../data/types.js';
import { countSlices, loadDatasetWatched } from '../data/load.js';
import { generatePhantoms } from '../data/phantom.js';
import { resizeDataset } from '../data/resize.js';
import { splitByVolume } from '../data/split.js';
import { COVID_CT_20_RADIOPAEDIA_VOLUMES, COVID_CT_20_TEST_VOLUMES, COVID_CT_20_VOLUME_STARTS, SLICE_SPLIT_RULE, type SplitRule } from '../data/volumes.js';
import type { PixelLimits } from '../data/limits.js';
import type { OrientMode } from '../data/orientation.js';
import { UserError } from '../errors.js';
import { RUNTIME_BYTES } from './memory.js';
import { totalmem } from 'node:os';
import type { DetectorProfile } from '../profile/types.js';
import type { ExperimentConfig } from '../config/experiment-config.js';
import type { SplitData } from './run-point.js';

/** Where an experiment's images come from. */
export type DataSource =
  | { kind: 'synthetic' }
  | {
      kind: 'folder';
      path: string;
      skipBad: boolean;
      testVolumes?: string[];
      /**
       * Volume ids held out for validation (`--validation-volumes`; default: a seeded share of the
       * rest), e.g. one fold of a cross-validation over the training volumes.
       */
      validationVolumes?: string[];
      volumeStarts?: number[];
      /** Keep every n-th slice (file order), for quicker runs; neighbouring slices are near-duplicates. */
      every?: number;
      /** `slice` only when the user asked for it (`--split slice`); a folder without volume ids is refused otherwise. */
      split?: SplitRule;
      /** Size limits checked from file headers before decoding (`--max-pixels`, `--max-voxels`). */
      limits?: PixelLimits;
      /**
       * Detector space with display images (`--hu-from-display`): the HU that grey 0 and the top grey
       * level stand for. An approximation: windowing and contrast enhancement cannot be undone.
       */
      huFromDisplay?: { lowHu: number; highHu: number };
      /** Image and mask sub-folders (default `ct`, `covid`). */
      imageDir?: string;
      maskDir?: string;
      /** `canonical`: NIfTI / DICOM slices turned to the canonical orientation (`--orient`); absent: as stored. */
      orient?: OrientMode;
    };

export interface PreparedData {
  split: SplitData;
  source: string;
  /** How train / validation / test were cut, for the manifest and the report. */
  splitRule: string;
}

/** Subset of a dataset by slice indices (same geometry and depth). */
export function subset(ds: CtDataset, indices: number[], source = ds.source): CtDataset {
  return { ...ds, slices: indices.map((i) => ds.slices[i]!), source };
}

/** Splits by volume (never by slice): `fixed` names the held-out volumes, else a seeded share of them. */
export function splitVolumes(ds: CtDataset, fraction: number, seed: number, fixed?: string[], heldName = 'test'): { rest: CtDataset; held: CtDataset } {
  const volumes = new Set(ds.slices.map((s) => s.volumeId));
  if (!fixed?.length && volumes.size < 2)
    throw new UserError(`cannot split ${volumes.size} volume(s) into two parts: need at least 2 (give the data volume ids)`);
  const { train, test } = splitByVolume(ds, fixed?.length ? fixed : fraction, seed, heldName);
  return { rest: train, held: test };
}

/** Validation volumes given by id must not be test volumes (splitByVolume checks that they exist). */
function refuseTestVolumes(ids: readonly string[], test: CtDataset): void {
  const inTest = new Set(test.slices.map((s) => s.volumeId));
  const tested = ids.filter((id) => inTest.has(id));
  if (tested.length > 0) throw new UserError(`validation volume(s) ${tested.join(', ')} are test volumes: a volume validates or tests, not both`);
}

/** Named real datasets whose volume layout ctquant knows. */
export const DATASET_PRESETS = {
  'covid-ct-20': { volumeStarts: [...COVID_CT_20_VOLUME_STARTS], testVolumes: [...COVID_CT_20_TEST_VOLUMES] },
  /** Cross-source: train on coronacases (v00-v09), test on radiopaedia (v10-v18). */
  'covid-ct-20-cross-source': { volumeStarts: [...COVID_CT_20_VOLUME_STARTS], testVolumes: [...COVID_CT_20_RADIOPAEDIA_VOLUMES] },
} as const;
export type DatasetPreset = keyof typeof DATASET_PRESETS;

/**
 * How many slices a process will hold, counted before anything is decoded, for the memory check:
 * the phantoms of a synthetic run, or a folder's slices (data/load.ts countSlices: PNG files, NIfTI
 * header sizes, DICOM files), every n-th; undefined where the folder cannot be judged (its loader says why).
 */
export function slicesHeld(source: DataSource, config: ExperimentConfig): number | undefined {
  if (source.kind === 'synthetic') return config.synthetic.slices;
  const count = countSlices(source.path, source.imageDir, source.limits);
  return count ? Math.ceil(count / (source.every ?? 1)) : undefined;
}

/** Loads the images at the experiment's size and splits them into train / validation / test by volume. */
export async function prepareData(
  source: DataSource,
  profile: DetectorProfile,
  config: ExperimentConfig,
  opts: { allTest?: boolean } = {},
): Promise<PreparedData> {
  let ds: CtDataset;
  let label: string;
  let splitRule: string;
  if (source.kind === 'synthetic') {
    ds = generatePhantoms({
      n: config.synthetic.slices,
      size: config.size,
      seed: config.seed,
      nativeBits: profile.nativeBits,
      slicesPerVolume: config.synthetic.slicesPerVolume,
    });
    label = `synthetic phantoms (seed ${config.seed}, ${config.synthetic.slices} slices)`;
    splitRule = `by volume: synthetic patients of ${config.synthetic.slicesPerVolume} slices`;
  } else {
    // All-test evaluation cuts nothing, so a folder without volume ids is fine there.
    const split = source.split ?? (opts.allTest ? 'slice' : 'volume');
    const every = source.every ?? 1;
    if (every > 1 && (config.context?.slices ?? 1) > 1)
      throw new UserError(`context.slices ${config.context.slices} reads adjacent slices, but --every ${every} keeps only every ${every}th: use --every 1 for a 2.5D run`);
    const held = { maxBytes: totalmem() - RUNTIME_BYTES, remedy: 'lower --size or keep every n-th slice (--every n)' };
    const loaded = await loadDatasetWatched(source.path, {
      skipBad: source.skipBad,
      volumeStarts: source.volumeStarts,
      split,
      ...source.limits,
      ...(source.imageDir !== undefined ? { imageDir: source.imageDir } : {}),
      ...(source.maskDir !== undefined ? { maskDir: source.maskDir } : {}),
      ...(source.orient ? { orient: source.orient } : {}),
      // Fitted as read: folders whose slices (or volumes) differ in size are accepted, and only the fitted slices are held.
      fitTo: { height: config.size, width: config.size, fit: config.fit ?? 'stretch' },
      // Thinned as read: the slices left out are never held (PNG: never decoded).
      ...(every > 1 ? { every } : {}),
    }, held);
    splitRule = opts.allTest ? 'none: every slice is test data' : split === 'slice' ? SLICE_SPLIT_RULE : `by volume (${loaded.volumeRule ?? 'ids from the loader'})`;
    if (loaded.slices.length === 0) throw new UserError('no usable slices', { file: source.path });
    ds = loaded.height === config.size && loaded.width === config.size ? loaded : resizeDataset(loaded, config.size, config.fit ?? 'stretch');
    const skipped = loaded.skipped?.length ? `, ${loaded.skipped.length} file(s) skipped` : '';
    const thinned = every > 1 ? `, every ${every}th slice: ${loaded.slices.length}` : '';
    const orientation = loaded.orientation ? `, orientation ${loaded.orientation}` : '';
    label = `${source.path} (${loaded.thinnedFrom ?? loaded.slices.length} slices${thinned}, ${loaded.nativeBits}-bit${skipped}${orientation})`;
  }
  if (source.kind === 'folder' && source.huFromDisplay) ds = { ...ds, huWindow: { ...source.huFromDisplay } };
  // Detector space reads HU: the data's depth is its own (its counts map to HU), the ADC's is the profile's.
  if (profile.detector && ds.nativeBits <= 8 && !ds.huWindow)
    throw new UserError(
      `the data is ${ds.nativeBits}-bit display images; detector space needs HU: give --hu-from-display low,high (the HU window they were exported with)`,
    );
  if (!profile.detector && ds.nativeBits !== profile.nativeBits)
    throw new UserError(
      `the data is ${ds.nativeBits}-bit but the profile ${profile.name} is ${profile.nativeBits}-bit: use a matching profile`,
    );
  const norm = config.normalisation;
  if (norm?.kind === 'window' && (norm.low < 0 || norm.high > 2 ** profile.nativeBits - 1))
    throw new UserError(`normalisation window [${norm.low}, ${norm.high}] lies outside the ${profile.nativeBits}-bit native range [0, ${2 ** profile.nativeBits - 1}]`);
  if (opts.allTest) return { split: { train: subset(ds, []), validation: subset(ds, []), test: ds }, source: label, splitRule };
  const { rest, held: test } = splitVolumes(ds, config.testFraction, config.seed, source.kind === 'folder' ? source.testVolumes : undefined);
  const fixedValidation = source.kind === 'folder' ? source.validationVolumes : undefined;
  if (fixedValidation?.length) refuseTestVolumes(fixedValidation, test);
  const { rest: train, held: validation } =
    fixedValidation?.length || config.validationFraction > 0
      ? splitVolumes(rest, config.validationFraction, config.seed + 1, fixedValidation, 'validation')
      : { rest, held: subset(rest, []) };
  if (fixedValidation?.length && train.slices.length === 0) {
    throw new UserError('--validation-volumes takes every non-test volume: leave at least one to train on');
  }
  return { split: { train, validation, test }, source: label, splitRule };
}
