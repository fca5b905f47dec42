import * as tf from '@tensorflow/tfjs';
import type { CtDataset } from '../data/types.js';
import type { DiceSummary, VolumeDiceSummary } from '../runs/types.js';
import { diceOverSet, diceOverVolumes } from '../model/metrics.js';
import type { MaskMode } from '../quant/layer.js';
import { makeBatch } from './batches.js';
import { hasTrainableLayer, type JointModel } from './joint.js';

/**
 * Binary predictions (threshold 0.5) of `model` for every slice of `ds`, row-major H×W each.
 * Reads back asynchronously (webgpu in Node has no synchronous read); in 'hardware' mode the
 * layer's layout is read back once, before the first batch.
 */
export async function predictMasks(
  model: JointModel,
  ds: CtDataset,
  opts: { mode: MaskMode; batchSize: number; indices?: number[] },
): Promise<Uint8Array[]> {
  const indices = opts.indices ?? ds.slices.map((_, i) => i);
  const out: Uint8Array[] = [];
  const hw = ds.height * ds.width;
  const layer = hasTrainableLayer(model.stage) && opts.mode === 'hardware' ? model.stage.layer : null;
  await layer?.pinHardware();
  try {
    for (let start = 0; start < indices.length; start += opts.batchSize) {
      const idx = indices.slice(start, start + opts.batchSize);
      const { counts, masks } = makeBatch(ds, idx, undefined, model.contextSlices);
      const pred = tf.tidy(() => tf.step(tf.sub(model.forward(counts, { training: false, mode: opts.mode }), 0.5)));
      tf.dispose([counts, masks]);
      const values = await pred.data();
      pred.dispose();
      for (let b = 0; b < idx.length; b++) out.push(Uint8Array.from(values.subarray(b * hw, (b + 1) * hw)));
    }
  } finally {
    layer?.unpinHardware();
  }
  return out;
}

/** Discrete Dice of `model` on `ds` (per image and pooled). */
export async function evaluate(model: JointModel, ds: CtDataset, opts: { mode: MaskMode; batchSize: number }): Promise<DiceSummary> {
  const preds = await predictMasks(model, ds, opts);
  return diceOverSet(ds.slices.map((s) => s.mask), preds);
}

/**
 * Discrete Dice of `model` on `ds` per slice (as `evaluate`, the same numbers) and per volume
 * (3D Dice: TP / FP / FN summed over each volume's slices), from one prediction pass.
 */
export async function evaluateSlicesAndVolumes(
  model: JointModel,
  ds: CtDataset,
  opts: { mode: MaskMode; batchSize: number },
): Promise<{ dice: DiceSummary; diceVolume: VolumeDiceSummary }> {
  const preds = await predictMasks(model, ds, opts);
  const masks = ds.slices.map((s) => s.mask);
  return { dice: diceOverSet(masks, preds), diceVolume: diceOverVolumes(ds.slices.map((s) => s.volumeId), masks, preds) };
}

/**
 * A collapsed run predicts nothing: every validation prediction is empty, or Dice stays below
 * `minDice` although the data has lesions. Returns the reason, or null when the run is sound.
 */
export function collapseReason(summary: DiceSummary, ds: CtDataset, minDice = 0.02): string | null {
  const withLesion = ds.slices.filter((s) => s.mask.some((v) => v === 1)).length;
  if (withLesion === 0) return null;
  if (summary.emptyPredictionShare === 1) return 'every prediction is empty (all background)';
  if (summary.pooled < minDice) return `Dice ${summary.pooled.toFixed(3)} < ${minDice} although ${withLesion} images have lesions`;
  return null;
}
