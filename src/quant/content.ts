/**
 * The content heuristic: reduce first the pixels that lie outside the body in the TRAINING images.
 * Score of a pixel = share of training slices in which it is outside the body (src/data/body.ts:
 * above the air threshold, largest component, holes filled). Reduction order: share descending, ties
 * by distance from the image centre descending (the rim before the middle), then by pixel index.
 * The functions take the training split only (the caller passes split.train); nothing here can see
 * the test images, and the layout is a function of the training images alone.
 */
import { bodyMask, defaultAirThreshold } from '../data/body.js';
import type { Split } from '../data/split.js';
import type { CtDataset } from '../data/types.js';
import { levelsFromOrder, maskFromOrder, orderByScore } from './reduction-order.js';

export interface ContentOptions {
  /** Air/tissue threshold in native counts; default defaultAirThreshold(nativeBits) (−500 HU). */
  airThreshold?: number;
}

/** The training split's images and geometry: all the content heuristic may read. */
export type TrainingImages = Pick<CtDataset, 'height' | 'width' | 'nativeBits' | 'slices'>;

/** Per pixel (row-major height×width), the share in [0, 1] of training slices where it lies outside the body. */
export function outsideBodyShare(train: TrainingImages, opts: ContentOptions = {}): Float64Array {
  const { height: rows, width: cols } = train;
  if (train.slices.length === 0) throw new RangeError('the content heuristic needs at least one training slice');
  const threshold = opts.airThreshold ?? defaultAirThreshold(train.nativeBits);
  const share = new Float64Array(rows * cols);
  for (const s of train.slices) {
    const body = bodyMask(s.image, rows, cols, threshold);
    for (let i = 0; i < share.length; i++) if (!body[i]) share[i]! += 1;
  }
  for (let i = 0; i < share.length; i++) share[i]! /= train.slices.length;
  return share;
}

/** Squared distance of each pixel centre from the image centre, row-major rows×cols. */
export function centreDistanceSquared(rows: number, cols: number): Float64Array {
  const cy = (rows - 1) / 2;
  const cx = (cols - 1) / 2;
  return Float64Array.from({ length: rows * cols }, (_, i) => (Math.floor(i / cols) - cy) ** 2 + ((i % cols) - cx) ** 2);
}

/**
 * The heuristic's sort keys, ascending: outside-body share descending, then centre distance
 * descending (the index breaks what is left). Other orders that defer to the content order among
 * equals (quant/lesion.ts) append these keys to their own.
 */
export function contentOrderKeys(train: TrainingImages, opts: ContentOptions = {}): [Float64Array, Float64Array] {
  const share = outsideBodyShare(train, opts);
  const d2 = centreDistanceSquared(train.height, train.width);
  return [share.map((s) => -s), d2.map((d) => -d)];
}

/** The heuristic's reduction order over the training split (see the module comment for the tie rule). */
export function contentOrder(train: TrainingImages, opts: ContentOptions = {}): Int32Array {
  return orderByScore(...contentOrderKeys(train, opts));
}

/** Content-heuristic hardware mask, row-major height×width, 1 = reduced: exactly round(budget·n) ones. */
export function contentLayout(train: TrainingImages, budget: number, opts: ContentOptions = {}): Uint8Array {
  return maskFromOrder(contentOrder(train, opts), budget);
}

/** Content-heuristic multi-level layout: ADC bits per pixel (levelBits = [native, ...modes]), Σ ≤ budgetBits·n. */
export function contentLevelLayout(train: TrainingImages, levelBits: readonly number[], budgetBits: number, opts: ContentOptions = {}): Uint8Array {
  return levelsFromOrder(contentOrder(train, opts), levelBits, budgetBits);
}

/**
 * The entry point for a study: takes the split and reads its training part only, so a caller cannot
 * hand the test images in by mistake. Returns the hardware mask (exactly round(budget·n) ones).
 */
export function contentLayoutForSplit(split: Pick<Split, 'train'>, budget: number, opts: ContentOptions = {}): Uint8Array {
  return contentLayout(split.train, budget, opts);
}

/** Multi-level counterpart of contentLayoutForSplit: ADC bits per pixel, Σ ≤ budgetBits·n. */
export function contentLevelLayoutForSplit(split: Pick<Split, 'train'>, levelBits: readonly number[], budgetBits: number, opts: ContentOptions = {}): Uint8Array {
  return contentLevelLayout(split.train, levelBits, budgetBits, opts);
}
