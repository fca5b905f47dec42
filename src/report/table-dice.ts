/**
 * The Dice tables: tradeoff.csv (every arm at every budget, against the random control and the
 * baseline), study.csv (kept-bits levels, setups (a) and (b) side by side) and the verdicts of
 * learned against random drawn from the trade-off rows.
 */
import { hasBudget, learnsLayout, type RunResult, type Setup } from '../runs/types.js';
import type { Budget, DetectorProfile } from '../profile/types.js';
import { budgetKindOf, type Arm, type StudyRow, type TradeoffRow, type Verdict } from './table-rows.js';
import { diceStats, diffStats, groupBitsPerPixel, prefixKeys, savingPct, type StatContext } from './table-stats.js';

/** tradeoff.csv: per budget (the profile's kind first), each arm with its paired differences, then the baseline. */
export function tradeoffRows(runs: readonly RunResult[], profile: DetectorProfile, ctx: StatContext): TradeoffRow[] {
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
      // The fixed families (absent in folders made before them: no rows, the table is unchanged).
      { arm: 'dither', group: at('dither'), stochastic: false },
      { arm: 'blue-noise', group: at('blue-noise'), stochastic: false },
      { arm: 'content', group: at('content'), stochastic: false },
      { arm: 'lesion', group: at('lesion'), stochastic: false },
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
        Object.assign(row, prefixKeys('vs_random_', d));
      }
      if (baseline.length > 0) Object.assign(row, prefixKeys('vs_baseline_', diffStats(group, stochastic, baseline, ctx, `${key}:vs_baseline`)));
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

/** study.csv: the baseline row, then one row per kept-bits level, deepest first; empty without study runs. */
export function studyRows(runs: readonly RunResult[], profile: DetectorProfile, ctx: StatContext): StudyRow[] {
  const baseline = runs.filter((r) => r.setup === 'baseline');
  const a = runs.filter((r) => r.setup === 'all-pixels-baseline' && r.keptBits !== undefined);
  const b = runs.filter((r) => r.setup === 'all-pixels-retrained' && r.keptBits !== undefined);
  if (a.length === 0 && b.length === 0) return [];
  const rows: StudyRow[] = [];
  if (baseline.length > 0) {
    const s = diceStats(baseline, false, ctx, 'baseline');
    rows.push({ row: 'baseline', kept_bits: profile.nativeBits, storage_saving_pct: 0, ...prefixKeys('a_', s), ...prefixKeys('b_', s) });
  }
  const levels = [...new Set([...a, ...b].map((r) => r.keptBits!))].sort((x, y) => y - x);
  for (const k of levels) {
    const row: StudyRow = { row: 'level', kept_bits: k, storage_saving_pct: savingPct(k, profile.nativeBits) };
    for (const [prefix, group] of [['a_', a.filter((r) => r.keptBits === k)], ['b_', b.filter((r) => r.keptBits === k)]] as const) {
      if (group.length === 0) continue;
      const key = `study:${prefix}${k}`;
      Object.assign(row, prefixKeys(prefix, diceStats(group, false, ctx, key)));
      if (baseline.length > 0) {
        Object.assign(row, prefixKeys(`${prefix}minus_baseline_`, diffStats(group, false, baseline, ctx, `${key}:vs_baseline`)));
      }
    }
    rows.push(row);
  }
  return rows;
}

/** The verdict of each learned or multilevel row that has a random control at its budget. */
export function verdicts(tradeoff: readonly TradeoffRow[]): Verdict[] {
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
