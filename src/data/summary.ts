/** Figures that describe a dataset (for `ctquant data inspect` and manifests). */
import type { CtDataset } from './types.js';
import { volumeCounts } from './split.js';

export interface DatasetSummary {
  source: string;
  slices: number;
  height: number;
  width: number;
  nativeBits: number;
  /** Smallest and largest image value (native counts). */
  valueRange: [number, number];
  /** Mean share of mask pixels per slice. */
  lesionFraction: number;
  /** Share of slices whose mask is not empty. */
  slicesWithLesion: number;
  volumes: number;
  slicesPerVolume: Record<string, number>;
  volumeRule?: string;
  /** Slice orientation the files record, and whether it was applied (NIfTI, DICOM). */
  orientation?: string;
  skipped?: { file: string; reason: string }[];
}

export function summarizeDataset(ds: CtDataset): DatasetSummary {
  let lo = Infinity;
  let hi = -Infinity;
  let fraction = 0;
  let withLesion = 0;
  for (const s of ds.slices) {
    for (let i = 0; i < s.image.length; i++) {
      const v = s.image[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    let m = 0;
    for (let i = 0; i < s.mask.length; i++) m += s.mask[i]!;
    fraction += m / s.mask.length;
    if (m > 0) withLesion++;
  }
  const n = ds.slices.length;
  const counts = volumeCounts(ds);
  return {
    source: ds.source,
    slices: n,
    height: ds.height,
    width: ds.width,
    nativeBits: ds.nativeBits,
    valueRange: n > 0 ? [lo, hi] : [0, 0],
    lesionFraction: n > 0 ? fraction / n : 0,
    slicesWithLesion: n > 0 ? withLesion / n : 0,
    volumes: counts.size,
    slicesPerVolume: Object.fromEntries(counts),
    ...(ds.volumeRule ? { volumeRule: ds.volumeRule } : {}),
    ...(ds.orientation ? { orientation: ds.orientation } : {}),
    ...(ds.skipped ? { skipped: ds.skipped } : {}),
  };
}
