/**
 * The design decision of a run list: every run grouped into designs (full precision, uniform k bits
 * fed to the baseline (a) and retrained (b), each mixed layout family at each budget, a designer's
 * layout), the Pareto front over them (pareto.ts), the decision at tolerance τ, and pareto.csv.
 * Pure: same runs, same rows, whatever their order.
 */
import type { DetectorProfile } from '../profile/types.js';
import type { RunResult } from '../runs/types.js';
import { decide, decisionRule, paretoFront, seedsNoClaim, type Decision, type DesignRow, type FrontPoint } from './pareto.js';

/** τ when none is given (`--tolerance`). */
export const DEFAULT_TOLERANCE = 0.02;

/** Columns of pareto.csv, in order. */
export const PARETO_COLUMNS = [
  'family', 'design', 'kind', 'bits_per_pixel', 'saving_pct', 'n_seeds', 'n_collapsed', 'val_dice_mean',
  'test_dice_mean', 'test_dice_lo', 'test_dice_hi', 'non_dominated', 'chosen',
] as const;

export type ParetoRow = Record<(typeof PARETO_COLUMNS)[number], string | number | boolean>;

/** The design a run belongs to: family, id and kind; undefined for runs that are no design of the front. */
export function designOf(run: RunResult): Pick<DesignRow, 'family' | 'designId' | 'kind'> | undefined {
  switch (run.setup) {
    case 'baseline':
      return { family: 'full-precision', designId: 'full-precision', kind: 'full-precision' };
    case 'all-pixels-baseline':
      return { family: 'uniform-a', designId: `uniform-a-${run.keptBits}bit`, kind: 'uniform' };
    case 'all-pixels-retrained':
      return { family: 'uniform-b', designId: `uniform-b-${run.keptBits}bit`, kind: 'uniform' };
    case 'designer':
      return { family: 'designer', designId: 'designer', kind: 'mixed' };
    default:
      // learned, random, multilevel and the fixed families, one design per budget.
      return run.budget === undefined ? undefined : { family: run.setup, designId: `${run.setup}-b${run.budget}`, kind: 'mixed' };
  }
}

/**
 * The designs of a run list, sorted by id. Validation Dice is the run's `validationDice` (NaN for
 * runs recorded before it existed, which leaves them off the front: nothing is chosen on test).
 */
export function designRows(runs: readonly RunResult[], profile: Pick<DetectorProfile, 'nativeBits'>): DesignRow[] {
  const byId = new Map<string, DesignRow & { bits: number[] }>();
  const sorted = [...runs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const run of sorted) {
    const d = designOf(run);
    if (!d) continue;
    let row = byId.get(d.designId);
    if (!row) {
      row = { ...d, bitsPerPixel: NaN, savingPct: NaN, seeds: [], bits: [] };
      byId.set(d.designId, row);
    }
    row.bits.push(run.bitsPerPixel);
    row.seeds.push({ seed: run.seed, valDice: run.validationDice?.mean ?? NaN, testDice: run.dice.mean, collapsed: run.collapsed });
  }
  return [...byId.values()]
    .map(({ bits, ...row }) => {
      const bitsPerPixel = bits.reduce((a, b) => a + b, 0) / bits.length;
      return { ...row, bitsPerPixel, savingPct: 100 * (1 - bitsPerPixel / profile.nativeBits) };
    })
    .sort((a, b) => (a.designId < b.designId ? -1 : a.designId > b.designId ? 1 : 0));
}

export interface DesignDecision {
  tolerance: number;
  front: FrontPoint[];
  /** Undefined when there is no full-precision design with a usable validation Dice (see `problem`). */
  decision?: Decision;
  problem?: string;
  /** The selection rule at τ (printed even when there is no decision). */
  rule: string;
  /** The headline in order: the decision, the mixed-vs-uniform sentence, the seed count note. */
  sentences: string[];
  rows: ParetoRow[];
}

const round = (v: number, digits: number) => (Number.isFinite(v) ? Number(v.toFixed(digits)) : '');

/** The front, the decision at τ and pareto.csv's rows of a run list. */
export function designDecision(runs: readonly RunResult[], profile: Pick<DetectorProfile, 'nativeBits'>, opts: { tolerance?: number; level?: number } = {}): DesignDecision {
  const tolerance = opts.tolerance ?? DEFAULT_TOLERANCE;
  const designs = designRows(runs, profile);
  const front = paretoFront(designs, opts.level);
  let decision: Decision | undefined;
  let problem: string | undefined;
  try {
    decision = decide(designs, { tolerance, ...(opts.level !== undefined ? { level: opts.level } : {}) });
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    problem = `No design decision: ${e.message} (it needs the full-precision baseline with validation Dice).`;
  }
  const rows: ParetoRow[] = front.map((p) => ({
    family: p.family,
    design: p.designId,
    kind: p.kind,
    bits_per_pixel: round(p.bitsPerPixel, 4),
    saving_pct: round(p.savingPct, 2),
    n_seeds: p.nSeeds,
    n_collapsed: p.nCollapsed,
    val_dice_mean: round(p.valMean, 4),
    test_dice_mean: round(p.test.estimate, 4),
    test_dice_lo: round(p.test.lo, 4),
    test_dice_hi: round(p.test.hi, 4),
    non_dominated: p.nonDominated,
    chosen: decision?.chosen.designId === p.designId,
  }));
  const sentences = decision ? [decision.headline, decision.mixedSentence] : [problem!];
  const seeds = Math.max(0, ...designs.map((d) => d.seeds.filter((s) => !s.collapsed).length));
  if (decision && seeds < 3) {
    const noClaim = seedsNoClaim(seeds);
    sentences.push(`${noClaim[0]!.toUpperCase()}${noClaim.slice(1)}. The ranking above is measured, but "beats" and "within τ" need a paired interval over at least 3 seeds: run --seeds 3 before deciding.`);
  }
  return { tolerance, rule: decisionRule(tolerance), front, ...(decision ? { decision } : {}), ...(problem ? { problem } : {}), sentences, rows };
}
