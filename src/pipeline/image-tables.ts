/**
 * What the report needs from the prepared images (the report itself never sees data): the test
 * images' ids for per-image.csv, where each layout's reduced pixels lie on them (bit-placement.csv)
 * and which volumes and slices went where (manifest.json splitMembers).
 */
import type { SplitData } from '../experiments/run-point.js';
import type { DetectorProfile } from '../profile/types.js';
import { splitPart, type SplitMembers } from '../report/manifest.js';
import { placementRows, type ImageId, type PlacementRow } from '../report/placement.js';
import type { RunResult } from '../runs/types.js';

/** At most this many test images (evenly spaced) measure bit placement: shares settle long before, and it keeps 256² runs quick. */
export const PLACEMENT_MAX_IMAGES = 100;

export interface ImageTables {
  testImages: ImageId[];
  /** Image space only: in detector space a layout reduces channels, not pixels (detector/channel-flux.* says which). */
  bitPlacement?: { rows: PlacementRow[]; note: string };
  splitMembers: SplitMembers;
}

/** Evenly spaced indices 0..n−1, at most `max` of them. */
export function evenlySpaced(n: number, max: number): number[] {
  if (n <= max) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: max }, (_, i) => Math.floor((i * n) / max));
}

export function imageTables(runs: readonly RunResult[], profile: DetectorProfile, split: SplitData): ImageTables {
  const test = split.test.slices;
  const testImages = test.map((s) => ({ sliceId: s.name, volumeId: s.volumeId, lesionPixels: s.mask.reduce((a, v) => a + v, 0) }));
  const splitMembers = { train: splitPart(split.train.slices), validation: splitPart(split.validation.slices), test: splitPart(test) };
  if (profile.detector) return { testImages, splitMembers };
  const picked = evenlySpaced(test.length, PLACEMENT_MAX_IMAGES).map((i) => test[i]!.image);
  const rows = placementRows(runs, profile, picked, { nativeBits: split.test.nativeBits });
  const note =
    `share of reduced pixels (multi-level: of dropped bits) inside the body, inside the lungs and outside the body, over ${picked.length} of ${test.length} test images, ` +
    `mean over the design's seeds; body = above −500 HU, largest component, holes filled; lungs by the threshold rule ` +
    `(body pixels at or below −500 HU: lungs and airways), since the data loader reads no lung masks.`;
  return {
    testImages,
    bitPlacement: { rows, note },
    splitMembers,
  };
}
