/**
 * The lesion-frequency heuristic: reduce first the pixels where the TRAINING masks hold a lesion
 * least often, so full precision stays where lesions were seen (for COVID-19 pneumonia: the lung
 * periphery, which the content heuristic reduces early once the air is spent). Among pixels of equal
 * lesion share the content heuristic's order decides: outside the body more often first, then the
 * rim before the middle, then the pixel index. So at a budget the air alone can pay for, it is the
 * content layout. Like the content heuristic it reads the training split only.
 */
import type { Split } from '../data/split.js';
import { contentOrderKeys, type ContentOptions, type TrainingImages } from './content.js';
import { levelsFromOrder, maskFromOrder, orderByScore } from './reduction-order.js';

/** Per pixel (row-major height×width), the share in [0, 1] of training slices whose mask marks it a lesion. */
export function lesionShare(train: TrainingImages): Float64Array {
  if (train.slices.length === 0) throw new RangeError('the lesion-frequency heuristic needs at least one training slice');
  const share = new Float64Array(train.height * train.width);
  for (const s of train.slices) for (let i = 0; i < share.length; i++) share[i]! += s.mask[i]!;
  for (let i = 0; i < share.length; i++) share[i]! /= train.slices.length;
  return share;
}

/** The heuristic's reduction order: lesion share ascending, then outside-body share descending, then centre distance descending. */
export function lesionOrder(train: TrainingImages, opts: ContentOptions = {}): Int32Array {
  return orderByScore(lesionShare(train), ...contentOrderKeys(train, opts));
}

/** Lesion-frequency hardware mask of the split's training part, row-major, 1 = reduced: exactly round(budget·n) ones. */
export function lesionLayoutForSplit(split: Pick<Split, 'train'>, budget: number, opts: ContentOptions = {}): Uint8Array {
  return maskFromOrder(lesionOrder(split.train, opts), budget);
}

/** Multi-level counterpart: ADC bits per pixel (levelBits = [native, ...modes]), Σ ≤ budgetBits·n. */
export function lesionLevelLayoutForSplit(split: Pick<Split, 'train'>, levelBits: readonly number[], budgetBits: number, opts: ContentOptions = {}): Uint8Array {
  return levelsFromOrder(lesionOrder(split.train, opts), levelBits, budgetBits);
}
