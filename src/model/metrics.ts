/**
 * Discrete Dice on binary masks (plain arrays, no tensors): 2TP / (2TP + FP + FN).
 * Convention, decided here once: an image whose mask and prediction are both empty scores 1
 * (nothing to find, nothing found); an empty mask with a non-empty prediction, or the reverse, scores 0.
 */

/** Pixel counts of one comparison. */
export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
}

/** Binarises probabilities: 1 where p ≥ threshold (default 0.5). */
export function binarize(probabilities: ArrayLike<number>, threshold = 0.5): Uint8Array {
  return Uint8Array.from(probabilities as ArrayLike<number>, (p) => (p >= threshold ? 1 : 0));
}

/** TP / FP / FN of a binary prediction against a binary mask (same length, values 0/1). */
export function confusion(mask: ArrayLike<number>, prediction: ArrayLike<number>): Confusion {
  if (mask.length !== prediction.length) throw new Error(`mask has ${mask.length} pixels, prediction ${prediction.length}`);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (let i = 0; i < mask.length; i++) {
    const t = mask[i]! > 0;
    const p = prediction[i]! > 0;
    if (t && p) tp++;
    else if (p) fp++;
    else if (t) fn++;
  }
  return { tp, fp, fn };
}

/** Dice from counts; both empty (no TP, FP, FN) → 1. */
export function diceFromConfusion(c: Confusion): number {
  const denominator = 2 * c.tp + c.fp + c.fn;
  return denominator === 0 ? 1 : (2 * c.tp) / denominator;
}

/** Discrete Dice of one image: binary mask vs binary prediction (both 0/1, same length). */
export function diceScore(mask: ArrayLike<number>, prediction: ArrayLike<number>): number {
  return diceFromConfusion(confusion(mask, prediction));
}

/** Per-image Dice, their mean, and Dice pooled over all pixels of the set (2ΣTP / (2ΣTP + ΣFP + ΣFN)). */
export function diceOverSet(
  masks: ArrayLike<number>[],
  predictions: ArrayLike<number>[],
): { perImage: number[]; mean: number; pooled: number; emptyPredictionShare: number } {
  if (masks.length !== predictions.length) throw new Error(`${masks.length} masks but ${predictions.length} predictions`);
  const total: Confusion = { tp: 0, fp: 0, fn: 0 };
  const perImage: number[] = [];
  let emptyPredictions = 0;
  masks.forEach((m, i) => {
    const c = confusion(m, predictions[i]!);
    total.tp += c.tp;
    total.fp += c.fp;
    total.fn += c.fn;
    if (c.tp + c.fp === 0) emptyPredictions++;
    perImage.push(diceFromConfusion(c));
  });
  const n = perImage.length;
  return {
    perImage,
    mean: n === 0 ? NaN : perImage.reduce((a, b) => a + b, 0) / n,
    pooled: diceFromConfusion(total),
    emptyPredictionShare: n === 0 ? NaN : emptyPredictions / n,
  };
}

/** 3D Dice of one volume: its id and 2ΣTP / (2ΣTP + ΣFP + ΣFN) over all its slices. */
export interface VolumeDice {
  id: string;
  dice: number;
}

/**
 * 3D Dice per volume: TP, FP and FN summed over each volume's slices (the whole lesion volume, not
 * a mean of slice scores), volumes in first-appearance order, and their mean. A volume without
 * lesion and without any prediction scores 1 (the convention above). `volumeIds[i]` is slice i's.
 */
export function diceOverVolumes(
  volumeIds: readonly string[],
  masks: ArrayLike<number>[],
  predictions: ArrayLike<number>[],
): { perVolume: VolumeDice[]; mean: number } {
  if (masks.length !== predictions.length || masks.length !== volumeIds.length) {
    throw new Error(`${volumeIds.length} volume ids, ${masks.length} masks, ${predictions.length} predictions`);
  }
  const totals = new Map<string, Confusion>();
  masks.forEach((m, i) => {
    const c = confusion(m, predictions[i]!);
    const t = totals.get(volumeIds[i]!) ?? { tp: 0, fp: 0, fn: 0 };
    totals.set(volumeIds[i]!, { tp: t.tp + c.tp, fp: t.fp + c.fp, fn: t.fn + c.fn });
  });
  const perVolume = [...totals].map(([id, c]) => ({ id, dice: diceFromConfusion(c) }));
  return { perVolume, mean: perVolume.length === 0 ? NaN : perVolume.reduce((a, v) => a + v.dice, 0) / perVolume.length };
}
