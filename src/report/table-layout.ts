/**
 * Which run's layout a report exports, and that layout as ADC bits per detector pixel:
 * the layout file, the maps and layout.csv all read it from here.
 */
import { learnsLayout, type RunResult } from '../runs/types.js';
import type { DetectorProfile } from '../profile/types.js';
import { UserError } from '../errors.js';
import type { AdcLayout } from '../layout-io/layout-file.js';
import { budgetKindOf, type LayoutRow } from './table-rows.js';

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
export function layoutRows(run: RunResult, profile: DetectorProfile): LayoutRow[] {
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
