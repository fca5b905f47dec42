import { UserError } from '../errors.js';

/**
 * A mask's samples → 0/1. Binary means at most two distinct values, the lower one 0
 * (0/1, 0/255, 0/65535 all pass); anything else is a UserError naming the file.
 */
export function toBinaryMask(samples: ArrayLike<number>, file: string): Uint8Array {
  let on = -1;
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i]!;
    if (v === 0) continue;
    if (on === -1) {
      if (!(v > 0)) throw new UserError(`mask is not binary (value ${v})`, { file });
      on = v;
    } else if (v !== on) {
      throw new UserError(`mask is not binary (values 0, ${Math.min(on, v)}, ${Math.max(on, v)})`, { file });
    }
    out[i] = 1;
  }
  return out;
}
