/**
 * A prior for a learned layout: the logits start in the order of a fixed family's reduction order
 * (the content heuristic, quant/content.ts), so training refines the best fixed design instead of
 * starting from p ≈ ½ everywhere. The probabilities span LOUPE's init range (p uniform in
 * (0.01, 0.99), Bahadir et al. 2020), assigned by rank instead of at random:
 *   p(rank) = 0.99 − 0.98·(rank + ½)/cells,  w = logit(p) / slope,
 * so the cells the order reduces first start near 1, those it reduces last near 0, and the ones at
 * the budget's edge stay the easiest to swap. Cells (layout-family.ts) are ranked by the mean
 * position of their pixels in the order. Pure: the order comes from the training split alone.
 */
import { checkOrder } from './reduction-order.js';
import { cellCount, cellOfPixel, pixelsPerCell, type CellGeometry } from './layout-family.js';
import { LOUPE_INIT_P } from './layer.js';

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
