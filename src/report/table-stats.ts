/**
 * Dice statistics of groups of runs for the tables: a group's mean with a t-interval across seeds
 * and a bootstrap over test images, and paired differences between two groups matched by seed.
 * Collapsed runs are excluded and counted. Pure: each bootstrap's seed derives from the table's
 * seed and the cell's key.
 */
import type { RunResult } from '../runs/types.js';
import { bootstrapMeanInterval, columnMeans, hashString, mean, pairedDifferences, sampleStd, tInterval } from './stats.js';
import type { DiceStats, DiffStats } from './table-rows.js';

/** What every statistic of one buildTables call shares: the bootstrap seed and size, the coverage. */
export interface StatContext {
  seed: number;
  resamples: number;
  level: number;
}

/** Per-image Dice of one run for one arm (stochastic arms read diceStochastic). */
function perImage(run: RunResult, stochastic: boolean): number[] | undefined {
  return stochastic ? run.diceStochastic?.perImage : run.dice.perImage;
}

function runMean(run: RunResult, stochastic: boolean): number | undefined {
  return stochastic ? run.diceStochastic?.mean : run.dice.mean;
}

/** Mean Dice of a group with seed t-interval and image bootstrap; collapsed runs excluded and counted. */
export function diceStats(group: readonly RunResult[], stochastic: boolean, ctx: StatContext, key: string): DiceStats {
  const withEval = group.filter((r) => runMean(r, stochastic) !== undefined);
  const used = withEval.filter((r) => !r.collapsed);
  const collapsedRuns = withEval.filter((r) => r.collapsed);
  const means = used.map((r) => runMean(r, stochastic)!);
  const t = tInterval(means, ctx.level);
  const boot = imageBootstrap(used.map((r) => perImage(r, stochastic)!), ctx, key);
  return {
    n_runs: withEval.length,
    n_used: used.length,
    n_collapsed: collapsedRuns.length,
    collapsed: collapsedRuns.length === 0 ? 'none' : used.length === 0 ? 'all' : 'some',
    seeds: used.map((r) => r.seed).join(' '),
    collapsed_seeds: collapsedRuns.map((r) => r.seed).join(' '),
    dice_mean: mean(means),
    dice_sd: sampleStd(means),
    dice_seed_t_lo: t.lo,
    dice_seed_t_hi: t.hi,
    dice_image_boot_lo: boot.lo,
    dice_image_boot_hi: boot.hi,
  };
}

/**
 * Bootstrap over test images of the seed-averaged Dice: resampling images jointly for every
 * seed equals resampling the per-image average across seeds. Runs evaluated on different
 * numbers of images cannot be paired by image, so their per-image values are pooled instead.
 */
function imageBootstrap(perImageRows: number[][], ctx: StatContext, key: string): { lo: number; hi: number } {
  if (perImageRows.length === 0) return { lo: NaN, hi: NaN };
  const sameLength = perImageRows.every((r) => r.length === perImageRows[0]!.length);
  const values = sameLength ? columnMeans(perImageRows) : perImageRows.flat();
  const b = bootstrapMeanInterval(values, { seed: (ctx.seed ^ hashString(key)) >>> 0, resamples: ctx.resamples, level: ctx.level });
  return { lo: b.lo, hi: b.hi };
}

/** Paired difference a − b by seed over non-collapsed runs, with seed t-interval and image bootstrap. */
export function diffStats(
  a: readonly RunResult[], aStochastic: boolean, b: readonly RunResult[], ctx: StatContext, key: string,
): DiffStats {
  const usable = (rs: readonly RunResult[], st: boolean) =>
    new Map(rs.filter((r) => !r.collapsed && runMean(r, st) !== undefined).map((r) => [r.seed, r] as const));
  const ra = usable(a, aStochastic);
  const rb = usable(b, false);
  const { keys, diffs } = pairedDifferences(
    new Map([...ra].map(([s, r]) => [s, runMean(r, aStochastic)!])),
    new Map([...rb].map(([s, r]) => [s, r.dice.mean])),
  );
  const t = tInterval(diffs, ctx.level);
  let boot = { lo: NaN, hi: NaN };
  const rowsA = keys.map((k) => perImage(ra.get(k)!, aStochastic)!);
  const rowsB = keys.map((k) => rb.get(k)!.dice.perImage);
  const len = rowsA[0]?.length;
  if (len !== undefined && [...rowsA, ...rowsB].every((r) => r.length === len)) {
    const perImageDiff = rowsA.map((ra_, i) => ra_.map((v, j) => v - rowsB[i]![j]!));
    boot = imageBootstrap(perImageDiff, ctx, key);
  }
  return { n_pairs: keys.length, mean: mean(diffs), seed_t_lo: t.lo, seed_t_hi: t.hi, image_boot_lo: boot.lo, image_boot_hi: boot.hi };
}

/** Storage saved against native depth, in percent. */
export function savingPct(bitsPerPixel: number, nativeBits: number): number {
  return 100 * (1 - bitsPerPixel / nativeBits);
}

/** Mean bits per pixel of a group (its non-collapsed runs, or all when every run collapsed). */
export function groupBitsPerPixel(group: readonly RunResult[]): number {
  const used = group.filter((r) => !r.collapsed);
  return mean((used.length ? used : group).map((r) => r.bitsPerPixel));
}

/** The same fields with `prefix` before each name (`vs_random_`, `a_`, …), to spread into a row. */
export function prefixKeys<T extends object>(prefix: string, fields: T): Record<string, T[keyof T]> {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [`${prefix}${k}`, v]));
}
