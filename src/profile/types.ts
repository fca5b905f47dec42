import type { DetectorSectionJson } from './detector-section.js';

/** The quantizer rule of a reduced-precision readout mode (see src/quant/hard.ts). */
export type QuantizerRule = 'floor' | 'midrise';

/**
 * How much precision the layout may drop:
 * - `fraction`: the expected fraction of pixels switched to the (single) reduced mode,
 *   Σ p_i = fraction × pixels (the study's budget);
 * - `bitsPerPixel`: for several modes, the expected bits per pixel over the frame.
 */
export type Budget = { kind: 'fraction'; value: number } | { kind: 'bitsPerPixel'; value: number };

/** A detector under design, as loaded and validated from detector-profiles/*.json. */
export interface DetectorProfile {
  name: string;
  description: string;
  /** Readout pixels per frame: rows × cols. */
  rows: number;
  cols: number;
  /** Native ADC bit depth of a readout. */
  nativeBits: number;
  /** Reduced-precision modes a pixel can be switched to, as bits kept, descending, each < nativeBits. */
  modes: number[];
  rule: QuantizerRule;
  budget: Budget;
  /** Budgets to sweep (same kind as `budget`); empty when none is given. */
  sweep: number[];
  /** The file it was loaded from, for messages and manifests. */
  file?: string;
  /** Detector-space mode (src/detector/): scan, noise and ADC range; absent = image space. */
  detector?: DetectorSectionJson;
}
