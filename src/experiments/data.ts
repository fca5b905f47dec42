import type { CtDataset } from '../data/types.js';
import { generatePhantoms } from '../data/phantom.js';
import { UserError } from '../errors.js';
import type { DetectorProfile } from '../profile/types.js';
import { Rng } from '../util/rng.js';
import type { ExperimentConfig } from './config.js';
import type { SplitData } from './run-point.js';

/** Where an experiment's images come from. */
export type DataSource =
  | { kind: 'synthetic' }
  | { kind: 'folder'; path: string; skipBad: boolean; testVolumes?: string[] };

export interface PreparedData {
  split: SplitData;
  source: string;
}

/** Subset of a dataset by slice indices (same geometry and depth). */
export function subset(ds: CtDataset, indices: number[], source = ds.source): CtDataset {
  return { ...ds, slices: indices.map((i) => ds.slices[i]!), source };
}

/**
 * Splits by volume id, never by slice (neighbouring slices of one patient leak and inflate Dice):
 * a seeded shuffle of the volumes, the first ones until `fraction` of the slices are held out.
 * `fixed` names the held-out volumes instead.
 */
export function splitVolumes(ds: CtDataset, fraction: number, seed: number, fixed?: string[]): { rest: CtDataset; held: CtDataset } {
  const volumes = [...new Set(ds.slices.map((s) => s.volumeId))].sort();
  let heldOut: Set<string>;
  if (fixed?.length) {
    const unknown = fixed.filter((v) => !volumes.includes(v));
    if (unknown.length) throw new UserError(`test volume(s) ${unknown.join(', ')} are not in the data (${volumes.length} volumes)`);
    heldOut = new Set(fixed);
  } else {
    if (volumes.length < 2) throw new UserError(`cannot split ${volumes.length} volume(s) into train and test: need at least 2`);
    const order = new Rng(seed).shuffle([...volumes]);
    const counts = new Map<string, number>();
    for (const s of ds.slices) counts.set(s.volumeId, (counts.get(s.volumeId) ?? 0) + 1);
    heldOut = new Set();
    let held = 0;
    for (const v of order) {
      if (held >= fraction * ds.slices.length || heldOut.size === volumes.length - 1) break;
      heldOut.add(v);
      held += counts.get(v)!;
    }
  }
  const heldIdx: number[] = [];
  const restIdx: number[] = [];
  ds.slices.forEach((s, i) => (heldOut.has(s.volumeId) ? heldIdx : restIdx).push(i));
  return { rest: subset(ds, restIdx), held: subset(ds, heldIdx) };
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
  if (source.kind === 'synthetic') {
    ds = generatePhantoms({
      n: config.synthetic.slices,
      size: config.size,
      seed: config.seed,
      nativeBits: profile.nativeBits,
      slicesPerVolume: config.synthetic.slicesPerVolume,
    });
    label = `synthetic phantoms (seed ${config.seed}, ${config.synthetic.slices} slices)`;
  } else {
    throw new UserError('folder data is not wired yet');
  }
  if (ds.nativeBits !== profile.nativeBits)
    throw new UserError(
      `the data is ${ds.nativeBits}-bit but the profile ${profile.name} is ${profile.nativeBits}-bit: use a matching profile`,
    );
  if (opts.allTest) return { split: { train: subset(ds, []), validation: subset(ds, []), test: ds }, source: label };
  const { rest, held: test } = splitVolumes(ds, config.testFraction, config.seed, source.kind === 'folder' ? source.testVolumes : undefined);
  const { rest: train, held: validation } =
    config.validationFraction > 0
      ? splitVolumes(rest, config.validationFraction, config.seed + 1)
      : { rest, held: subset(rest, []) };
  return { split: { train, validation, test }, source: label };
}
