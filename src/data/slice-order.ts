/**
 * The order of a DICOM series' slices along the scan axis (files on disk come in any order).
 * The first rule every image of the series supports wins:
 *  1. `position`: ImagePositionPatient (0020,0032) projected on the slice normal, the cross
 *     product of ImageOrientationPatient's (0020,0037) row and column directions (the same
 *     orientation for every image; a missing orientation counts as axial, normal (0, 0, 1));
 *  2. `instance`: InstanceNumber (0020,0013);
 *  3. `file name`: the files' names (the series has no usable position or number).
 * Ties keep file-name order. The rule applied is returned so the loader can say which it was.
 */

/** What the order is computed from, per image (NaN / undefined where the file lacks the tag). */
export interface SliceOrderKeys {
  file: string;
  /** ImagePositionPatient x, y, z in mm, or undefined. */
  position?: [number, number, number];
  /** ImageOrientationPatient: row direction cosines then column direction cosines, or undefined. */
  orientation?: [number, number, number, number, number, number];
  instance: number;
}

export type SliceOrderRule = 'position' | 'instance' | 'file name';

/** Human-readable description of each rule, for the dataset's record. */
export const SLICE_ORDER_RULES: Record<SliceOrderRule, string> = {
  position: 'ImagePositionPatient along the slice normal',
  instance: 'InstanceNumber (no ImagePositionPatient on every image)',
  'file name': 'file name (neither ImagePositionPatient nor InstanceNumber on every image)',
};

/** The slice normal n = row × column of an orientation (unit vectors); axial (0, 0, 1) without one. */
export function sliceNormal(orientation?: readonly number[]): [number, number, number] {
  if (!orientation || orientation.length !== 6 || !orientation.every(Number.isFinite)) return [0, 0, 1];
  const [rx, ry, rz, cx, cy, cz] = orientation as [number, number, number, number, number, number];
  const n: [number, number, number] = [ry * cz - rz * cy, rz * cx - rx * cz, rx * cy - ry * cx];
  const len = Math.hypot(...n);
  return len > 0 ? [n[0] / len, n[1] / len, n[2] / len] : [0, 0, 1];
}

/** Distance of each image along the normal of the first image's orientation (mm); NaN without a position. */
export function positionsAlongNormal(images: readonly SliceOrderKeys[]): number[] {
  const n = sliceNormal(images.find((im) => im.orientation)?.orientation);
  return images.map((im) =>
    im.position && im.position.every(Number.isFinite) ? im.position[0] * n[0] + im.position[1] * n[1] + im.position[2] * n[2] : NaN,
  );
}

/** The images' indices in scan order (ascending key of the first applicable rule) and the rule used. */
export function seriesOrder(images: readonly SliceOrderKeys[]): { order: number[]; rule: SliceOrderRule } {
  const along = positionsAlongNormal(images);
  const rule: SliceOrderRule = along.every(Number.isFinite) ? 'position' : images.every((im) => Number.isFinite(im.instance)) ? 'instance' : 'file name';
  const key = (i: number) => (rule === 'position' ? along[i]! : rule === 'instance' ? images[i]!.instance : 0);
  const byName = (a: number, b: number) => images[a]!.file.localeCompare(images[b]!.file);
  const order = images.map((_, i) => i).sort((a, b) => key(a) - key(b) || byName(a, b));
  return { order, rule };
}
