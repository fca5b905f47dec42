/**
 * A prior for a learned layout: the logits start in the order of a fixed family's reduction order
 * (the content heuristic, quant/content.ts), so training refines the best fixed design instead of
 * starting from p ≈ ½ everywhere. The probabilities span LOUPE's init range (p uniform in
 * (0.01, 0.99), Bahadir et al. 2020), assigned by rank instead of at random:
 *   p(rank) = 0.99 − 0.98·(rank + ½)/cells,  w = logit(p) / slope,
 * so the cells the order reduces first start near 1, those it reduces last near 0, and the ones at
 * the budget's edge stay the easiest to swap. Cells (layout-family.ts) are ranked by the mean
 * position of their pixels in the order. Pure: the order comes from the training split alone.
 *
 * A multi-level layout has a different best fixed design: the uniform ADC of its budget (the
 * design decision's finding, RESULTS.md). `uniformLevelLogits` starts it there, so training can
 * only move bits between pixels away from that design, not rebuild one from p = 1/K.
 */
import { checkLevelBudget, checkOrder } from './reduction-order.js';
import { cellCount, cellOfPixel, cellTopCountLayout, pixelsPerCell, type CellGeometry } from './layout-family.js';
import { pixelsForBudget } from './budget.js';
import { LOUPE_INIT_P } from './layer.js';
import { ditherOrder } from './dither.js';

const [P_LOW, P_HIGH] = LOUPE_INIT_P;

/**
 * Initial cell logits (row-major cellRows×cellCols) from a pixel reduction order (a permutation of
 * the rows·cols pixel indices, first = reduced first). With one pixel per cell the hardware layout of
 * these logits is the order's own mask at every budget (maskFromOrder), bit for bit.
 */
export function priorCellLogits(order: ArrayLike<number>, g: CellGeometry, slope: number): Float32Array {
  const n = g.rows * g.cols;
  checkOrder(order, n);
  if (!(slope > 0)) throw new RangeError(`slope must be positive, got ${slope}`);
  const owner = cellOfPixel(g);
  const cells = cellCount(g);
  const positionSum = new Float64Array(cells);
  for (let position = 0; position < n; position++) positionSum[owner[order[position]!]!]! += position;
  const pixels = pixelsPerCell(g);
  const meanPosition = Array.from(positionSum, (s, cell) => s / pixels[cell]!);
  const byRank = Array.from({ length: cells }, (_, i) => i).sort((a, b) => meanPosition[a]! - meanPosition[b]! || a - b);
  const logits = new Float32Array(cells);
  byRank.forEach((cell, rank) => {
    const p = P_HIGH - (P_HIGH - P_LOW) * (rank + 0.5) / cells;
    logits[cell] = Math.log(p / (1 - p)) / slope;
  });
  return logits;
}

/** Probability bands of a hard prior: the cells the fixed design reduces, and the others. */
export const HARD_PRIOR_BANDS = { reduced: [0.98, 0.99], kept: [0.01, 0.02] } as const;

/**
 * A ranked prior made hard at the run's budget (`layoutTraining.priorShape: "hard"`): the cells
 * that the ranked logits' hardware layout reduces at `budget` (cellTopCountLayout; the cell at the
 * edge, reduced in part, counts as reduced) start at p ∈ [0.98, 0.99], the others at p ∈ [0.01, 0.02], each
 * band still ordered by rank. Why: the ranked prior spreads p over (0.01, 0.99), so at budget 0.75
 * the cells a quarter of the way down the order are sampled reduced about half the time, and the
 * U-Net trains on masks the fixed design never makes (RESULTS.md, "More validation", 4: about half
 * of the learned layout's loss there was the U-Net's). From here the sampled masks are the fixed
 * design's layout from the first step, and Adam, which moves every logit at about the learning rate
 * per step, carries a cell across the edge only on a gradient of consistent sign. The order is
 * kept, so the hardware layout of the result is that of `ranked`, bit for bit.
 */
export function hardPriorLogits(ranked: Float32Array, g: CellGeometry, slope: number, budget: number): Float32Array {
  const cells = cellCount(g);
  if (ranked.length !== cells) throw new RangeError(`expected ${cells} cell logits, got ${ranked.length}`);
  if (!(slope > 0)) throw new RangeError(`slope must be positive, got ${slope}`);
  const layout = cellTopCountLayout(ranked, g, pixelsForBudget(budget, g.rows * g.cols));
  const reduced = new Uint8Array(cells);
  cellOfPixel(g).forEach((cell, pixel) => {
    if (layout[pixel]) reduced[cell] = 1;
  });
  const logits = new Float32Array(cells);
  for (let cell = 0; cell < cells; cell++) {
    const p = 1 / (1 + Math.exp(-slope * ranked[cell]!));
    const within = Math.min(1, Math.max(0, (p - P_LOW) / (P_HIGH - P_LOW))); // rank within (0, 1)
    const [low, high] = reduced[cell] ? HARD_PRIOR_BANDS.reduced : HARD_PRIOR_BANDS.kept;
    const q = low + (high - low) * within;
    logits[cell] = Math.log(q / (1 - q)) / slope;
  }
  return logits;
}

/**
 * Initial level logits [cells, K] (level fastest; levelBits = [native, ...modes], descending) of a
 * multi-level layout that starts as the uniform design of budgetBits: where the budget is one of
 * the levels, every cell starts on it; between two levels b_hi > B > b_lo, a share
 * f = (B − b_lo)/(b_hi − b_lo) of the cells starts on b_hi and the rest on b_lo, spread by the
 * ordered dither of the cell grid (the mix closest to uniform). A cell's starting level gets
 * probability 1 − (K − 1)·0.01, every other level LOUPE's lowest init probability 0.01, and
 * w = log(p)/slope, so softmax(slope·w) = p. The layer's rescaling then makes the expected bits
 * exactly B, and the starting hardware layout is the uniform ADC (budget on a level) or the
 * dithered two-level mix (cells of unequal size: within one cell's bits of it).
 */
export function uniformLevelLogits(levelBits: readonly number[], budgetBits: number, g: CellGeometry, slope: number): Float32Array {
  checkLevelBudget(levelBits, budgetBits);
  const K = levelBits.length;
  if (!(slope > 0)) throw new RangeError(`slope must be positive, got ${slope}`);
  // upper: the lowest level with bits ≥ B; share: the fraction of cells that start on it.
  let upper = 0;
  while (upper + 1 < K && levelBits[upper + 1]! >= budgetBits) upper++;
  const lower = Math.min(upper + 1, K - 1);
  const share = levelBits[upper] === budgetBits ? 1 : (budgetBits - levelBits[lower]!) / (levelBits[upper]! - levelBits[lower]!);
  const cells = cellCount(g);
  const lowCells = Math.round((1 - share) * cells);
  const start = new Uint8Array(cells).fill(upper);
  const order = ditherOrder(g.cellRows, g.cellCols);
  for (let i = 0; i < lowCells; i++) start[order[i]!] = lower;
  const chosen = Math.log(1 - (K - 1) * P_LOW) / slope;
  const other = Math.log(P_LOW) / slope;
  const logits = new Float32Array(cells * K);
  for (let cell = 0; cell < cells; cell++) {
    for (let k = 0; k < K; k++) logits[cell * K + k] = k === start[cell] ? chosen : other;
  }
  return logits;
}
