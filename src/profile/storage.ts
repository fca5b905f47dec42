import { fraction, type Fraction } from 'mathjs';
import type { Budget, DetectorProfile } from './types.js';
import { budgetProblem } from './budget.js';
import { detectorFrameBits } from './detector-section.js';

/**
 * What one frame costs to store at a budget, computed exactly (integers and mathjs fractions,
 * no float drift). The layout is the hardware one: with a fraction budget exactly
 * round(fraction · pixels) pixels use the reduced mode; with a bits-per-pixel budget the frame
 * holds at most floor(bitsPerPixel · pixels) bits.
 */
export interface StorageRow {
  budgetKind: Budget['kind'];
  budget: number;
  pixels: number;
  /** Pixels stored below native depth (fraction budgets only). */
  quantizedPixels?: number;
  nativeBitsPerFrame: number;
  layoutBitsPerFrame: number;
  nativeBytesPerFrame: number;
  layoutBytesPerFrame: number;
  /** Exact bits per pixel of the layout, as a fraction string ("9/2") and a number. */
  layoutBitsPerPixelExact: string;
  layoutBitsPerPixel: number;
  /** native / layout bits. */
  compressionRatio: number;
  /** 100 · (1 − layout / native), exact fraction string and number. */
  savingPercentExact: string;
  savingPercent: number;
}

/** round(x) for an exact fraction, halves rounded up (the same rule as the hardware layout's count). */
function roundHalfUp(x: Fraction): number {
  const twice = fraction(x).mul(2);
  return Number(twice.add(1).div(2).floor().valueOf());
}

function str(f: Fraction): string {
  return f.d === 1n ? f.n.toString() : `${f.s < 0 ? '-' : ''}${f.n}/${f.d}`;
}

/** Throws a RangeError for a budget outside the profile's range (callers check flags first, src/cli/args.ts). */
export function storageRow(profile: DetectorProfile, kind: Budget['kind'], budget: number): StorageRow {
  const problem = kind === profile.budget.kind ? budgetProblem(profile, budget) : `budget kind ${kind} does not match the profile's ${profile.budget.kind}`;
  if (problem) throw new RangeError(`budget of ${profile.name}: ${problem}`);
  const pixels = profile.rows * profile.cols;
  const native = profile.nativeBits;
  const nativeBits = pixels * native;
  let layoutBits: number;
  let quantizedPixels: number | undefined;
  if (kind === 'fraction') {
    const kept = profile.modes[profile.modes.length - 1]!;
    quantizedPixels = roundHalfUp(fraction(budget).mul(pixels));
    layoutBits = (pixels - quantizedPixels) * native + quantizedPixels * kept;
  } else {
    layoutBits = Number(fraction(budget).mul(pixels).floor().valueOf());
  }
  const bpp = fraction(layoutBits, pixels);
  const saving = fraction(1).sub(fraction(layoutBits, nativeBits)).mul(100);
  return {
    budgetKind: kind,
    budget,
    pixels,
    quantizedPixels,
    nativeBitsPerFrame: nativeBits,
    layoutBitsPerFrame: layoutBits,
    nativeBytesPerFrame: Math.ceil(nativeBits / 8),
    layoutBytesPerFrame: Math.ceil(layoutBits / 8),
    layoutBitsPerPixelExact: str(bpp),
    layoutBitsPerPixel: Number(bpp.valueOf()),
    compressionRatio: layoutBits === 0 ? Infinity : Number(fraction(nativeBits, layoutBits).valueOf()),
    savingPercentExact: str(saving),
    savingPercent: Number(saving.valueOf()),
  };
}

/** Storage rows for the given budgets, or the profile's budget followed by its sweep. */
export function storageReport(profile: DetectorProfile, budgets?: number[]): StorageRow[] {
  const list = budgets && budgets.length ? budgets : [profile.budget.value, ...profile.sweep.filter((b) => b !== profile.budget.value)];
  return list.map((b) => storageRow(profile, profile.budget.kind, b));
}

/** What one detector-space frame (views × channels readings) costs to store with a channel layout. */
export interface DetectorStorageRow {
  budget: number;
  channels: number;
  views: number;
  /** Channels read at the reduced mode at every view: exactly round(budget · channels). */
  reducedChannels: number;
  keptBits: number;
  nativeBitsPerFrame: number;
  layoutBitsPerFrame: number;
  nativeBytesPerFrame: number;
  layoutBytesPerFrame: number;
  /** Stored bits per reading averaged over the channels, exact fraction string and number. */
  bitsPerReadingExact: string;
  bitsPerReading: number;
  savingPercent: number;
}

/**
 * Storage per detector-space frame at a fraction budget: round(b·C) channels keep the lowest mode's
 * bits at every view, the rest native. Throws a RangeError for a profile without a `detector`
 * section, a bits-per-pixel profile or a budget outside [0, 1].
 */
export function detectorStorageRow(profile: DetectorProfile, budget: number): DetectorStorageRow {
  const section = profile.detector;
  if (!section) throw new RangeError(`profile ${profile.name} has no detector section`);
  if (profile.budget.kind !== 'fraction') throw new RangeError(`detector space needs a fraction budget (one reduced mode per channel), ${profile.name} has ${profile.budget.kind}`);
  const problem = budgetProblem(profile, budget);
  if (problem) throw new RangeError(`budget of ${profile.name}: ${problem}`);
  const { channels, views } = section;
  const keptBits = Math.min(...profile.modes);
  const reducedChannels = roundHalfUp(fraction(budget).mul(channels));
  const nativeBits = views * channels * profile.nativeBits;
  const layoutBits = detectorFrameBits(section, profile.nativeBits, reducedChannels, keptBits);
  const perReading = fraction(layoutBits, views * channels);
  return {
    budget,
    channels,
    views,
    reducedChannels,
    keptBits,
    nativeBitsPerFrame: nativeBits,
    layoutBitsPerFrame: layoutBits,
    nativeBytesPerFrame: Math.ceil(nativeBits / 8),
    layoutBytesPerFrame: Math.ceil(layoutBits / 8),
    bitsPerReadingExact: str(perReading),
    bitsPerReading: Number(perReading.valueOf()),
    savingPercent: Number(fraction(1).sub(fraction(layoutBits, nativeBits)).mul(100).valueOf()),
  };
}

/** Detector-space storage rows for the given budgets, or the profile's budget followed by its sweep. */
export function detectorStorageReport(profile: DetectorProfile, budgets?: number[]): DetectorStorageRow[] {
  const list = budgets && budgets.length ? budgets : [profile.budget.value, ...profile.sweep.filter((b) => b !== profile.budget.value)];
  return list.map((b) => detectorStorageRow(profile, b));
}
