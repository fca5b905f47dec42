/**
 * The one in-memory form every data source produces (synthetic phantoms, PNG folders, NIfTI,
 * DICOM): images at native detector scale, binary masks, one volume / patient id per slice.
 */
export interface CtSlice {
  /** Row-major H×W readout values in native ADC counts, integers in [0, 2^nativeBits − 1]. */
  image: Float32Array;
  /** Row-major H×W lesion mask, 0 or 1. */
  mask: Uint8Array;
  /** Patient or volume id: splits are made on this, never on slices. */
  volumeId: string;
  /** A name for reports (file stem or synthetic index). */
  name: string;
  /**
   * Position of the slice within its volume along the scan axis, 0-based, as loaded (NIfTI z
   * index, DICOM series order, file order within a folder's volume, phantom cut); absent where
   * a source does not know it. Slices left out (e.g. lesion slices only) leave gaps.
   */
  sliceIndex?: number;
}

export interface CtDataset {
  height: number;
  width: number;
  /** Native ADC bit depth of `image` values. */
  nativeBits: number;
  slices: CtSlice[];
  /** Where it came from, for manifests ("synthetic seed 1", a folder path). */
  source: string;
  /** How volume ids were assigned (loaders say which rule applied; see src/data/volumes.ts). */
  volumeRule?: string;
  /** How slices are ordered within a volume (DICOM: which tag decided; see src/data/slice-order.ts). */
  sliceOrder?: string;
  /** Inputs a loader skipped under `skipBad`, each with the reason. */
  skipped?: SkippedInput[];
  /**
   * The HU that counts 0 and 2^nativeBits − 1 stand for (detector-space mode reads HU); absent = the
   * default window [−1024, 1024] HU of the phantoms and HU loaders (src/data/hu.ts).
   */
  huWindow?: { lowHu: number; highHu: number };
  /**
   * The slice orientation the files record (NIfTI, DICOM; absent for PNG and phantoms), e.g.
   * "columns→L rows→A (nifti sform)", and whether it was applied ("made canonical").
   */
  orientation?: string;
  /** Loaded with `every` > 1: how many slices there were to keep every n-th of (PNG: image files), for the data line. */
  thinnedFrom?: number;
}

/** The machine memory a load may fill with slices, and what to do instead (see held.ts). */
export interface HeldLimit {
  maxBytes: number;
  /** What to do instead, for the message ("lower --size or keep every n-th slice (--every n)"). */
  remedy: string;
}

/** How every loader reads a folder: which slices it keeps, what it reports as it goes, where it stops. */
export interface ReadingOptions {
  /** Keep every n-th slice in the order the loader reads them (`--every`, see every.ts); PNG: the other files are never decoded. */
  every?: number;
  /** Called as the folder is read: `done` of `total` image files (PNG), volumes (NIfTI) or series (DICOM). */
  onProgress?: (done: number, total: number) => void;
  /** Stop the load when the slices held pass this (see held.ts). */
  heldLimit?: HeldLimit;
}

/** A file (or slice) a loader left out under `skipBad`. */
export interface SkippedInput {
  file: string;
  reason: string;
}
