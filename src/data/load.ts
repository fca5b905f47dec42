/**
 * One entry point for every on-disk dataset: a folder whose image sub-folder (default `ct/`)
 * holds NIfTI volumes (→ loadNiftiFolder), DICOM series sub-folders (→ loadDicomFolder) or
 * PNG slices (→ loadPngFolder).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { CtDataset } from './types.js';
import { loadPngFolder, type FolderOptions } from './folder.js';
import { isNiftiFile, loadDicomFolder, loadNiftiFolder, type ScanOptions } from './scan.js';

export type LoadOptions = FolderOptions & ScanOptions;
export type DatasetKind = 'png' | 'nifti' | 'dicom';

/** Which loader a folder needs, judged from its image sub-folder's entries. */
export function detectDatasetKind(dir: string, imageDir = 'ct'): DatasetKind {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError('dataset folder not found', { file: dir });
  const images = join(dir, imageDir);
  if (!existsSync(images) || !statSync(images).isDirectory()) throw new UserError(`no "${imageDir}" image folder`, { file: dir });
  const entries = readdirSync(images).filter((f) => !f.startsWith('.'));
  if (entries.length === 0) throw new UserError('image folder is empty', { file: images });
  if (entries.some(isNiftiFile)) return 'nifti';
  if (entries.every((f) => statSync(join(images, f)).isDirectory())) return 'dicom';
  return 'png';
}

/** Loads any supported dataset folder (see detectDatasetKind). */
export async function loadDataset(dir: string, opts: LoadOptions = {}): Promise<CtDataset> {
  switch (detectDatasetKind(dir, opts.imageDir)) {
    case 'nifti':
      return loadNiftiFolder(dir, opts);
    case 'dicom':
      return loadDicomFolder(dir, opts);
    default:
      return loadPngFolder(dir, opts);
  }
}
