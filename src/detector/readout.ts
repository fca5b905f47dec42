/**
 * The detector's readout of one sinogram, in counts (detected quanta per reading):
 * line integrals → expected counts I0·exp(−p) → Poisson + Gaussian electronic noise → ADC
 * (clip to full scale, native digitisation, per-channel reduced modes) → −log(counts / I0).
 */
import { quantizeValue } from '../quant/hard.js';
import type { QuantizerRule } from '../profile/types.js';
import { Rng } from '../util/rng.js';

export interface AdcSettings {
  nativeBits: number;
  /** Counts at the top of the ADC range; one native code (LSB) = fullScaleCounts / 2^nativeBits counts. */
  fullScaleCounts: number;
  rule: QuantizerRule;
}

/** Mean above which Poisson draws use the normal approximation N(λ, λ) rounded (skewness 1/√λ ≤ 0.14). */
export const POISSON_NORMAL_ABOVE = 50;

export function countsPerCode(adc: AdcSettings): number {
  return adc.fullScaleCounts / 2 ** adc.nativeBits;
}

/** p [any length], unitless line integrals → expected counts I0·exp(−p) [same length]. */
export function expectedCounts(p: Float32Array, i0: number): Float32Array {
  const out = new Float32Array(p.length);
  for (let i = 0; i < p.length; i++) out[i] = i0 * Math.exp(-p[i]!);
  return out;
}

/** One Poisson draw: exact (Knuth's product of uniforms) below POISSON_NORMAL_ABOVE, rounded normal above. */
export function poisson(rng: Rng, mean: number): number {
  if (mean <= 0) return 0;
  if (mean > POISSON_NORMAL_ABOVE) return Math.max(0, Math.round(mean + Math.sqrt(mean) * rng.normal()));
  const limit = Math.exp(-mean);
  let k = 0;
  let prod = rng.next();
  while (prod > limit) {
    k++;
    prod *= rng.next();
  }
  return k;
}

/**
 * The generator of view `view` of image `image`, keyed by (seed, image, view) so a reading's noise
 * does not depend on which other images or views were drawn before it (counter-based per view).
 */
export function viewRng(seed: number, image: number, view: number): Rng {
  return new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(image + 1, 0x85ebca6b) ^ Math.imul(view + 1, 0xc2b2ae35)) >>> 0);
}

/**
 * expected [views × channels] counts → analog detector output [same shape] counts:
 * Poisson(expected) + N(0, σ_e²); may be negative (the ADC clips). Deterministic in (seed, image).
 * Normal draws come in Box–Muller pairs (cos and sin of one pair of uniforms), half the logs of Rng.normal.
 */
export function noisyCounts(expected: Float32Array, channels: number, sigmaE: number, seed: number, image = 0): Float32Array {
  const views = expected.length / channels;
  if (!Number.isInteger(views)) throw new RangeError(`${expected.length} readings is not a multiple of ${channels} channels`);
  const out = new Float32Array(expected.length);
  for (let v = 0; v < views; v++) {
    const normals = new NormalPairs(viewRng(seed, image, v));
    for (let c = 0; c < channels; c++) {
      const i = v * channels + c;
      const mean = expected[i]!;
      const photons = mean > POISSON_NORMAL_ABOVE ? Math.max(0, Math.round(mean + Math.sqrt(mean) * normals.next())) : poisson(normals.rng, mean);
      out[i] = photons + (sigmaE > 0 ? sigmaE * normals.next() : 0);
    }
  }
  return out;
}

/** Standard normals from a seeded Rng, both values of each Box–Muller pair used. */
class NormalPairs {
  private spare: number | null = null;
  constructor(readonly rng: Rng) {}

  next(): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z;
    }
    let u = 0;
    while (u === 0) u = this.rng.next();
    const r = Math.sqrt(-2 * Math.log(u));
    const angle = 2 * Math.PI * this.rng.next();
    this.spare = r * Math.sin(angle);
    return r * Math.cos(angle);
  }
}

/**
 * The ADC, per channel: analog [views × channels] counts → digitised [same shape] counts.
 * Native: clip to [0, fullScale], round to the nearest code (error ≤ LSB/2), code ≤ 2^nativeBits − 1.
 * keptBits [channels]: a channel with keptBits < nativeBits keeps only its top bits of the native code
 * (src/quant/hard.ts, floor or midrise), at every view. Returns codes × LSB, in counts.
 */
export function digitise(analog: Float32Array, keptBits: ArrayLike<number>, adc: AdcSettings): Float32Array {
  const channels = keptBits.length;
  const lsb = countsPerCode(adc);
  const maxCode = 2 ** adc.nativeBits - 1;
  // Per channel: the step of its kept bits (1 = native) and midrise's half step, as quantizeValue computes them.
  const step = new Float64Array(channels);
  const offset = new Float64Array(channels);
  for (let c = 0; c < channels; c++) {
    const kept = keptBits[c]!;
    quantizeValue(0, adc.nativeBits, kept, adc.rule); // throws a RangeError for bits outside [1, nativeBits]
    step[c] = 2 ** (adc.nativeBits - kept);
    offset[c] = adc.rule === 'midrise' && step[c]! > 1 ? step[c]! / 2 : 0;
  }
  const out = new Float32Array(analog.length);
  for (let i = 0; i < analog.length; i++) {
    const c = i % channels;
    const clipped = Math.min(Math.max(analog[i]!, 0), adc.fullScaleCounts);
    const code = Math.min(Math.round(clipped / lsb), maxCode);
    const s = step[c]!;
    out[i] = Math.min(Math.floor(code / s) * s + offset[c]!, maxCode) * lsb;
  }
  return out;
}

/** The default floor of the log step: half a native LSB, in counts. */
export function defaultFloorCounts(adc: AdcSettings): number {
  return countsPerCode(adc) / 2;
}

/**
 * The log step: counts [any length] → line integrals −log(max(counts, floor)/I0) [same length].
 * floorCounts is where zero (photon-starved or floored) readings go; the default, half a native LSB,
 * is the smallest nonzero value the native ADC's rounding can stand for.
 */
export function logNormalise(counts: Float32Array, i0: number, floorCounts: number): Float32Array {
  if (!(floorCounts > 0)) throw new RangeError(`floorCounts must be > 0, got ${floorCounts}`);
  const out = new Float32Array(counts.length);
  for (let i = 0; i < counts.length; i++) out[i] = -Math.log(Math.max(counts[i]!, floorCounts) / i0);
  return out;
}
