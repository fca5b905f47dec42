/**
 * "Where did the bits go": for a layout and a set of images, the share of reduced pixels that lie
 * inside the body, inside the lungs, and outside the body (src/data/body.ts rule: above the air
 * threshold, largest component, holes filled). Lungs come from lung masks when given, else from the
 * threshold rule: internal air = body pixels at or below the air threshold (lungs, airways, bowel gas).
 * Shares are computed per image and averaged over images; inside + outside = 1, lungs ⊆ inside when
 * the threshold rule is used (a lung mask may reach outside the body mask; it is taken as given).
 */
import { bodyMask, defaultAirThreshold, internalAirMask } from '../data/body.js';
import { mean } from './stats.js';

export interface PlacementOptions {
  /** Native ADC bit depth of the images (for the default air threshold). */
  nativeBits: number;
  /** Air/tissue threshold in native counts; default −500 HU (defaultAirThreshold). */
  airThreshold?: number;
  /** One lung mask per image (row-major rows×cols, nonzero = lung); without them the threshold rule. */
  lungMasks?: readonly ArrayLike<number>[];
}

export interface BitPlacement {
  /** Total weight of the layout (the number of reduced pixels for a 0/1 mask). */
  reduced: number;
  /** Mean over images of the share of the reduced weight inside the body (lungs included). */
  insideBody: number;
  /** … inside the lungs. */
  insideLungs: number;
  /** … outside the body (1 − insideBody). */
  outsideBody: number;
  lungRule: 'masks' | 'threshold';
  nImages: number;
}

/**
 * reduced: row-major rows×cols non-negative weights (a 0/1 hardware mask → share of reduced pixels;
 * native − kept bits → share of dropped bits); images: rows×cols native counts. Shares are NaN when
 * the layout reduces nothing or no image is given.
 */
export function bitPlacement(reduced: ArrayLike<number>, rows: number, cols: number, images: readonly ArrayLike<number>[], opts: PlacementOptions): BitPlacement {
  const n = rows * cols;
  if (reduced.length !== n) throw new RangeError(`layout has ${reduced.length} pixels, expected ${rows}×${cols}`);
  if (opts.lungMasks && opts.lungMasks.length !== images.length) throw new RangeError(`${opts.lungMasks.length} lung masks for ${images.length} images`);
  const threshold = opts.airThreshold ?? defaultAirThreshold(opts.nativeBits);
  let total = 0;
  for (let i = 0; i < n; i++) {
    if (!(reduced[i]! >= 0)) throw new RangeError(`layout weight at pixel ${i} is ${reduced[i]}, must be ≥ 0`);
    total += reduced[i]!;
  }
  const inside: number[] = [];
  const lungs: number[] = [];
  images.forEach((image, k) => {
    const body = bodyMask(image, rows, cols, threshold);
    const lung = opts.lungMasks ? opts.lungMasks[k]! : internalAirMask(image, body, threshold);
    if (lung.length !== n) throw new RangeError(`lung mask ${k} has ${lung.length} pixels, expected ${n}`);
    let inBody = 0;
    let inLung = 0;
    for (let i = 0; i < n; i++) {
      const w = reduced[i]!;
      if (w === 0) continue;
      if (body[i]) inBody += w;
      if (lung[i]) inLung += w;
    }
    inside.push(inBody / total);
    lungs.push(inLung / total);
  });
  const insideBody = total > 0 ? mean(inside) : NaN;
  return {
    reduced: total,
    insideBody,
    insideLungs: total > 0 ? mean(lungs) : NaN,
    outsideBody: 1 - insideBody,
    lungRule: opts.lungMasks ? 'masks' : 'threshold',
    nImages: images.length,
  };
}
