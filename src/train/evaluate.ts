import * as tf from '@tensorflow/tfjs';
import type { CtDataset } from '../data/types.js';
import type { DiceSummary, VolumeDiceSummary } from '../runs/types.js';
import { diceOverSet, diceOverVolumes } from '../model/metrics.js';
import type { MaskMode } from '../quant/layer.js';
import { makeBatch } from './batches.js';
import { EVALUATION_EPOCH } from '../detector/input-stage.js';
import { hasTrainableLayer, type JointModel } from './joint.js';

export interface PredictOptions {
  mode: MaskMode;
  batchSize: number;
  /** Slices to predict, in this order (default: all). */
  indices?: number[];
  /**
   * The relaxed-sampling temperature of the 'stochastic' mode (the config's final temperature):
   * required there for a layer, so the number does not depend on where training left the layer.
   */
  temperature?: number;
}

/** `indices` cut into batches of at most `size` consecutive image indices (each batch one stretch of the noise stream). */
export function consecutiveBatches(indices: readonly number[], size: number): number[][] {
  const out: number[][] = [];
  for (const i of indices) {
    const last = out.at(-1);
    if (last && last.length < size && last.at(-1)! + 1 === i) last.push(i);
    else out.push([i]);
  }
  return out;
}

/**
 * Binary predictions (threshold 0.5) of `model` for every slice of `ds`, row-major H×W each.
 * Reads back asynchronously (webgpu in Node has no synchronous read); in 'hardware' mode the
 * layer's layout is read back once, before the first batch. In 'stochastic' mode the masks of
 * image i come from the layer's evaluation noise at i (see startEvaluationNoise) at
 * `opts.temperature`: a pure function of the layer seed and the image index, whatever the batch
 * size and whether the model was just trained or restored; the layer's temperature is put back after.
 */
export async function predictMasks(model: JointModel, ds: CtDataset, opts: PredictOptions): Promise<Uint8Array[]> {
  const indices = opts.indices ?? ds.slices.map((_, i) => i);
  const out: Uint8Array[] = [];
  const hw = ds.height * ds.width;
  const trainable = hasTrainableLayer(model.stage) ? model.stage.layer : null;
  const layer = trainable && opts.mode === 'hardware' ? trainable : null;
  const sampled = trainable && opts.mode === 'stochastic' ? trainable : null;
  if (sampled && opts.temperature === undefined) throw new Error('a stochastic evaluation needs its temperature (the config\'s final temperature)');
  const trainingTemperature = sampled?.temperature;
  if (sampled) sampled.setTemperature(opts.temperature!);
  const batches = sampled ? consecutiveBatches(indices, opts.batchSize) : plainBatches(indices, opts.batchSize);
  await layer?.pinHardware();
  try {
    for (const idx of batches) {
      sampled?.startEvaluationNoise(idx[0]!);
      const { counts, masks } = makeBatch(ds, idx, undefined, model.contextSlices);
      const pred = tf.tidy(() => tf.step(tf.sub(model.forward(counts, { training: false, mode: opts.mode, readout: { epoch: EVALUATION_EPOCH, indices: idx } }), 0.5)));
      tf.dispose([counts, masks]);
      const values = await pred.data();
      pred.dispose();
      for (let b = 0; b < idx.length; b++) out.push(Uint8Array.from(values.subarray(b * hw, (b + 1) * hw)));
    }
  } finally {
    layer?.unpinHardware();
    if (sampled) sampled.setTemperature(trainingTemperature!);
  }
  return out;
}

function plainBatches(indices: readonly number[], size: number): number[][] {
  const out: number[][] = [];
  for (let start = 0; start < indices.length; start += size) out.push(indices.slice(start, start + size));
  return out;
}

/** Discrete Dice of `model` on `ds` (per image and pooled). */
export async function evaluate(model: JointModel, ds: CtDataset, opts: Omit<PredictOptions, 'indices'>): Promise<DiceSummary> {
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
 * Decided on validation data at training time only: low scores on other data are results, not collapse.
 */
export function collapseReason(summary: DiceSummary, ds: CtDataset, minDice = 0.02): string | null {
  const withLesion = ds.slices.filter((s) => s.mask.some((v) => v === 1)).length;
  if (withLesion === 0) return null;
  if (summary.emptyPredictionShare === 1) return 'every prediction is empty (all background)';
  if (summary.pooled < minDice) return `Dice ${belowText(summary.pooled, minDice)} < ${minDice} although ${withLesion} images have lesions`;
  return null;
}

/** `value` (< `limit`) with the fewest digits (3 or more) whose printed number is still below `limit`'s. */
export function belowText(value: number, limit: number): string {
  for (let digits = 3; digits < 17; digits++) {
    const text = value.toFixed(digits);
    if (Number(text) < limit) return text;
  }
  return String(value);
}
