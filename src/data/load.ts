/**
 * One entry point for every on-disk dataset: a folder whose image sub-folder (default `ct/`)
 * holds NIfTI volumes (→ loadNiftiFolder), DICOM series sub-folders (→ loadDicomFolder) or
 * PNG slices (→ loadPngFolder).
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { printable, UserError } from '../errors.js';
import { lazyProgress } from '../util/progress.js';
import { readFolderNames, requireFolder, statPath } from '../util/fs-safe.js';
import { SLICE_SPLIT_RULE } from './volumes.js';
import type { CtDataset, HeldLimit } from './types.js';
import { loadPngFolder, type FolderOptions } from './folder.js';
import { niftiSliceCount } from './nifti.js';
import type { PixelLimits } from './limits.js';
import { bareDataSetSyntax, isNiftiFile, loadDicomFolder, loadNiftiFolder, type ScanOptions } from './scan.js';

export type LoadOptions = FolderOptions & ScanOptions;

/** Reading a data folder shows progress only past this: covid-ct-20's 1,614 PNG slices take about 9 s on 2 cores, every 4th 2 s. */
const LOAD_PROGRESS_DELAY_SECONDS = 5;
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
 * How many slices a dataset folder holds, judged from names and headers only (nothing decoded), for
 * the memory check before loading: its PNG image files, the z sizes its NIfTI headers give (4 KiB
 * read of each; a header past `limits` counts nothing, as the loader refuses it), the files of its
 * DICOM series. Undefined when the folder cannot be judged (missing, empty, a layout the loader
 * refuses): the loader then says why.
 */
export function countSlices(dir: string, imageDir = 'ct', limits?: PixelLimits): number | undefined {
  try {
    const kind = detectDatasetKind(dir, imageDir);
    const images = join(dir, imageDir);
    const names = readFolderNames(images).filter((f) => !f.startsWith('.'));
    const sum = (counts: number[]) => counts.reduce((a, b) => a + b, 0);
    switch (kind) {
      case 'png':
        return names.filter((f) => /\.png$/i.test(f)).length;
      case 'nifti':
        return sum(names.filter(isNiftiFile).map((f) => niftiSliceCount(readHead(join(images, f), 4096), limits) ?? 0));
      case 'dicom':
        return sum(names.map((s) => readFolderNames(join(images, s)).filter((f) => !f.startsWith('.')).length));
    }
  } catch {
    return undefined;
  }
}

/** The first `n` bytes of a regular file (fewer if it is shorter); empty for anything else or on a read error. */
function readHead(path: string, n: number): Uint8Array {
  if (!statPath(path).isFile()) return new Uint8Array(0);
  const head = Buffer.alloc(n);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    return head.subarray(0, readSync(fd, head, 0, n, 0));
  } catch {
    return new Uint8Array(0);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * A regular file (not *.png) named *.dcm, holding the DICOM preamble's "DICM" at byte 128, or
 * starting like a bare data set (bareDataSetSyntax: no preamble, as the DICOM reader accepts it);
 * read: 132 bytes at most.
 */
function isDicomFile(path: string): boolean {
  if (/\.png$/i.test(path) || !statPath(path).isFile()) return false;
  if (/\.dcm$/i.test(path)) return true;
  // Unreadable reads as empty: not DICOM, and the loader names the file.
  const head = readHead(path, 132);
  return (head.length === 132 && Buffer.from(head).toString('latin1', 128, 132) === 'DICM') || bareDataSetSyntax(head) !== null;
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

/**
 * loadDataset for a command that waits on it: its progress on stderr once reading takes more than
 * LOAD_PROGRESS_DELAY_SECONDS (quicker reads stay silent), and the slices it holds bounded by `heldLimit`.
 */
export async function loadDatasetWatched(dir: string, opts: LoadOptions, heldLimit: HeldLimit): Promise<CtDataset> {
  const reading = lazyProgress({ label: `reading ${printable(dir)}`, delaySeconds: LOAD_PROGRESS_DELAY_SECONDS });
  const ds = await loadDataset(dir, { ...opts, onProgress: reading.update, heldLimit });
  reading.finish();
  return ds;
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
