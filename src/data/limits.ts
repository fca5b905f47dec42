/**
 * Size limits checked from file headers before anything is decoded or inflated, so an
 * oversized image or a decompression bomb is refused in bounded memory and time.
 */

export interface PixelLimits {
  /** Most pixels one slice (a PNG, a DICOM frame, a NIfTI axial slice) may have (`--max-pixels`). */
  maxPixels?: number;
  /** Most voxels one NIfTI volume may have (`--max-voxels`). */
  maxVoxels?: number;
}

/** 4096 × 4096: ample for CT (512² is usual), small enough to decode in well under 1 GB. */
export const DEFAULT_MAX_PIXELS = 4096 * 4096;
/** 512 × 512 × 512: a whole-body CT volume; decoded as float32 + float64 that is 1.6 GB, so not more. */
export const DEFAULT_MAX_VOXELS = 512 * 512 * 512;

export function limitsOf(l: PixelLimits | undefined): Required<PixelLimits> {
  return { maxPixels: l?.maxPixels ?? DEFAULT_MAX_PIXELS, maxVoxels: l?.maxVoxels ?? DEFAULT_MAX_VOXELS };
}
