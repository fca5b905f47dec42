/**
 * The random-layout control: a detector whose quantized pixels are chosen uniformly at random,
 * with exactly as many of them as a learned layout at the same budget.
 */
import { Rng } from '../util/rng.js';
import { greedyLevels, pixelsForBudget } from './budget.js';

/**
 * A rows×cols layout, row-major, 1 = pixel read with the reduced mode; exactly round(budget·rows·cols)
 * ones, chosen uniformly (partial Fisher-Yates) from `seed`.
 */
export function randomLayout(rows: number, cols: number, budget: number, seed: number): Uint8Array {
  const n = rows * cols;
  const ones = pixelsForBudget(budget, n);
  const index = Array.from({ length: n }, (_, i) => i);
  const rng = new Rng(seed);
  const layout = new Uint8Array(n);
  for (let i = 0; i < ones; i++) {
    const j = i + rng.int(n - i);
    [index[i], index[j]] = [index[j]!, index[i]!];
    layout[index[i]!] = 1;
  }
  return layout;
}

/**
 * The random control of a multi-level layout: ADC bits per pixel (row-major, one of `levelBits`,
 * native first, lowest last) drawn by the same greedy assignment as the hardware layout but from
 * random level scores, so the frame holds at most (and about) budgetBits·n bits.
 */
export function randomLevelLayout(rows: number, cols: number, levelBits: number[], budgetBits: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const scores = Float32Array.from({ length: rows * cols * levelBits.length }, () => rng.next());
  const levels = greedyLevels(scores, levelBits, budgetBits);
  return Uint8Array.from(levels, (k) => levelBits[k]!);
}
