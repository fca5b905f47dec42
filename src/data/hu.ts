/**
 * The detector model of the synthetic phantoms and of HU-valued scans (NIfTI, DICOM): a linear
 * map from Hounsfield units to native ADC counts over a fixed window, clipped at both ends.
 *
 * The default window is [−1024, +1024] HU: air sits at count 0, +1024 HU (dense bone) at full
 * scale, water at mid-scale. It is chosen for what ctquant studies: a k-bit readout keeps the top
 * k bits, so its step is 2048 / 2^k HU — 1024 HU at 1 bit, 512 HU at 2 bits, 256 HU at 3 bits.
 * Aerated lung (≈ −850 HU) and ground-glass opacity (−700 … −300 HU) differ by 150–550 HU, less
 * than one 1- or 2-bit step, so at 1 bit they share a level everywhere and at 2 bits in most
 * pixels (everything below −512 HU), while at full precision (0.5 HU per count at 12 bits) the
 * contrast is hundreds of counts above the readout noise. Cortical bone above +1024 HU saturates,
 * as a real detector's limited range would.
 */
export interface HuWindow {
  /** HU mapped to count 0. */
  lowHu: number;
  /** HU mapped to the top count 2^bits − 1. */
  highHu: number;
}

export const DEFAULT_HU_WINDOW: Readonly<HuWindow> = Object.freeze({ lowHu: -1024, highHu: 1024 });

/** Largest count of a `nativeBits` ADC: 2^bits − 1. */
export function maxCount(nativeBits: number): number {
  return 2 ** nativeBits - 1;
}

/** One HU value → native ADC count (integer in [0, 2^bits − 1], rounded, clipped to the window). */
export function huToCount(hu: number, nativeBits: number, window: HuWindow = DEFAULT_HU_WINDOW): number {
  const top = maxCount(nativeBits);
  const c = Math.round(((hu - window.lowHu) / (window.highHu - window.lowHu)) * top);
  return c < 0 ? 0 : c > top ? top : c;
}

/** Native count → HU at the centre of that count (inverse of huToCount inside the window). */
export function countToHu(count: number, nativeBits: number, window: HuWindow = DEFAULT_HU_WINDOW): number {
  return window.lowHu + (count / maxCount(nativeBits)) * (window.highHu - window.lowHu);
}

/** H×W HU values → H×W native counts (same length, Float32Array of integers), through huToCount. */
export function huImageToCounts(hu: ArrayLike<number>, nativeBits: number, window: HuWindow = DEFAULT_HU_WINDOW): Float32Array {
  const out = new Float32Array(hu.length);
  const top = maxCount(nativeBits);
  const scale = top / (window.highHu - window.lowHu);
  for (let i = 0; i < hu.length; i++) {
    const c = Math.round((hu[i]! - window.lowHu) * scale);
    out[i] = c < 0 ? 0 : c > top ? top : c;
  }
  return out;
}

/** Checks a window and a bit depth; returns a reason string when they are unusable, else null. */
export function checkDetector(nativeBits: number, window: HuWindow = DEFAULT_HU_WINDOW): string | null {
  if (!Number.isInteger(nativeBits) || nativeBits < 1 || nativeBits > 16) return `native bit depth must be an integer 1..16, got ${nativeBits}`;
  if (!(window.highHu > window.lowHu)) return `HU window must have highHu > lowHu, got [${window.lowHu}, ${window.highHu}]`;
  return null;
}

/** A display window (level and width in HU, e.g. lung: −500 / 1500) as [low, high] native counts. */
export function displayWindowCounts(levelHu: number, widthHu: number, nativeBits: number, window: HuWindow = DEFAULT_HU_WINDOW): [number, number] {
  return [huToCount(levelHu - widthHu / 2, nativeBits, window), huToCount(levelHu + widthHu / 2, nativeBits, window)];
}
