/**
 * Fixed layouts from a reduction order: a permutation of the pixel indices of a rows×cols detector,
 * first = the pixel reduced first. Every fixed family (ordered dither, blue noise, content heuristic)
 * produces such an order; the hardware mask takes its first round(b·n) pixels, and a multi-level
 * layout fills the bit budget from the other end (the pixels reduced last keep the most bits).
 */
import { greedyLevels, pixelsForBudget } from './budget.js';

/**
 * Pixel indices sorted by `score` ascending, ties by each `ties` key ascending in turn, then by index
 * ascending; score and every tie key: row-major, one per pixel. Returns the reduction order
 * (Int32Array, length n).
 */
export function orderByScore(score: ArrayLike<number>, ...ties: ArrayLike<number>[]): Int32Array {
  const n = score.length;
  for (const tie of ties) if (tie.length !== n) throw new RangeError(`tie-break has ${tie.length} values, expected ${n}`);
  const keys = [score, ...ties];
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => {
    for (const key of keys) {
      const d = key[a]! - key[b]!;
      if (d !== 0) return d;
    }
    return a - b;
  });
  return Int32Array.from(order);
}

/** Checks that `order` is a permutation of 0..n−1; throws RangeError otherwise. */
export function checkOrder(order: ArrayLike<number>, n: number): void {
  if (order.length !== n) throw new RangeError(`reduction order has ${order.length} entries, expected ${n}`);
  const seen = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const p = order[i]!;
    if (!Number.isInteger(p) || p < 0 || p >= n || seen[p]) throw new RangeError(`reduction order is not a permutation (entry ${i} = ${p})`);
    seen[p] = 1;
  }
}

/**
 * The hardware mask of a budget (fraction of pixels in [0, 1]): 1 for the first round(b·n) pixels of
 * `order`, 0 elsewhere; row-major, length n = order.length. Exactly round(b·n) ones.
 */
export function maskFromOrder(order: ArrayLike<number>, budget: number): Uint8Array {
  const n = order.length;
  checkOrder(order, n);
  const ones = pixelsForBudget(budget, n);
  const mask = new Uint8Array(n);
  for (let i = 0; i < ones; i++) mask[order[i]!] = 1;
  return mask;
}

/** Throws unless levelBits = [native, ...modes] is strictly descending (K ≥ 2) and budgetBits lies within it. */
export function checkLevelBudget(levelBits: readonly number[], budgetBits: number): void {
  const K = levelBits.length;
  if (K < 2) throw new RangeError('a multi-level layout needs the native level and at least one mode');
  for (let k = 1; k < K; k++) {
    if (!(levelBits[k]! < levelBits[k - 1]!)) throw new RangeError(`levelBits must be strictly descending: [${levelBits.join(', ')}]`);
  }
  if (!(budgetBits >= levelBits[K - 1]! && budgetBits <= levelBits[0]!)) {
    throw new RangeError(`budgetBits must be in [${levelBits[K - 1]}, ${levelBits[0]}], got ${budgetBits}`);
  }
}

/**
 * A multi-level layout from a reduction order: ADC bits per pixel (row-major, each one of
 * `levelBits` = [native, ...modes], descending) with Σ bits ≤ budgetBits·n, by the project's greedy
 * assignment (greedyLevels) on level-major scores: every native pair first, the pixel reduced last
 * first, then every pair of the next level, and so on. So the pixels last in `order` stay native
 * while the budget allows, the next ones take the next mode, and the rest the lowest mode.
 */
export function levelsFromOrder(order: ArrayLike<number>, levelBits: readonly number[], budgetBits: number): Uint8Array {
  const n = order.length;
  checkOrder(order, n);
  checkLevelBudget(levelBits, budgetBits);
  const K = levelBits.length;
  // Position p in `order` (0 = reduced first); keep-priority p/n in [0, 1) separates pixels,
  // the level term (K − 1 − k)·2 separates levels, so the greedy visits level by level.
  const position = new Int32Array(n);
  for (let p = 0; p < n; p++) position[order[p]!] = p;
  const q = new Float64Array(n * K);
  for (let i = 0; i < n; i++) {
    const keep = position[i]! / n;
    for (let k = 0; k < K; k++) q[i * K + k] = (K - 1 - k) * 2 + keep;
  }
  const levels = greedyLevels(q, [...levelBits], budgetBits);
  return Uint8Array.from(levels, (k) => levelBits[k]!);
}
