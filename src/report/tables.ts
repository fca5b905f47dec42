/**
 * Every table of a study as a pure function of (runs, profile, options): no files, no clock, no
 * global RNG. Runs are sorted by id first, so the tables do not depend on the order runs arrive in
 * (outputs of sharded sweeps merge by concatenating run lists). Collapsed runs are never averaged
 * in: each aggregate row reports them as `n_collapsed` / `collapsed` and excludes them.
 */
import { hasBudget, learnsLayout, type RunResult, type Setup } from '../runs/types.js';
import type { Budget, DetectorProfile } from '../profile/types.js';
import { storageReport, type StorageRow } from '../profile/storage.js';
import { UserError } from '../errors.js';
import type { AdcLayout } from './layout-file.js';
import { bootstrapMeanInterval, columnMeans, hashString, mean, pairedDifferences, sampleStd, tInterval } from './stats.js';

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
  n_test_images: number;
  collapsed: boolean;
  collapse_reason?: string;
  epochs: number;
  final_loss?: number;
  final_val_dice?: number;
  train_seconds: number;
  backend: string;
}

export const RUN_COLUMNS = [
  'id', 'setup', 'seed', 'kept_bits', 'budget', 'bits_per_pixel', 'dice_mean', 'dice_pooled', 'empty_prediction_share',
  'dice_stochastic_mean', 'n_test_images', 'collapsed', 'collapse_reason', 'epochs', 'final_loss', 'final_val_dice',
  'train_seconds', 'backend',
] as const satisfies readonly (keyof RunRow)[];

/** Which evaluation a trade-off row summarises. */
export type Arm = 'learned' | 'learned-stochastic' | 'random' | 'multilevel' | 'multilevel-stochastic' | 'baseline';

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
  storage: StorageTableRow[];
  layout: LayoutRow[];
  /** The run layout.csv was taken from (undefined when no run has a layout). */
  layoutRun?: RunResult;
  verdicts: Verdict[];
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
  return {
    runs: sorted.map(runRow),
    tradeoff,
    study: studyRows(sorted, profile, ctx),
    storage: storageRows(sorted, profile),
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

interface StatContext {
  seed: number;
  resamples: number;
  level: number;
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
    n_test_images: r.dice.perImage.length,
    collapsed: r.collapsed,
    collapse_reason: r.collapseReason,
    epochs: r.history.length,
    final_loss: last?.loss,
    final_val_dice: lastVal?.valDice,
    train_seconds: r.trainSeconds,
    backend: r.backend,
  };
}

/** The budget kind a run's `budget` is in: multilevel is always bits per pixel, others follow the profile. */
export function budgetKindOf(run: RunResult, profile: DetectorProfile): Budget['kind'] {
  return run.setup === 'multilevel' ? 'bitsPerPixel' : profile.budget.kind;
}

/** Per-image Dice of one run for one arm (stochastic arms read diceStochastic). */
function perImage(run: RunResult, stochastic: boolean): number[] | undefined {
  return stochastic ? run.diceStochastic?.perImage : run.dice.perImage;
}

function runMean(run: RunResult, stochastic: boolean): number | undefined {
  return stochastic ? run.diceStochastic?.mean : run.dice.mean;
}

/** Mean Dice of a group with seed t-interval and image bootstrap; collapsed runs excluded and counted. */
function diceStats(group: readonly RunResult[], stochastic: boolean, ctx: StatContext, key: string): DiceStats {
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
function diffStats(
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

function savingPct(bitsPerPixel: number, nativeBits: number): number {
  return 100 * (1 - bitsPerPixel / nativeBits);
}

function groupBitsPerPixel(group: readonly RunResult[]): number {
  const used = group.filter((r) => !r.collapsed);
  return mean((used.length ? used : group).map((r) => r.bitsPerPixel));
}

function tradeoffRows(runs: readonly RunResult[], profile: DetectorProfile, ctx: StatContext): TradeoffRow[] {
  const baseline = runs.filter((r) => r.setup === 'baseline');
  const budgeted = runs.filter((r) => hasBudget(r.setup) && r.budget !== undefined);
  const keys = new Map<string, { kind: Budget['kind']; budget: number }>();
  for (const r of budgeted) {
    const kind = budgetKindOf(r, profile);
    keys.set(`${kind}:${r.budget}`, { kind, budget: r.budget! });
  }
  // The profile's budget kind first (its sweep is the study), then the other kind (multilevel runs).
  const rank = (k: Budget['kind']) => (k === profile.budget.kind ? 0 : 1);
  const ordered = [...keys.values()].sort((x, y) => (x.kind === y.kind ? x.budget - y.budget : rank(x.kind) - rank(y.kind)));
  const rows: TradeoffRow[] = [];
  for (const { kind, budget } of ordered) {
    const at = (setup: Setup) => budgeted.filter((r) => r.setup === setup && r.budget === budget && budgetKindOf(r, profile) === kind);
    const random = at('random');
    const arms: Array<{ arm: Arm; group: RunResult[]; stochastic: boolean }> = [
      { arm: 'learned', group: at('learned'), stochastic: false },
      { arm: 'learned-stochastic', group: at('learned'), stochastic: true },
      { arm: 'multilevel', group: at('multilevel'), stochastic: false },
      { arm: 'multilevel-stochastic', group: at('multilevel'), stochastic: true },
      { arm: 'random', group: random, stochastic: false },
    ];
    for (const { arm, group, stochastic } of arms) {
      if (group.length === 0 || (stochastic && group.every((r) => r.diceStochastic === undefined))) continue;
      const key = `tradeoff:${kind}:${budget}:${arm}`;
      const row: TradeoffRow = {
        budget_kind: kind,
        budget,
        arm,
        bits_per_pixel: groupBitsPerPixel(group),
        storage_saving_pct: savingPct(groupBitsPerPixel(group), profile.nativeBits),
        ...diceStats(group, stochastic, ctx, key),
      };
      if (arm !== 'random' && random.length > 0) {
        const d = diffStats(group, stochastic, random, ctx, `${key}:vs_random`);
        Object.assign(row, prefixDiff('vs_random_', d));
      }
      if (baseline.length > 0) Object.assign(row, prefixDiff('vs_baseline_', diffStats(group, stochastic, baseline, ctx, `${key}:vs_baseline`)));
      rows.push(row);
    }
    if (baseline.length > 0) {
      rows.push({
        budget_kind: kind,
        budget,
        arm: 'baseline',
        bits_per_pixel: groupBitsPerPixel(baseline),
        storage_saving_pct: savingPct(groupBitsPerPixel(baseline), profile.nativeBits),
        ...diceStats(baseline, false, ctx, 'baseline'),
      });
    }
  }
  return rows;
}

function prefixDiff(prefix: string, d: DiffStats): Record<string, number> {
  return Object.fromEntries(Object.entries(d).map(([k, v]) => [`${prefix}${k}`, v]));
}

function studyRows(runs: readonly RunResult[], profile: DetectorProfile, ctx: StatContext): StudyRow[] {
  const baseline = runs.filter((r) => r.setup === 'baseline');
  const a = runs.filter((r) => r.setup === 'all-pixels-baseline' && r.keptBits !== undefined);
  const b = runs.filter((r) => r.setup === 'all-pixels-retrained' && r.keptBits !== undefined);
  if (a.length === 0 && b.length === 0) return [];
  const rows: StudyRow[] = [];
  if (baseline.length > 0) {
    const s = diceStats(baseline, false, ctx, 'baseline');
    rows.push({ row: 'baseline', kept_bits: profile.nativeBits, storage_saving_pct: 0, ...prefixStats('a_', s), ...prefixStats('b_', s) });
  }
  const levels = [...new Set([...a, ...b].map((r) => r.keptBits!))].sort((x, y) => y - x);
  for (const k of levels) {
    const row: StudyRow = { row: 'level', kept_bits: k, storage_saving_pct: savingPct(k, profile.nativeBits) };
    for (const [prefix, group] of [['a_', a.filter((r) => r.keptBits === k)], ['b_', b.filter((r) => r.keptBits === k)]] as const) {
      if (group.length === 0) continue;
      const key = `study:${prefix}${k}`;
      Object.assign(row, prefixStats(prefix, diceStats(group, false, ctx, key)));
      if (baseline.length > 0) {
        Object.assign(row, prefixDiff(`${prefix}minus_baseline_`, diffStats(group, false, baseline, ctx, `${key}:vs_baseline`)));
      }
    }
    rows.push(row);
  }
  return rows;
}

function prefixStats(prefix: string, s: DiceStats): Record<string, string | number> {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [`${prefix}${k}`, v]));
}

/** Storage rows for the profile's budget, its sweep and every budget a run used (profile's kind only). */
function storageRows(runs: readonly RunResult[], profile: DetectorProfile): StorageTableRow[] {
  const budgets = new Set<number>([profile.budget.value, ...profile.sweep]);
  for (const r of runs) if (r.budget !== undefined && budgetKindOf(r, profile) === profile.budget.kind) budgets.add(r.budget);
  return storageReport(profile, [...budgets].sort((x, y) => x - y)).map(snakeStorage);
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

/**
 * The run whose layout is exported: `layoutRunId` when given; otherwise a learned or multilevel
 * run with a layout, preferring non-collapsed, then the profile's budget, then the lowest seed, then id.
 */
export function pickLayoutRun(runs: readonly RunResult[], profile: DetectorProfile, layoutRunId?: string): RunResult | undefined {
  if (layoutRunId !== undefined) {
    const r = runs.find((x) => x.id === layoutRunId);
    if (!r) throw new UserError(`no run with id ${JSON.stringify(layoutRunId)} for the layout`);
    if (!r.hardwareLayout && !r.bitsMap) throw new UserError(`run ${layoutRunId} has no hardware layout or bits map`);
    return r;
  }
  const candidates = runs.filter((r) => learnsLayout(r.setup) && (r.hardwareLayout || r.bitsMap));
  const score = (r: RunResult): [number, number, number, string] => [
    r.collapsed ? 1 : 0,
    r.budget === profile.budget.value && budgetKindOf(r, profile) === profile.budget.kind ? 0 : 1,
    r.seed,
    r.id,
  ];
  return candidates.sort((x, y) => {
    const sx = score(x);
    const sy = score(y);
    for (let i = 0; i < 4; i++) if (sx[i] !== sy[i]) return sx[i]! < sy[i]! ? -1 : 1;
    return 0;
  })[0];
}

/** ADC bits per pixel of a run's hardware layout, row-major rows×cols (native where not quantized). */
export function adcBitsOf(run: RunResult, profile: DetectorProfile): number[] {
  const n = run.rows * run.cols;
  if (run.bitsMap) {
    if (run.bitsMap.length !== n) throw new UserError(`run ${run.id}: bitsMap has ${run.bitsMap.length} values, expected ${n}`);
    return run.bitsMap;
  }
  if (run.hardwareLayout) {
    if (run.hardwareLayout.length !== n) throw new UserError(`run ${run.id}: hardwareLayout has ${run.hardwareLayout.length} values, expected ${n}`);
    const reduced = run.keptBits ?? profile.modes[profile.modes.length - 1]!;
    return run.hardwareLayout.map((q) => (q ? reduced : run.nativeBits));
  }
  throw new UserError(`run ${run.id} has no layout`);
}

/**
 * A run's layout at detector resolution (profile rows×cols). Runs train on a grid of layout cells
 * (e.g. 64×64); detector pixel (r, c) takes the bits of cell (⌊r·cellRows/rows⌋, ⌊c·cellCols/cols⌋),
 * so when the detector size is a multiple of the grid each cell is one block of pixels.
 */
export function detectorLayout(run: RunResult, profile: DetectorProfile): AdcLayout {
  const cellBits = adcBitsOf(run, profile);
  const { rows, cols } = profile;
  const bits = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const cr = Math.floor((r * run.rows) / rows);
    for (let c = 0; c < cols; c++) bits[r * cols + c] = cellBits[cr * run.cols + Math.floor((c * run.cols) / cols)]!;
  }
  // The profile's modes plus any reduced depth the run used (a study level outside the profile).
  const used = new Set<number>(profile.modes);
  for (const b of cellBits) if (b !== profile.nativeBits) used.add(b);
  return { rows, cols, nativeBits: profile.nativeBits, modes: [...used].sort((a, b) => b - a), bits };
}

/** layout.csv rows at detector resolution; probability is that of the pixel's layout cell. */
function layoutRows(run: RunResult, profile: DetectorProfile): LayoutRow[] {
  const { bits } = detectorLayout(run, profile);
  const { rows, cols } = profile;
  const out: LayoutRow[] = [];
  for (let r = 0; r < rows; r++) {
    const cr = Math.floor((r * run.rows) / rows);
    for (let c = 0; c < cols; c++) {
      const cell = cr * run.cols + Math.floor((c * run.cols) / cols);
      out.push({ row: r, col: c, probability: run.probabilityMap?.[cell], adc_bits: bits[r * cols + c]! });
    }
  }
  return out;
}

function verdicts(tradeoff: readonly TradeoffRow[]): Verdict[] {
  const out: Verdict[] = [];
  for (const row of tradeoff) {
    if (!learnsLayout(row.arm)) continue;
    const random = tradeoff.find((r) => r.arm === 'random' && r.budget === row.budget && r.budget_kind === row.budget_kind);
    if (!random) continue; // no control at this budget: nothing to compare
    const base = {
      budget_kind: row.budget_kind as Budget['kind'],
      budget: row.budget,
      arm: row.arm,
      learned_mean: row.dice_mean,
      random_mean: random.dice_mean,
      diff: row.vs_random_mean ?? NaN,
    };
    const pairs = row.vs_random_n_pairs ?? 0;
    let interval: Verdict['interval'] = 'none';
    let lo = NaN;
    let hi = NaN;
    if (pairs >= 2) {
      interval = 'seed_t';
      lo = row.vs_random_seed_t_lo!;
      hi = row.vs_random_seed_t_hi!;
    } else if (pairs === 1 && Number.isFinite(row.vs_random_image_boot_lo)) {
      interval = 'image_boot';
      lo = row.vs_random_image_boot_lo!;
      hi = row.vs_random_image_boot_hi!;
    }
    const outcome: Verdict['outcome'] =
      interval === 'none' ? 'not comparable' : lo > 0 ? 'better' : hi < 0 ? 'worse' : 'no clear difference';
    out.push({ ...base, lo, hi, interval, outcome });
  }
  return out;
}
