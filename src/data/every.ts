/**
 * `--every n`: keep every n-th slice of a folder, in the order its loader reads them (PNG: image file
 * names; NIfTI and DICOM: volume by volume, each in scan order), applied as the slices are read so that
 * the others are never held (PNG: never decoded) and the memory check's count is the peak.
 */

/** A filter that keeps the 1st, (n+1)-th, (2n+1)-th … of the items offered, counted across calls (across volumes, not within each). */
export function everyNth(every: number | undefined): { keep<T>(items: readonly T[]): T[]; offered(): number } {
  const n = every ?? 1;
  if (!(Number.isInteger(n) && n >= 1)) throw new RangeError(`every must be an integer ≥ 1, got ${every}`);
  let seen = 0;
  return {
    keep: (items) => items.filter(() => seen++ % n === 0),
    offered: () => seen,
  };
}
