/**
 * 2.5D context: the k slices around a slice of the same volume, for a network that reads them
 * as k input channels. Rules, decided here once:
 * - a volume's slices are taken in scan order: ascending `sliceIndex` when every slice of the
 *   volume has one, else the dataset's order (loaders push a volume's slices in scan order);
 * - neighbours are the adjacent entries of that list: slices a loader left out (lesion slices
 *   only, `--every n`) are skipped over, not filled in;
 * - at the ends of a volume the nearest slice is repeated (slice 0's context of 3 is 0, 0, 1);
 * - never across volumes: another patient's slice is never a neighbour.
 */
import type { CtDataset } from './types.js';

/** Checks a context size: a positive odd integer (the centre slice and (k − 1)/2 on each side). */
export function checkContextSlices(k: number): number {
  if (!(Number.isInteger(k) && k >= 1 && k % 2 === 1)) throw new RangeError(`context slices must be a positive odd integer, got ${k}`);
  return k;
}

/** For each slice of `ds`: the dataset indices of its volume's slices in scan order, and its position there. */
export interface VolumeOrder {
  /** Dataset indices of each volume's slices, in scan order, by volume id (first-appearance order). */
  volumes: Map<string, number[]>;
  /** Position of dataset slice i within its volume's list. */
  position: number[];
}

const cache = new WeakMap<CtDataset['slices'], VolumeOrder>();

/** The scan order of every volume of `ds` (see the module comment); cached per slice list. */
export function volumeOrder(ds: CtDataset): VolumeOrder {
  const hit = cache.get(ds.slices);
  if (hit) return hit;
  const volumes = new Map<string, number[]>();
  ds.slices.forEach((s, i) => {
    const list = volumes.get(s.volumeId);
    if (list) list.push(i);
    else volumes.set(s.volumeId, [i]);
  });
  const position = new Array<number>(ds.slices.length);
  for (const list of volumes.values()) {
    if (list.every((i) => ds.slices[i]!.sliceIndex !== undefined)) {
      // Stable: equal indices keep dataset order.
      list.sort((a, b) => ds.slices[a]!.sliceIndex! - ds.slices[b]!.sliceIndex! || a - b);
    }
    list.forEach((i, p) => (position[i] = p));
  }
  const order = { volumes, position };
  cache.set(ds.slices, order);
  return order;
}

/**
 * Dataset indices of the k slices around slice `index` (offsets −(k−1)/2 … +(k−1)/2 within its
 * volume, ends repeated): the channels of its 2.5D input, centre slice in the middle.
 */
export function contextIndices(ds: CtDataset, index: number, k: number): number[] {
  checkContextSlices(k);
  if (k === 1) return [index];
  const { volumes, position } = volumeOrder(ds);
  const list = volumes.get(ds.slices[index]!.volumeId)!;
  const p = position[index]!;
  const half = (k - 1) / 2;
  return Array.from({ length: k }, (_, c) => list[Math.min(list.length - 1, Math.max(0, p - half + c))]!);
}
