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
/**
 * 512 × 512 × 1024: a thin-slice chest CT (0.625 mm: 500–700 slices) or a 1 mm whole-body scan. Decoding
 * holds the file's bytes, the raw values in their own type and float32 HU: about 2 GB for int16 voxels
 * (5 GB for the rare float64 volume).
 */
export const DEFAULT_MAX_VOXELS = 512 * 512 * 1024;

export function limitsOf(l: PixelLimits | undefined): Required<PixelLimits> {
  return { maxPixels: l?.maxPixels ?? DEFAULT_MAX_PIXELS, maxVoxels: l?.maxVoxels ?? DEFAULT_MAX_VOXELS };
}
