/**
 * Every table of a study as a pure function of (runs, profile, options): no files, no clock, no
 * global RNG. Runs are sorted by id first, so the tables do not depend on the order runs arrive in
 * (outputs of sharded sweeps merge by concatenating run lists). Collapsed runs are never averaged
 * in: each aggregate row reports them as `n_collapsed` / `collapsed` and excludes them.
 *
 * This file assembles them and builds the two plain ones (runs, storage). The row shapes and
 * column orders are in table-rows.ts, the Dice tables in table-dice.ts (on table-stats.ts), the
 * layout the report exports in table-layout.ts.
 */
import type { RunResult } from '../runs/types.js';
import type { DetectorProfile } from '../profile/types.js';
import { detectorStorageReport, storageReport, type DetectorStorageRow, type StorageRow } from '../profile/storage.js';
import { UserError } from '../errors.js';
import { studyRows, tradeoffRows, verdicts } from './table-dice.js';
import { layoutRows, pickLayoutRun } from './table-layout.js';
import { budgetKindOf, type DetectorStorageTableRow, type RunRow, type StorageTableRow, type Tables } from './table-rows.js';
import type { StatContext } from './table-stats.js';

export interface TableOptions {
  /** Seed of every bootstrap (each table cell derives its own from this and its key). Default 0. */
  bootstrapSeed?: number;
  /** Bootstrap resamples (default 2000). */
  bootstrapResamples?: number;
  /** Interval coverage (default 0.95). */
  level?: number;
  /** Run whose layout goes to layout.csv / layout.ctql / the maps; default: see `pickLayoutRun`. */
  layoutRunId?: string;
}

/** Builds every table from the runs; pure (same inputs, same output, whatever the run order). */
export function buildTables(runs: readonly RunResult[], profile: DetectorProfile, opts: TableOptions = {}): Tables {
  const sorted = [...runs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  checkUniqueIds(sorted);
  const ctx: StatContext = {
    seed: opts.bootstrapSeed ?? 0,
    resamples: opts.bootstrapResamples ?? 2000,
    level: opts.level ?? 0.95,
  };
  const tradeoff = tradeoffRows(sorted, profile, ctx);
  const layoutRun = pickLayoutRun(sorted, profile, opts.layoutRunId);
  const detectorSpace = isDetectorSpace(profile);
  return {
    runs: sorted.map(runRow),
    tradeoff,
    study: studyRows(sorted, profile, ctx),
    storage: detectorSpace ? [] : storageRows(sorted, profile),
    ...(detectorSpace ? { detectorStorage: detectorStorageRows(sorted, profile) } : {}),
    layout: layoutRun ? layoutRows(layoutRun, profile) : [],
    layoutRun,
    verdicts: verdicts(tradeoff),
  };
}

function checkUniqueIds(sorted: readonly RunResult[]): void {
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.id === sorted[i - 1]!.id) throw new UserError(`two runs share the id ${JSON.stringify(sorted[i]!.id)}`);
  }
}

function runRow(r: RunResult): RunRow {
  const last = r.history[r.history.length - 1];
  const lastVal = [...r.history].reverse().find((h) => h.valDice !== undefined);
  return {
    id: r.id,
    setup: r.setup,
    seed: r.seed,
    kept_bits: r.keptBits,
    budget: r.budget,
    bits_per_pixel: r.bitsPerPixel,
    dice_mean: r.dice.mean,
    dice_pooled: r.dice.pooled,
    empty_prediction_share: r.dice.emptyPredictionShare,
    dice_stochastic_mean: r.diceStochastic?.mean,
    dice_volume_mean: r.diceVolume?.mean,
    n_test_images: r.dice.perImage.length,
    collapsed: r.collapsed,
    collapse_reason: r.collapseReason,
    epochs: r.history.length,
    final_loss: last?.loss,
    final_val_dice: lastVal?.valDice,
    kept_epoch: r.keptEpoch,
    train_seconds: r.trainSeconds,
    backend: r.backend,
  };
}

/** Storage rows for the profile's budget, its sweep and every budget a run used (profile's kind only). */
function storageRows(runs: readonly RunResult[], profile: DetectorProfile): StorageTableRow[] {
  const budgets = new Set<number>([profile.budget.value, ...profile.sweep]);
  for (const r of runs) if (r.budget !== undefined && budgetKindOf(r, profile) === profile.budget.kind) budgets.add(r.budget);
  return storageReport(profile, [...budgets].sort((x, y) => x - y)).map(snakeStorage);
}

/** Detector space: what the ADCs store is the sinogram frame (fraction budgets only; other kinds are refused when planned). */
export function isDetectorSpace(profile: DetectorProfile): boolean {
  return profile.detector !== undefined && profile.budget.kind === 'fraction';
}

/** The detector frame per budget (`ctquant storage`'s rows): the baseline (budget 0), the profile's budget, its sweep and every run's. */
function detectorStorageRows(runs: readonly RunResult[], profile: DetectorProfile): DetectorStorageTableRow[] {
  const budgets = new Set<number>([0, profile.budget.value, ...profile.sweep]);
  for (const r of runs) if (r.budget !== undefined && budgetKindOf(r, profile) === 'fraction') budgets.add(r.budget);
  return detectorStorageReport(profile, [...budgets].sort((x, y) => x - y)).map(snakeDetectorStorage);
}

function snakeDetectorStorage(s: DetectorStorageRow): DetectorStorageTableRow {
  return {
    row: s.budget === 0 ? 'baseline' : 'layout',
    budget_kind: 'fraction',
    budget: s.budget,
    views: s.views,
    channels: s.channels,
    reduced_channels: s.reducedChannels,
    kept_bits: s.keptBits,
    native_bits_per_frame: s.nativeBitsPerFrame,
    layout_bits_per_frame: s.layoutBitsPerFrame,
    native_bytes_per_frame: s.nativeBytesPerFrame,
    layout_bytes_per_frame: s.layoutBytesPerFrame,
    bits_per_reading: s.bitsPerReading,
    bits_per_reading_exact: s.bitsPerReadingExact,
    saving_pct: s.savingPercent,
  };
}

function snakeStorage(s: StorageRow): StorageTableRow {
  return {
    budget_kind: s.budgetKind,
    budget: s.budget,
    pixels: s.pixels,
    quantized_pixels: s.quantizedPixels,
    native_bits_per_frame: s.nativeBitsPerFrame,
    layout_bits_per_frame: s.layoutBitsPerFrame,
    native_bytes_per_frame: s.nativeBytesPerFrame,
    layout_bytes_per_frame: s.layoutBytesPerFrame,
    layout_bits_per_pixel: s.layoutBitsPerPixel,
    layout_bits_per_pixel_exact: s.layoutBitsPerPixelExact,
    compression_ratio: s.compressionRatio,
    saving_pct: s.savingPercent,
    saving_pct_exact: s.savingPercentExact,
  };
}
