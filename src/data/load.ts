/**
 * One entry point for every on-disk dataset: a folder whose image sub-folder (default `ct/`)
 * holds NIfTI volumes (→ loadNiftiFolder), DICOM series sub-folders (→ loadDicomFolder) or
 * PNG slices (→ loadPngFolder).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { readFolderNames, requireFolder, statPath } from '../util/fs-safe.js';
import { SLICE_SPLIT_RULE } from './volumes.js';
import type { CtDataset } from './types.js';
import { loadPngFolder, type FolderOptions } from './folder.js';
import { bareDataSetSyntax, isNiftiFile, loadDicomFolder, loadNiftiFolder, type ScanOptions } from './scan.js';

export type LoadOptions = FolderOptions & ScanOptions;
export type DatasetKind = 'png' | 'nifti' | 'dicom';

/** Which loader a folder needs, judged from its image sub-folder's entries. */
export function detectDatasetKind(dir: string, imageDir = 'ct'): DatasetKind {
  requireFolder(dir, 'dataset');
  const images = join(dir, imageDir);
  requireFolder(images, `"${imageDir}" image`);
  const entries = readFolderNames(images).filter((f) => !f.startsWith('.'));
  if (entries.length === 0) throw new UserError('image folder is empty', { file: images });
  if (entries.some(isNiftiFile)) return 'nifti';
  if (entries.every((f) => statPath(join(images, f)).isDirectory())) return 'dicom';
  // DICOM slices straight in the image folder would go to the PNG loader, whose complaint (volume
  // ids, a mask without image, not a PNG) hides the real problem: the folder layout.
  const flat = entries.find((f) => isDicomFile(join(images, f)));
  if (flat !== undefined) {
    throw new UserError(`DICOM file ${flat} lies directly in the image folder: put each series in its own sub-folder (${imageDir}/<series>/), its masks in <mask folder>/<series>.nii[.gz] or <mask folder>/<series>/`, { file: images });
  }
  return 'png';
}

/**
 * A regular file (not *.png) named *.dcm, holding the DICOM preamble's "DICM" at byte 128, or
 * starting like a bare data set (bareDataSetSyntax: no preamble, as the DICOM reader accepts it);
 * read: 132 bytes at most.
 */
function isDicomFile(path: string): boolean {
  if (/\.png$/i.test(path) || !statPath(path).isFile()) return false;
  if (/\.dcm$/i.test(path)) return true;
  const head = Buffer.alloc(132);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const n = readSync(fd, head, 0, 132, 0);
    return (n === 132 && head.toString('latin1', 128, 132) === 'DICM') || bareDataSetSyntax(head.subarray(0, n)) !== null;
  } catch {
    return false; // unreadable: the loader names the file
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Loads any supported dataset folder (see detectDatasetKind). With `split: 'slice'` every slice
 * becomes its own volume, whatever ids the folder gives (the user asked for a slice split).
 */
export async function loadDataset(dir: string, opts: LoadOptions = {}): Promise<CtDataset> {
  const ds = await loadByKind(dir, opts);
  if (opts.split !== 'slice') return ds;
  return { ...ds, slices: ds.slices.map((s) => ({ ...s, volumeId: s.name })), volumeRule: SLICE_SPLIT_RULE };
}

async function loadByKind(dir: string, opts: LoadOptions): Promise<CtDataset> {
  switch (detectDatasetKind(dir, opts.imageDir)) {
    case 'nifti':
      return loadNiftiFolder(dir, opts);
    case 'dicom':
      return loadDicomFolder(dir, opts);
    default:
      return loadPngFolder(dir, opts);
  }
}
