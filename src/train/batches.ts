import * as tf from '@tensorflow/tfjs';
import type { CtDataset } from '../data/types.js';
import { Rng } from '../util/rng.js';

/**
 * Batches of a dataset as tensors. Order is a pure function of (seed, epoch) so a resumed
 * run visits the same batches as an uninterrupted one.
 */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const rng = new Rng((seed * 1_000_003 + epoch * 7919 + 17) >>> 0);
  return rng.shuffle(Array.from({ length: n }, (_, i) => i));
}

/** Batches per epoch; the last partial batch is dropped when at least one full batch exists (batch statistics of 1 image are noise). */
export function stepsPerEpoch(n: number, batchSize: number): number {
  return n >= batchSize ? Math.floor(n / batchSize) : 1;
}

/** Indices of batch `step` of `epoch`. */
export function batchIndices(n: number, batchSize: number, seed: number, epoch: number, step: number): number[] {
  const order = epochOrder(n, seed, epoch);
  return order.slice(step * batchSize, Math.min(n, (step + 1) * batchSize));
}

/** Images [B,H,W,1] in native counts and masks [B,H,W,1] in {0,1} for the given slice indices. */
export function makeBatch(ds: CtDataset, indices: number[]): { counts: tf.Tensor4D; masks: tf.Tensor4D } {
  const hw = ds.height * ds.width;
  const images = new Float32Array(indices.length * hw);
  const masks = new Float32Array(indices.length * hw);
  indices.forEach((idx, b) => {
    const s = ds.slices[idx]!;
    images.set(s.image, b * hw);
    for (let i = 0; i < hw; i++) masks[b * hw + i] = s.mask[i]!;
  });
  const shape: [number, number, number, number] = [indices.length, ds.height, ds.width, 1];
  return { counts: tf.tensor4d(images, shape), masks: tf.tensor4d(masks, shape) };
}
