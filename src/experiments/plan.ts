import type { DetectorProfile } from '../profile/types.js';
import { FIXED_FAMILIES, type FixedFamily, type Setup } from '../runs/types.js';

/** What a command runs; experiment.json records it, and a worker process runs the same kind. */
export type ExperimentKind = 'train' | 'study' | 'sweep' | 'demo';
export const EXPERIMENT_KINDS: readonly ExperimentKind[] = ['train', 'study', 'sweep', 'demo'];

/**
 * A unit of work that trains one model: sweeps and studies are lists of these, and shards of a
 * sweep are every n-th point. A baseline point also evaluates setup (a): the baseline fed
 * all-pixel-quantized input at every kept-bits level, which needs no training of its own.
 */
export interface PlanPoint {
  /** Unique; names the checkpoint and the run files it writes. */
  id: string;
  setup: Exclude<Setup, 'all-pixels-baseline'>;
  seed: number;
  keptBits?: number;
  budget?: number;
  /** Baseline points: kept-bits levels at which to evaluate setup (a). */
  evaluateAllPixelsAt?: number[];
  /**
   * Fixed-layout points whose layout is given rather than drawn (a designer's layout; a stored run's
   * layout when its model is rebuilt): ADC bits per pixel, row-major size×size.
   */
  layoutBits?: number[];
  /** Designer points: the layout file as given on the command line. */
  layoutFile?: string;
}

/** A designer's own layout (`--layout FILE`), read at the training size; experiment.json records it for the workers. */
export interface DesignerLayout {
  file: string;
  /** ADC bits per pixel, row-major size×size, each the native depth or one of the profile's modes. */
  bits: number[];
}

/** What a plan may add to the learned layouts and their random control. */
export interface PlanExtras {
  /** Fixed layout families run next to the random control at each budget (default: all of them). */
  families?: readonly FixedFamily[];
  /** A designer's layout, run once per seed. */
  designer?: DesignerLayout;
}

export function runId(setup: Setup, seed: number, extra: { keptBits?: number; budget?: number } = {}): string {
  const parts: string[] = [setup];
  if (extra.keptBits !== undefined) parts.push(`k${extra.keptBits}`);
  if (extra.budget !== undefined) parts.push(`b${extra.budget}`);
  parts.push(`s${seed}`);
  return parts.join('-');
}

/** Seeds seed0, seed0+1, ... */
export function seedList(seed0: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => seed0 + i);
}

/** Kept-bits levels of the study: native−1 down to 1. */
export function studyBitLevels(profile: DetectorProfile): number[] {
  return Array.from({ length: profile.nativeBits - 1 }, (_, i) => profile.nativeBits - 1 - i);
}

/** The reduced mode single-mode setups use: the profile's lowest kept bits. */
export function reducedMode(profile: DetectorProfile): number {
  return Math.min(...profile.modes);
}

function baselinePoint(profile: DetectorProfile, seed: number, withAllPixels: boolean): PlanPoint {
  return {
    id: runId('baseline', seed),
    setup: 'baseline',
    seed,
    evaluateAllPixelsAt: withAllPixels ? studyBitLevels(profile) : [],
  };
}

function budgetPoints(profile: DetectorProfile, budget: number, seed: number, families: readonly FixedFamily[]): PlanPoint[] {
  // The fixed families after the learned layout and the random control, so the ids and order of those stay as before.
  const controls = ['random', ...FIXED_FAMILIES.filter((f) => families.includes(f))] as const;
  if (profile.budget.kind === 'bitsPerPixel')
    return [
      { id: runId('multilevel', seed, { budget }), setup: 'multilevel', seed, budget },
      ...controls.map((setup): PlanPoint => ({ id: runId(setup, seed, { budget }), setup, seed, budget })),
    ];
  const keptBits = reducedMode(profile);
  return [
    { id: runId('learned', seed, { keptBits, budget }), setup: 'learned', seed, keptBits, budget },
    ...controls.map((setup): PlanPoint => ({ id: runId(setup, seed, { keptBits, budget }), setup, seed, keptBits, budget })),
  ];
}

/**
 * Detector space (a profile with a `detector` section): the uniform designs retrained in a study are
 * those at the same stored bits as each budget's mixed layout, round((1 − b)·native + b·k), and k itself,
 * descending; setup (a) still evaluates every level. A channel retraining costs a reconstruction per
 * image and step, so the study trains the comparisons it reports, not all native − 1 levels.
 */
export function detectorRetrainLevels(profile: DetectorProfile, budgets: number[]): number[] {
  const k = reducedMode(profile);
  const levels = new Set([k, ...budgets.map((b) => Math.round((1 - b) * profile.nativeBits + b * k))]);
  return [...levels].filter((bits) => bits >= 1 && bits < profile.nativeBits).sort((a, b) => b - a);
}

/**
 * The point of a designer's layout: a fixed layout, its U-Net trained as the random control's. A
 * layout that uses one reduced mode is a mask at that mode (keptBits set); otherwise ADC bits per pixel.
 */
export function designerPoint(profile: DetectorProfile, layout: DesignerLayout, seed: number): PlanPoint {
  const reduced = [...new Set(layout.bits.filter((b) => b < profile.nativeBits))];
  return {
    id: runId('designer', seed),
    setup: 'designer',
    seed,
    ...(reduced.length === 1 ? { keptBits: reduced[0]! } : {}),
    layoutBits: layout.bits,
    layoutFile: layout.file,
  };
}


/** The published comparison: baseline (+ setup a), retrained at each bit level (b), learned and random at the profile's budget (or the given ones). */
export function planStudy(
  profile: DetectorProfile,
  seeds: number[],
  opts: { bitLevels?: number[]; budgets?: number[]; retrainLevels?: number[] } & PlanExtras = {},
): PlanPoint[] {
  const families = opts.families ?? FIXED_FAMILIES;
  const levels = opts.bitLevels ?? studyBitLevels(profile);
  const budgets = opts.budgets?.length ? opts.budgets : [profile.budget.value];
  const retrain = opts.retrainLevels ?? levels;
  const points: PlanPoint[] = [];
  for (const seed of seeds) {
    points.push({ ...baselinePoint(profile, seed, true), evaluateAllPixelsAt: levels });
    for (const keptBits of retrain)
      points.push({ id: runId('all-pixels-retrained', seed, { keptBits }), setup: 'all-pixels-retrained', seed, keptBits });
    for (const b of budgets) points.push(...budgetPoints(profile, b, seed, families));
    if (opts.designer) points.push(designerPoint(profile, opts.designer, seed));
  }
  return points;
}

/**
 * The trainable layer, the random control and the fixed families at each budget (and a designer's
 * layout when given), plus the baseline for reference. The
 * baseline also evaluates setup (a) at every kept-bits level (evaluation only, no training), so
 * uniform designs stand on the same front as the layouts with every seed.
 */
export function planSweep(profile: DetectorProfile, budgets: number[], seeds: number[], extras: PlanExtras = {}): PlanPoint[] {
  const families = extras.families ?? FIXED_FAMILIES;
  const points: PlanPoint[] = [];
  for (const seed of seeds) {
    points.push(baselinePoint(profile, seed, true));
    for (const b of budgets) points.push(...budgetPoints(profile, b, seed, families));
    if (extras.designer) points.push(designerPoint(profile, extras.designer, seed));
  }
  return points;
}

/** Parses `i/n` (1-based i; spaces around the slash allowed) into a 0-based index and a count. */
export function parseShard(text: string): { index: number; count: number } {
  const m = /^\s*(\d{1,9})\s*\/\s*(\d{1,9})\s*$/.exec(text);
  const i = m ? Number(m[1]) : NaN;
  const n = m ? Number(m[2]) : NaN;
  if (!m || n < 1 || i < 1 || i > n) throw new RangeError(`expected i/n with 1 <= i <= n, got "${text}"`);
  return { index: i - 1, count: n };
}

/** Every n-th point, starting at the shard's index: shards are disjoint and together cover the plan. */
export function shardPoints<T>(points: T[], shard: { index: number; count: number }): T[] {
  return points.filter((_, i) => i % shard.count === shard.index);
}
