import * as assert from 'uvu/assert';

/**
 * Largest |got − want| divided by max(floor, largest |want|); the plain largest difference when
 * that scale is 0. `floor` keeps near-zero references from turning rounding into large ratios.
 */
export function maxRelativeError(got: ArrayLike<number>, want: ArrayLike<number>, floor: number): number {
  assert.is(got.length, want.length, 'lengths differ');
  let scale = floor;
  let err = 0;
  for (let i = 0; i < got.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    err = Math.max(err, Math.abs(got[i]! - want[i]!));
  }
  return scale === 0 ? err : err / scale;
}
