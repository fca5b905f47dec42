/**
 * Bounded memory while a folder is read: the bytes of the slices kept so far (their image and mask
 * arrays) are added up as each file or volume is read, and past `maxBytes` the load stops with one
 * line naming the file that went over, where the kernel's OOM killer would otherwise end it (and
 * other processes with it). The count before loading (data/load.ts countSlices) catches most of
 * this earlier; this catches what it cannot count, at the size the slices really have.
 */
import type { CtSlice, HeldLimit } from './types.js';
import { LoadStop } from './skip.js';
import { formatGb } from '../util/bytes.js';

const gb = formatGb;

/**
 * A running total of held bytes that throws a LoadStop naming `file` once it passes `limit` (none:
 * count only): `hold` counts slices (image and mask arrays), `add` any other arrays a loader holds.
 */
export function heldSlices(limit: HeldLimit | undefined): { hold(slices: readonly CtSlice[], file: string): void; add(bytes: number, slices: number, file: string): void } {
  let bytes = 0;
  let count = 0;
  const add = (more: number, slices: number, file: string) => {
    bytes += more;
    count += slices;
    if (limit && bytes > limit.maxBytes) {
      throw new LoadStop(`the ${count} slices read up to this file hold ${gb(bytes)}, more than the ${gb(limit.maxBytes)} this machine has for them: ${limit.remedy}`, { file });
    }
  };
  return {
    hold: (slices, file) => add(slices.reduce((sum, s) => sum + s.image.byteLength + s.mask.byteLength, 0), slices.length, file),
    add,
  };
}
