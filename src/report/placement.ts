/**
 * Two tables about images, pure functions of the runs and the test images the caller hands in:
 * - bit-placement.csv: for each layout design at the profile's budget (and a designer's layout),
 *   where its reduced pixels lie: inside the body, inside the lungs, outside (bit-placement.ts),
 *   averaged over the design's runs (seeds);
 * - per-image.csv: every run's Dice on every test image, with the slice and volume ids.
 */
import type { DetectorProfile } from '../profile/types.js';
import { hasBudget, type RunResult } from '../runs/types.js';
import { bitPlacement, type PlacementOptions } from './bit-placement.js';
import { mean } from './stats.js';

export const PLACEMENT_COLUMNS = [
  'family', 'design', 'n_runs', 'bits_per_pixel', 'reduced_weight', 'inside_body_pct', 'inside_lungs_pct', 'outside_body_pct', 'lung_rule', 'n_images',
] as const;
export type PlacementRow = Record<(typeof PLACEMENT_COLUMNS)[number], string | number>;

export const PER_IMAGE_COLUMNS = ['run', 'setup', 'seed', 'slice_id', 'volume_id', 'dice', 'lesion_pixels'] as const;
export type PerImageRow = Record<(typeof PER_IMAGE_COLUMNS)[number], string | number>;

/** A test image as the per-image table names it. */
export interface ImageId {
  sliceId: string;
  volumeId: string;
  lesionPixels: number;
}

/** Reduced weight per pixel of a run's layout: the 0/1 hardware mask, or native − kept bits of a multi-level map. */
function reducedWeight(run: RunResult): number[] | undefined {
  if (run.hardwareLayout) return run.hardwareLayout;
  if (run.bitsMap) return run.bitsMap.map((b) => run.nativeBits - b);
  return undefined;
}

const pct = (v: number) => (Number.isFinite(v) ? Number((100 * v).toFixed(2)) : '');

/**
 * Where the bits went, one row per layout design at `profile.budget.value` (a designer's layout at
 * any); images: rows×cols native counts (the test images), options as bitPlacement's.
 */
export function placementRows(
  runs: readonly RunResult[],
  profile: Pick<DetectorProfile, 'budget'>,
  images: readonly ArrayLike<number>[],
  opts: PlacementOptions,
): PlacementRow[] {
  const groups = new Map<string, RunResult[]>();
  const sorted = [...runs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const r of sorted) {
    const atBudget = hasBudget(r.setup) && r.budget === profile.budget.value;
    if (!(atBudget || r.setup === 'designer') || !reducedWeight(r)) continue;
    const id = r.setup === 'designer' ? 'designer' : `${r.setup}-b${r.budget}`;
    groups.set(id, [...(groups.get(id) ?? []), r]);
  }
  if (images.length === 0) return [];
  return [...groups.entries()].map(([design, group]) => {
    const p = group.map((r) => bitPlacement(reducedWeight(r)!, r.rows, r.cols, images, opts));
    return {
      family: group[0]!.setup,
      design,
      n_runs: group.length,
      bits_per_pixel: Number(mean(group.map((r) => r.bitsPerPixel)).toFixed(4)),
      reduced_weight: Number(mean(p.map((x) => x.reduced)).toFixed(1)),
      inside_body_pct: pct(mean(p.map((x) => x.insideBody))),
      inside_lungs_pct: pct(mean(p.map((x) => x.insideLungs))),
      outside_body_pct: pct(mean(p.map((x) => x.outsideBody))),
      lung_rule: p[0]!.lungRule,
      n_images: images.length,
    };
  });
}

/** per-image.csv: one row per (run, test image) for every run evaluated on exactly these images, runs by id. */
export function perImageRows(runs: readonly RunResult[], images: readonly ImageId[]): PerImageRow[] {
  const rows: PerImageRow[] = [];
  const sorted = [...runs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const r of sorted) {
    if (r.dice.perImage.length !== images.length) continue;
    r.dice.perImage.forEach((dice, i) => {
      const im = images[i]!;
      rows.push({ run: r.id, setup: r.setup, seed: r.seed, slice_id: im.sliceId, volume_id: im.volumeId, dice: Number(dice.toFixed(6)), lesion_pixels: im.lesionPixels });
    });
  }
  return rows;
}
