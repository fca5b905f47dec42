/**
 * The decision per test patient (per-patient.csv): for full precision, the chosen design and the
 * best uniform design, each test volume's Dice (mean over its test images, then over the design's
 * non-collapsed seeds, as the front averages), and chosen − full precision. A headline difference
 * that one patient carries shows here; on covid-ct-20 one test patient, stored upside down, moved
 * every design's test Dice (RESULTS.md "More validation", 8). A pure function of the runs and the
 * test images; the last row is all test images, the front's test Dice.
 */
import type { RunResult } from '../runs/types.js';
import type { Decision } from './pareto.js';
import { designOf } from './designs.js';
import type { ImageId } from './placement.js';
import { mean } from './stats.js';

export type PatientRow = Record<string, string | number>;

export interface PatientTable {
  columns: string[];
  rows: PatientRow[];
}

/** The label of the last row, over every test image. */
export const ALL_PATIENTS = 'all test images';

const round4 = (v: number) => (Number.isFinite(v) ? Number(v.toFixed(4)) : '');

/** The designs a reader checks per patient: full precision, the chosen one, the best uniform one (each once). */
export function patientDesigns(decision: Pick<Decision, 'baseline' | 'chosen' | 'bestUniform'>): string[] {
  const ids = [decision.baseline.designId, decision.chosen.designId, decision.bestUniform?.designId];
  return [...new Set(ids.filter((id): id is string => id !== undefined))];
}

/**
 * One row per test volume (in the order the images list them) and one over all images; columns
 * `dice_<design>` for each of `designIds` (the first is full precision), then
 * `chosen_minus_full_precision` when the second differs from the first. Runs evaluated on other
 * images (another count) and collapsed runs are left out.
 */
export function patientRows(runs: readonly RunResult[], images: readonly ImageId[], designIds: readonly string[]): PatientTable {
  const volumes = [...new Set(images.map((im) => im.volumeId))];
  const groups: { label: string; indices: number[] }[] = [
    ...volumes.map((v) => ({ label: v, indices: images.flatMap((im, i) => (im.volumeId === v ? [i] : [])) })),
    { label: ALL_PATIENTS, indices: images.map((_, i) => i) },
  ];
  const runsOf = (id: string) => runs.filter((r) => !r.collapsed && r.dice.perImage.length === images.length && designOf(r)?.designId === id);
  /** Mean over the design's seeds of each seed's mean over the group's images. */
  const diceOf = (id: string, indices: number[]) => mean(runsOf(id).map((r) => mean(indices.map((i) => r.dice.perImage[i]!))));
  const [fp, chosen] = designIds;
  const withDifference = fp !== undefined && chosen !== undefined && chosen !== fp;
  const columns = ['volume_id', 'n_images', 'lesion_images', ...designIds.map((id) => `dice_${id}`), ...(withDifference ? ['chosen_minus_full_precision'] : [])];
  const rows = groups.map(({ label, indices }) => {
    const row: PatientRow = {
      volume_id: label,
      n_images: indices.length,
      lesion_images: indices.filter((i) => images[i]!.lesionPixels > 0).length,
    };
    for (const id of designIds) row[`dice_${id}`] = round4(diceOf(id, indices));
    if (withDifference) row.chosen_minus_full_precision = round4(diceOf(chosen, indices) - diceOf(fp, indices));
    return row;
  });
  return { columns, rows };
}
