import * as tf from '@tensorflow/tfjs';
import type { CtDataset } from '../data/types.js';
import { Rng } from '../util/rng.js';
import { contextIndices } from '../data/context.js';
import { augmentationIsOff, augmentSlice, augmentStack, type AugmentConfig } from './augment.js';

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

/** Where a batch is augmented: the transform of slice i is a pure function of (seed, epoch, i) (see augment.ts). */
export interface BatchAugmentation {
  config: AugmentConfig;
  seed: number;
  epoch: number;
}

/**
 * Images [B,H,W,k] in native counts and masks [B,H,W,1] in {0,1} for the given slice indices;
 * k = `contextSlices` (default 1): channel c of batch entry b is the slice at offset
 * c − (k − 1)/2 from slice indices[b] in its volume (src/data/context.ts: volume scan order, ends
 * repeated), and the mask is the centre slice's. With `augment`, each entry is transformed
 * before the readout stage sees it, all its k slices alike (the layout stays in detector
 * coordinates).
 */
export function makeBatch(
  ds: CtDataset,
  indices: number[],
  augment?: BatchAugmentation,
  contextSlices = 1,
): { counts: tf.Tensor4D; masks: tf.Tensor4D } {
  if (contextSlices !== 1) return makeContextBatch(ds, indices, augment, contextSlices);
  const hw = ds.height * ds.width;
  const images = new Float32Array(indices.length * hw);
  const masks = new Float32Array(indices.length * hw);
  const active = augment && !augmentationIsOff(augment.config) ? augment : null;
  indices.forEach((idx, b) => {
    const s = active
      ? augmentSlice(ds.slices[idx]!.image, ds.slices[idx]!.mask, ds.height, ds.width, ds.nativeBits, active.config, {
          seed: active.seed,
          epoch: active.epoch,
          index: idx,
        })
      : ds.slices[idx]!;
    images.set(s.image, b * hw);
    for (let i = 0; i < hw; i++) masks[b * hw + i] = s.mask[i]!;
  });
  const shape: [number, number, number, number] = [indices.length, ds.height, ds.width, 1];
  return { counts: tf.tensor4d(images, shape), masks: tf.tensor4d(masks, shape) };
}

/** makeBatch with k > 1 context slices, channels interleaved per pixel (NHWC). */
function makeContextBatch(ds: CtDataset, indices: number[], augment: BatchAugmentation | undefined, k: number): { counts: tf.Tensor4D; masks: tf.Tensor4D } {
  const hw = ds.height * ds.width;
  const images = new Float32Array(indices.length * hw * k);
  const masks = new Float32Array(indices.length * hw);
  const active = augment && !augmentationIsOff(augment.config) ? augment : null;
  indices.forEach((idx, b) => {
    const stack = contextIndices(ds, idx, k).map((i) => ds.slices[i]!.image);
    const centre = ds.slices[idx]!;
    const s = active
      ? augmentStack(stack, centre.mask, ds.height, ds.width, ds.nativeBits, active.config, { seed: active.seed, epoch: active.epoch, index: idx })
      : { images: stack, mask: centre.mask };
    const base = b * hw * k;
    for (let c = 0; c < k; c++) {
      const image = s.images[c]!;
      for (let i = 0; i < hw; i++) images[base + i * k + c] = image[i]!;
    }
    for (let i = 0; i < hw; i++) masks[b * hw + i] = s.mask[i]!;
  });
  return {
    counts: tf.tensor4d(images, [indices.length, ds.height, ds.width, k]),
    masks: tf.tensor4d(masks, [indices.length, ds.height, ds.width, 1]),
  };
}
