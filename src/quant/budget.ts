/**
 * The budget arithmetic the quantization layers share: what a budget buys (pixels, bits), how the
 * hardware layout spends it (top count, greedy levels), and the mean that measures a soft layout's
 * spending. Pure functions; the layers (layer.ts, multilevel.ts) and the random control use them.
 */
import * as tf from '@tensorflow/tfjs';

/** Number of quantized pixels a budget (fraction in [0, 1]) buys on an n-pixel detector: round(b·n). */
export function pixelsForBudget(budget: number, n: number): number {
  if (!(budget >= 0 && budget <= 1)) throw new RangeError(`budget must be a fraction in [0, 1], got ${budget}`);
  return Math.round(budget * n);
}

/**
 * The `count` highest scores as a 0/1 layout (same length as scores); ties go to the lower index,
 * so the layout is a deterministic function of the scores.
 */
export function topCountLayout(scores: ArrayLike<number>, count: number): Uint8Array {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b]! - scores[a]! || a - b);
  const layout = new Uint8Array(scores.length);
  for (let i = 0; i < count; i++) layout[order[i]!] = 1;
  return layout;
}

/**
 * Hardware assignment, greedy by probability: every pixel starts at the lowest level; (pixel, level)
 * pairs are visited by q̃ descending (ties: lower pixel index, then more bits); a pixel not yet
 * decided takes the visited level if its extra bits still fit in budgetBits·n. Each pixel's
 * lowest-level pair costs nothing, so every pixel ends with a level and Σ bits ≤ budgetBits·n.
 * That first pass can leave budget unspent (pixels whose first-visited pair is a low level: with
 * flat q̃ about the mean of the levels' bits), so a second pass in the same order raises a pixel to
 * a visited level with more bits while the difference still fits: the layout then spends the budget
 * to within one level step of one pixel, and its stored bits are what the budget says.
 * q: row-major [n, K]; returns the level index per pixel.
 */
export function greedyLevels(q: ArrayLike<number>, bits: number[], budgetBits: number): Uint8Array {
  const K = bits.length;
  const n = q.length / K;
  const lowest = bits[K - 1]!;
  const order = Array.from({ length: q.length }, (_, j) => j);
  order.sort((a, b) => q[b]! - q[a]! || a - b);
  const level = new Uint8Array(n).fill(255);
  const allowance = budgetBits * n - lowest * n + 1e-9;
  let extraUsed = 0;
  for (const j of order) {
    const i = Math.floor(j / K);
    if (level[i] !== 255) continue;
    const k = j % K;
    const extra = bits[k]! - lowest;
    if (extraUsed + extra <= allowance) {
      level[i] = k;
      extraUsed += extra;
    }
  }
  for (const j of order) {
    const i = Math.floor(j / K);
    const k = j % K;
    const raise = bits[k]! - bits[level[i]!]!;
    if (raise > 0 && extraUsed + raise <= allowance) {
      level[i] = k;
      extraUsed += raise;
    }
  }
  return level;
}

/** Mean of all elements, summed in two levels so float32 round-off stays ~1e-7 for 10^5 elements. */
export function accurateMean(x: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const n = x.size;
    const inner = Math.max(1, Math.round(Math.sqrt(n)));
    if (n % inner !== 0) return tf.mean(x) as tf.Scalar;
    return tf.mean(tf.mean(tf.reshape(x, [n / inner, inner]), 1)) as tf.Scalar;
  });
}
