/**
 * The study's figures as plot specs built purely from the tables and runs (renderable with
 * svg-plot). Error bars are the 95% t-interval across seeds where a point has ≥ 2 seeds, else the
 * bootstrap interval over test images; collapsed runs appear as grey crosses, outside every mean.
 */
import { hasBudget, type RunResult, type Setup } from '../runs/types.js';
import type { DetectorProfile } from '../profile/types.js';
import type { DiceStats, Tables, TradeoffRow } from './table-rows.js';
import { GREY, PALETTE, type PlotPoint, type PlotSpec, type Series } from './svg-plot.js';

const ARM_STYLE: Record<string, { name: string; color: string; dashed?: boolean; marker?: Series['marker'] }> = {
  learned: { name: 'learned layout (hardware)', color: PALETTE[0] },
  'learned-stochastic': { name: 'learned (stochastic masks)', color: PALETTE[5], dashed: true },
  multilevel: { name: 'multi-level (hardware)', color: PALETTE[3] },
  'multilevel-stochastic': { name: 'multi-level (stochastic)', color: PALETTE[3], dashed: true },
  random: { name: 'random control', color: PALETTE[1], marker: 'square' },
  // The fixed families, in pareto-plot.ts's colours and markers.
  dither: { name: 'ordered dither (Bayer)', color: PALETTE[3], marker: 'triangle', dashed: true },
  'blue-noise': { name: 'blue noise', color: PALETTE[5], marker: 'triangle', dashed: true },
  content: { name: 'content (outside body first)', color: '#999933', marker: 'diamond', dashed: true },
  lesion: { name: 'lesion frequency (rarest first)', color: '#AA4499', marker: 'square', dashed: true },
};

const SETUP_COLOUR: Record<Setup, string> = {
  baseline: PALETTE[7],
  'all-pixels-baseline': PALETTE[2],
  'all-pixels-retrained': PALETTE[4],
  learned: PALETTE[0],
  random: PALETTE[1],
  multilevel: PALETTE[3],
  dither: PALETTE[3],
  'blue-noise': PALETTE[5],
  content: '#999933',
  lesion: '#AA4499',
  designer: '#882255',
};

/** The interval a plot shows for an aggregate: across seeds with ≥ 2 seeds, else over test images. */
export function plotInterval(s: Pick<DiceStats, 'n_used' | 'dice_seed_t_lo' | 'dice_seed_t_hi' | 'dice_image_boot_lo' | 'dice_image_boot_hi'>): { lo: number; hi: number } {
  return s.n_used >= 2 ? { lo: s.dice_seed_t_lo, hi: s.dice_seed_t_hi } : { lo: s.dice_image_boot_lo, hi: s.dice_image_boot_hi };
}

function point(x: number, s: DiceStats): PlotPoint {
  return { x, y: s.dice_mean, ...plotInterval(s) };
}

function collapsedSeries(runs: readonly RunResult[], x: (r: RunResult) => number | undefined): Series[] {
  const pts = runs.filter((r) => r.collapsed && x(r) !== undefined).map((r) => ({ x: x(r)!, y: r.dice.mean }));
  return pts.length ? [{ name: 'collapsed run (excluded)', color: GREY, points: pts, style: 'points', marker: 'cross' }] : [];
}

/** Dice lives in [0, 1]; a fixed axis keeps figures comparable and clips intervals that run past 1. */
const DICE_DOMAIN: [number, number] = [-0.02, 1.02];

const NOTE = 'Bars/bands: 95% t-interval across seeds (≥ 2 seeds), else 95% bootstrap over test images.';

/** Dice against the budget of the profile's kind: learned, stochastic, random, baseline band. */
export function diceVsBudgetSpec(tables: Tables, runs: readonly RunResult[], profile: DetectorProfile, images = 'test images'): PlotSpec | undefined {
  const kind = profile.budget.kind;
  const rows = tables.tradeoff.filter((r) => r.budget_kind === kind);
  if (rows.length === 0) return undefined;
  const series: Series[] = [];
  for (const arm of Object.keys(ARM_STYLE)) {
    const armRows = rows.filter((r) => r.arm === arm && r.n_used > 0);
    if (armRows.length === 0) continue;
    const st = ARM_STYLE[arm]!;
    series.push({ name: st.name, color: st.color, dashed: st.dashed, marker: st.marker, style: arm === 'random' ? 'band' : 'line', points: armRows.map((r) => point(r.budget, r)) });
  }
  const base = rows.find((r) => r.arm === 'baseline' && r.n_used > 0);
  if (base) series.push({ name: 'full-precision baseline', color: SETUP_COLOUR.baseline, style: 'hline', dashed: true, points: [point(0, base)] });
  series.push(...collapsedSeries(runs.filter((r) => hasBudget(r.setup)), (r) => r.budget));
  const xLabel = kind === 'fraction' ? `budget: fraction of pixels on the ${profile.modes[profile.modes.length - 1]}-bit ADC` : 'budget: expected bits per pixel';
  return { title: `Dice vs. budget (${profile.name})`, xLabel, yLabel: `Dice (mean over ${images})`, series, note: NOTE, yDomain: DICE_DOMAIN };
}

/** Dice against stored bits per pixel: bit-depth study (a), (b), baseline, learned / random points. */
export function diceVsBitsSpec(tables: Tables, runs: readonly RunResult[], profile: DetectorProfile, images = 'test images'): PlotSpec | undefined {
  const series: Series[] = [];
  const levels = tables.study.filter((r) => r.row === 'level');
  for (const [prefix, name, colour] of [
    ['a_', '(a) all pixels, baseline U-Net', SETUP_COLOUR['all-pixels-baseline']],
    ['b_', '(b) all pixels, retrained U-Net', SETUP_COLOUR['all-pixels-retrained']],
  ] as const) {
    const pts: PlotPoint[] = [];
    for (const r of levels) {
      const nUsed = r[`${prefix}n_used`];
      if (typeof nUsed !== 'number' || nUsed === 0) continue;
      const s = Object.fromEntries(Object.entries(r).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v])) as unknown as DiceStats;
      pts.push(point(r.kept_bits, s));
    }
    if (pts.length) series.push({ name, color: colour, points: pts, style: 'line' });
  }
  const byArm = (arm: TradeoffRow['arm']) => tables.tradeoff.filter((r) => r.arm === arm && r.n_used > 0);
  for (const arm of ['learned', 'multilevel', 'random', 'dither', 'blue-noise', 'content', 'lesion'] as const) {
    const rows = byArm(arm);
    if (rows.length === 0) continue;
    const st = ARM_STYLE[arm]!;
    series.push({ name: st.name, color: st.color, marker: st.marker, style: 'points', points: rows.map((r) => point(r.bits_per_pixel, r)) });
  }
  const base = tables.tradeoff.find((r) => r.arm === 'baseline' && r.n_used > 0) ?? undefined;
  const baseStudy = tables.study.find((r) => r.row === 'baseline');
  if (base) {
    series.push({ name: 'full-precision baseline', color: SETUP_COLOUR.baseline, style: 'points', marker: 'square', points: [point(profile.nativeBits, base)] });
  } else if (baseStudy && typeof baseStudy.a_n_used === 'number' && baseStudy.a_n_used > 0) {
    series.push({ name: 'full-precision baseline', color: SETUP_COLOUR.baseline, style: 'points', marker: 'square', points: [{ x: profile.nativeBits, y: baseStudy.a_dice_mean as number }] });
  }
  series.push(...collapsedSeries(runs.filter((r) => r.setup !== 'baseline'), (r) => r.bitsPerPixel));
  if (series.length === 0) return undefined;
  return { title: 'Dice vs. stored bits per pixel', xLabel: 'bits per pixel (expected, stored)', yLabel: `Dice (mean over ${images})`, series, note: NOTE, yDomain: DICE_DOMAIN };
}

/** The epoch a run kept (keepBestEpoch) when it is not its last, else undefined. */
function keptEarlierEpoch(r: RunResult): number | undefined {
  return r.keptEpoch !== undefined && r.keptEpoch !== r.history.length ? r.keptEpoch : undefined;
}

/**
 * "; a dot marks the epoch a run kept (…)" for the training curves' caption when some run ended on
 * an earlier epoch than its last (keepBestEpoch), else "".
 */
export function keptEpochClause(runs: readonly RunResult[]): string {
  const earlier = runs.filter((r) => keptEarlierEpoch(r) !== undefined);
  if (earlier.length === 0) return '';
  const named = earlier.slice(0, 4).map((r) => `${r.id}: ${r.keptEpoch} of ${r.history.length}`).join(', ');
  return `; a dot marks the epoch a run kept, its best validation Dice, where that is not its last (${earlier.length} of ${runs.filter((r) => r.history.length > 0).length} runs: ${named}${earlier.length > 4 ? ', …' : ''})`;
}

/** Loss and validation Dice per epoch, one line per run, coloured by setup; collapsed runs dashed; the kept epoch (keepBestEpoch) dotted. */
export function trainingCurveSpecs(runs: readonly RunResult[]): PlotSpec[] {
  const withHistory = [...runs].filter((r) => r.history.length > 0).sort((a, b) => (a.id < b.id ? -1 : 1));
  if (withHistory.length === 0) return [];
  const build = (value: (h: RunResult['history'][number]) => number | undefined, title: string, yLabel: string, yDomain?: [number, number], markKept = false): PlotSpec => {
    const seen = new Set<Setup>();
    const series: Series[] = [];
    for (const r of withHistory) {
      const pts = r.history.filter((h) => value(h) !== undefined).map((h) => ({ x: h.epoch, y: value(h)! }));
      if (pts.length === 0) continue;
      series.push({
        name: r.setup,
        color: SETUP_COLOUR[r.setup],
        points: pts,
        marker: pts.length > 1 ? 'none' : 'circle',
        dashed: r.collapsed,
        hideInLegend: true,
      });
      // The epoch whose weights the run was evaluated with (keepBestEpoch), where it is not the last.
      const kept = markKept && keptEarlierEpoch(r) !== undefined ? pts.find((p) => p.x === r.keptEpoch) : undefined;
      if (kept) series.push({ name: 'kept epoch', color: SETUP_COLOUR[r.setup], points: [kept], style: 'points', marker: 'circle', hideInLegend: true });
      seen.add(r.setup);
    }
    // One legend entry per setup, drawn solid whatever its first run looked like.
    for (const setup of seen) series.push({ name: setup, color: SETUP_COLOUR[setup], points: [], marker: 'none' });
    if (withHistory.some((r) => r.collapsed)) series.push({ name: 'collapsed run (dashed)', color: GREY, points: [], dashed: true, marker: 'none' });
    if (series.some((x) => x.name === 'kept epoch')) series.push({ name: 'kept epoch (best)', color: GREY, points: [], style: 'points', marker: 'circle' });
    return { title, xLabel: 'epoch', yLabel, series, yDomain };
  };
  return [
    build((h) => h.loss, 'Training loss', 'loss'),
    build((h) => h.valDice, 'Validation Dice', 'Dice (mean per image)', DICE_DOMAIN, true),
  ];
}
