/**
 * The rows of every table a study writes (runs.csv, tradeoff.csv, study.csv, storage.csv,
 * layout.csv, the verdicts) and their column orders: the shapes the table builders fill and the
 * CSV, plot and HTML writers read.
 */
import type { RunResult, Setup } from '../runs/types.js';
import type { Budget, DetectorProfile } from '../profile/types.js';

/** How an aggregate treats collapsed runs: none, some (excluded, counted) or all (no statistics). */
export type CollapsedMark = 'none' | 'some' | 'all';

/** One line of runs.csv: every run as it came, collapsed ones marked. */
export interface RunRow {
  id: string;
  setup: Setup;
  seed: number;
  kept_bits?: number;
  budget?: number;
  bits_per_pixel: number;
  dice_mean: number;
  dice_pooled: number;
  empty_prediction_share: number;
  dice_stochastic_mean?: number;
  /** Mean over test volumes of the 3D Dice (TP / FP / FN summed over a volume's slices). */
  dice_volume_mean?: number;
  n_test_images: number;
  collapsed: boolean;
  collapse_reason?: string;
  epochs: number;
  final_loss?: number;
  final_val_dice?: number;
  /** The epoch whose weights were evaluated, chosen on validation (keepBestEpoch); empty: the last. */
  kept_epoch?: number;
  train_seconds: number;
  backend: string;
}

export const RUN_COLUMNS = [
  'id', 'setup', 'seed', 'kept_bits', 'budget', 'bits_per_pixel', 'dice_mean', 'dice_pooled', 'empty_prediction_share',
  'dice_stochastic_mean', 'dice_volume_mean', 'n_test_images', 'collapsed', 'collapse_reason', 'epochs', 'final_loss', 'final_val_dice',
  'kept_epoch', 'train_seconds', 'backend',
] as const satisfies readonly (keyof RunRow)[];

/** Which evaluation a trade-off row summarises. */
export type Arm = 'learned' | 'learned-stochastic' | 'random' | 'multilevel' | 'multilevel-stochastic' | 'dither' | 'blue-noise' | 'content' | 'lesion' | 'baseline';

/** Mean Dice of a group of runs with both intervals; `seed_t` across seeds, `image_boot` over test images. */
export interface DiceStats {
  n_runs: number;
  n_used: number;
  n_collapsed: number;
  collapsed: CollapsedMark;
  seeds: string;
  collapsed_seeds: string;
  dice_mean: number;
  dice_sd: number;
  dice_seed_t_lo: number;
  dice_seed_t_hi: number;
  dice_image_boot_lo: number;
  dice_image_boot_hi: number;
}

/** A paired difference (this arm − reference, matched by seed) with both intervals. */
export interface DiffStats {
  n_pairs: number;
  mean: number;
  seed_t_lo: number;
  seed_t_hi: number;
  image_boot_lo: number;
  image_boot_hi: number;
}

/** One line of tradeoff.csv: one arm at one budget. */
export interface TradeoffRow extends DiceStats {
  budget_kind: Budget['kind'] | 'none';
  /** Empty for the baseline (repeated under every budget, so each budget block is self-contained). */
  budget: number;
  arm: Arm;
  bits_per_pixel: number;
  storage_saving_pct: number;
  vs_random_n_pairs?: number;
  vs_random_mean?: number;
  vs_random_seed_t_lo?: number;
  vs_random_seed_t_hi?: number;
  vs_random_image_boot_lo?: number;
  vs_random_image_boot_hi?: number;
  vs_baseline_n_pairs?: number;
  vs_baseline_mean?: number;
  vs_baseline_seed_t_lo?: number;
  vs_baseline_seed_t_hi?: number;
  vs_baseline_image_boot_lo?: number;
  vs_baseline_image_boot_hi?: number;
}

const STAT_COLUMNS = [
  'n_runs', 'n_used', 'n_collapsed', 'collapsed', 'seeds', 'collapsed_seeds', 'dice_mean', 'dice_sd',
  'dice_seed_t_lo', 'dice_seed_t_hi', 'dice_image_boot_lo', 'dice_image_boot_hi',
] as const satisfies readonly (keyof DiceStats)[];

export const TRADEOFF_COLUMNS = [
  'budget_kind', 'budget', 'arm', 'bits_per_pixel', 'storage_saving_pct', ...STAT_COLUMNS,
  'vs_random_n_pairs', 'vs_random_mean', 'vs_random_seed_t_lo', 'vs_random_seed_t_hi', 'vs_random_image_boot_lo', 'vs_random_image_boot_hi',
  'vs_baseline_n_pairs', 'vs_baseline_mean', 'vs_baseline_seed_t_lo', 'vs_baseline_seed_t_hi', 'vs_baseline_image_boot_lo', 'vs_baseline_image_boot_hi',
] as const satisfies readonly (keyof TradeoffRow)[];

/**
 * One line of study.csv: one kept-bits level with setup (a) all-pixels-baseline and (b)
 * all-pixels-retrained side by side (prefixes a_ and b_). The first row, `row = baseline`, is
 * the full-precision baseline at nativeBits, which (a) and (b) equal by definition there.
 */
export interface StudyRow {
  row: 'baseline' | 'level';
  kept_bits: number;
  storage_saving_pct: number;
  [column: string]: string | number | undefined;
}

const STUDY_STAT_SUFFIXES = [...STAT_COLUMNS, 'minus_baseline_n_pairs', 'minus_baseline_mean', 'minus_baseline_seed_t_lo',
  'minus_baseline_seed_t_hi', 'minus_baseline_image_boot_lo', 'minus_baseline_image_boot_hi'] as const;

export const STUDY_COLUMNS: readonly string[] = [
  'row', 'kept_bits', 'storage_saving_pct',
  ...STUDY_STAT_SUFFIXES.map((c) => `a_${c}`),
  ...STUDY_STAT_SUFFIXES.map((c) => `b_${c}`),
];

/** One line of storage.csv (from src/profile/storage.ts, in snake case). */
export interface StorageTableRow {
  budget_kind: Budget['kind'];
  budget: number;
  pixels: number;
  quantized_pixels?: number;
  native_bits_per_frame: number;
  layout_bits_per_frame: number;
  native_bytes_per_frame: number;
  layout_bytes_per_frame: number;
  layout_bits_per_pixel: number;
  layout_bits_per_pixel_exact: string;
  compression_ratio: number;
  saving_pct: number;
  saving_pct_exact: string;
}

export const STORAGE_COLUMNS = [
  'budget_kind', 'budget', 'pixels', 'quantized_pixels', 'native_bits_per_frame', 'layout_bits_per_frame',
  'native_bytes_per_frame', 'layout_bytes_per_frame', 'layout_bits_per_pixel', 'layout_bits_per_pixel_exact',
  'compression_ratio', 'saving_pct', 'saving_pct_exact',
] as const satisfies readonly (keyof StorageTableRow)[];

/**
 * One line of storage.csv in detector space (from detectorStorageRow, src/profile/storage.ts): the
 * frame the detector stores is views × channels readings, each at its channel's ADC bits. The first
 * row is the baseline (every channel native, budget 0).
 */
export interface DetectorStorageTableRow {
  row: 'baseline' | 'layout';
  budget_kind: 'fraction';
  budget: number;
  views: number;
  channels: number;
  reduced_channels: number;
  kept_bits: number;
  native_bits_per_frame: number;
  layout_bits_per_frame: number;
  native_bytes_per_frame: number;
  layout_bytes_per_frame: number;
  bits_per_reading: number;
  bits_per_reading_exact: string;
  saving_pct: number;
}

export const DETECTOR_STORAGE_COLUMNS = [
  'row', 'budget_kind', 'budget', 'views', 'channels', 'reduced_channels', 'kept_bits', 'native_bits_per_frame', 'layout_bits_per_frame',
  'native_bytes_per_frame', 'layout_bytes_per_frame', 'bits_per_reading', 'bits_per_reading_exact', 'saving_pct',
] as const satisfies readonly (keyof DetectorStorageTableRow)[];

/** One line of layout.csv: a pixel of the chosen run's hardware layout. */
export interface LayoutRow {
  row: number;
  col: number;
  /** Rescaled probability of being quantized; empty when the run has no probability map. */
  probability?: number;
  adc_bits: number;
}

export const LAYOUT_COLUMNS = ['row', 'col', 'probability', 'adc_bits'] as const satisfies readonly (keyof LayoutRow)[];

/** Where the learned layout stands against the random control at one budget. */
export interface Verdict {
  budget_kind: Budget['kind'];
  budget: number;
  arm: 'learned' | 'multilevel';
  learned_mean: number;
  random_mean: number;
  diff: number;
  lo: number;
  hi: number;
  /** Which interval decided: across seeds when ≥ 2 pairs, else the bootstrap over test images. */
  interval: 'seed_t' | 'image_boot' | 'none';
  outcome: 'better' | 'worse' | 'no clear difference' | 'not comparable';
}

export interface Tables {
  runs: RunRow[];
  tradeoff: TradeoffRow[];
  study: StudyRow[];
  /** Image space: bits per reconstructed frame (empty in detector space, where `detectorStorage` counts the detector frame). */
  storage: StorageTableRow[];
  /** Detector space (a profile with a `detector` section): bits per views × channels frame, baseline first. */
  detectorStorage?: DetectorStorageTableRow[];
  layout: LayoutRow[];
  /** The run layout.csv was taken from (undefined when no run has a layout). */
  layoutRun?: RunResult;
  verdicts: Verdict[];
}

/** The budget kind a run's `budget` is in: multilevel is always bits per pixel, others follow the profile. */
export function budgetKindOf(run: RunResult, profile: DetectorProfile): Budget['kind'] {
  return run.setup === 'multilevel' ? 'bitsPerPixel' : profile.budget.kind;
}
