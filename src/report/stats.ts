/**
 * The few statistics the tables need, as pure functions of plain number arrays: mean, sample
 * standard deviation, a Student-t interval across seeds, a percentile bootstrap over test images
 * (seeded, so a table is reproducible), and paired differences matched by seed.
 */
import { Rng } from '../util/rng.js';

/** An interval [lo, hi] around an estimate; `NaN` bounds when it cannot be computed (n < 2). */
export interface Interval {
  estimate: number;
  lo: number;
  hi: number;
  n: number;
}

/** Arithmetic mean; NaN for an empty list. */
export function mean(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/** Sample standard deviation (divisor n − 1); NaN when n < 2. */
export function sampleStd(values: readonly number[]): number {
  const n = values.length;
  if (n < 2) return NaN;
  const m = mean(values);
  let ss = 0;
  for (const v of values) ss += (v - m) * (v - m);
  return Math.sqrt(ss / (n - 1));
}

/** Two-sided Student-t interval for the mean: mean ± t_{(1+level)/2, n−1} · sd / √n. */
export function tInterval(values: readonly number[], level = 0.95): Interval {
  const n = values.length;
  const m = mean(values);
  if (n < 2) return { estimate: m, lo: NaN, hi: NaN, n };
  const half = studentTQuantile((1 + level) / 2, n - 1) * (sampleStd(values) / Math.sqrt(n));
  return { estimate: m, lo: m - half, hi: m + half, n };
}

export interface BootstrapOptions {
  /** Seed of the resampling; the same seed and values give the same interval. */
  seed: number;
  /** Number of resamples (default 2000). */
  resamples?: number;
  /** Coverage (default 0.95). */
  level?: number;
}

/**
 * Percentile bootstrap interval of the mean: resample `values` with replacement `resamples`
 * times, take the (1−level)/2 and (1+level)/2 quantiles (linear interpolation, type 7) of the
 * resampled means. NaN bounds for an empty list; a single value gives a zero-width interval.
 */
export function bootstrapMeanInterval(values: readonly number[], opts: BootstrapOptions): Interval {
  const n = values.length;
  const m = mean(values);
  if (n === 0) return { estimate: NaN, lo: NaN, hi: NaN, n };
  const resamples = opts.resamples ?? 2000;
  const level = opts.level ?? 0.95;
  if (!(resamples >= 1) || !(level > 0 && level < 1)) {
    throw new RangeError(`bootstrap needs resamples >= 1 and 0 < level < 1 (got ${resamples}, ${level})`);
  }
  const rng = new Rng(opts.seed);
  const means = new Float64Array(resamples);
  for (let b = 0; b < resamples; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[rng.int(n)]!;
    means[b] = s / n;
  }
  means.sort();
  return { estimate: m, lo: quantileSorted(means, (1 - level) / 2), hi: quantileSorted(means, (1 + level) / 2), n };
}

/** Quantile of an ascending array, linear interpolation between order statistics (R type 7). */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const h = (n - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Differences a − b for the keys present in both maps (e.g. seed → Dice), in ascending key order. */
export function pairedDifferences(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): { keys: number[]; diffs: number[] } {
  const keys = [...a.keys()].filter((k) => b.has(k)).sort((x, y) => x - y);
  return { keys, diffs: keys.map((k) => a.get(k)! - b.get(k)!) };
}

/** Element-wise average of equally long rows (e.g. per-image Dice of several seeds → per-image mean). */
export function columnMeans(rows: readonly (readonly number[])[]): number[] {
  if (rows.length === 0) return [];
  const width = rows[0]!.length;
  if (rows.some((r) => r.length !== width)) throw new RangeError('columnMeans: rows differ in length');
  const out = new Array<number>(width).fill(0);
  for (const r of rows) for (let i = 0; i < width; i++) out[i]! += r[i]!;
  return out.map((s) => s / rows.length);
}

/** A stable 32-bit FNV-1a hash of a string: derives a per-table-cell bootstrap seed from its key. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The p-quantile of Student's t with `df` degrees of freedom (0 < p < 1), by bisection on the CDF. */
export function studentTQuantile(p: number, df: number): number {
  if (!(p > 0 && p < 1) || !(df > 0)) throw new RangeError(`studentTQuantile: need 0 < p < 1 and df > 0 (got ${p}, ${df})`);
  if (p === 0.5) return 0;
  if (p < 0.5) return -studentTQuantile(1 - p, df);
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * Math.max(1, hi); i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** CDF of Student's t: 1 − ½·I_{df/(df+t²)}(df/2, ½) for t ≥ 0, by symmetry below 0. */
export function studentTCdf(t: number, df: number): number {
  const x = df / (df + t * t);
  const tail = 0.5 * regularizedIncompleteBeta(x, df / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** Regularized incomplete beta I_x(a, b) by Lentz's continued fraction (Numerical Recipes §6.4). */
function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const lnFront = logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x);
  const front = Math.exp(lnFront);
  if (x < (a + 1) / (a + b + 2)) return (front * betaContinuedFraction(x, a, b)) / a;
  return 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  // One modified-Lentz step with coefficient aa: updates c and d, returns the factor for h.
  const step = (aa: number): number => {
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    return d * c;
  };
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    h *= step((m * (b - m) * x) / ((a + m2 - 1) * (a + m2)));
    const delta = step((-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1)));
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9). */
function logGamma(x: number): number {
  const g = 7;
  const coef = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = coef[0]!;
  const t = x + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += coef[i]! / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}
