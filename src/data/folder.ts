/**
 * The folder format: `<dir>/<imageDir>/<stem>.png` images at native depth (8-bit, or 16-bit
 * holding up to 16 native bits) and `<dir>/<maskDir>/<stem>.png` binary masks with the same
 * stems, plus optional volume information (see volumes.ts). covid-ct-20 is such a folder
 * (`ct/`, `covid/`); `ctquant data synth` writes one.
 */
import { everyNth } from './every.js';
import { heldSlices } from './held.js';
import { basename, extname, join } from 'node:path';
import { UserError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { listRegularFiles, requireFolder } from '../util/fs-safe.js';
import type { CtDataset, CtSlice, ReadingOptions } from './types.js';
import { skipCollector } from './skip.js';
import { colourWhere, encodeGreyPng, readGreyImage, type PixelLimits } from './png.js';
import { toBinaryMask } from './mask.js';
import { assignVolumes, type SplitRule, type VolumesFile } from './volumes.js';
import { fitSlice, type FitTarget } from './resize.js';

/** `every` counts image files in name order: a skipped file keeps its place. */
export interface FolderOptions extends PixelLimits, ReadingOptions {
  /** Image sub-folder (default `ct`). */
  imageDir?: string;
  /** Mask sub-folder (default `covid`). */
  maskDir?: string;
  /** Native depth of the samples when volumes.json does not give one (default: the PNG depth). */
  nativeBits?: number;
  /** Volume starts, overriding volumes.json (see volumes.ts). */
  volumeStarts?: number[];
  /** A volumes.json outside the dataset folder (e.g. for a read-only copy). */
  volumesFile?: string;
  /** Skip bad pairs instead of failing; the dataset lists them in `skipped`. */
  skipBad?: boolean;
  /** `slice`: the user accepts a slice-by-slice split (each slice its own volume); default `volume`, which refuses a folder without volume ids. */
  split?: SplitRule;
  /** Files decoded at once (default 8). */
  concurrency?: number;
  /** Fit each slice to this size as it is read, so slices of different sizes are accepted (see resize.ts). */
  fitTo?: FitTarget;
}

/** Regular, non-hidden files of a folder, sorted by name (file-system problems are UserErrors, see fs-safe.ts). */
export const listFiles = listRegularFiles;

const stemOf = (file: string) => basename(file, extname(file));

const requireDir = requireFolder;

/** A folder's slices are ordered by file name within each volume (the volume's files sort in scan order). */
const FOLDER_SLICE_ORDER = 'file name within each volume';

/** For each entry of a list of volume ids: how many earlier entries have the same id (its index within its volume). */
export function positionsWithinVolumes(volumeIds: readonly string[]): number[] {
  const seen = new Map<string, number>();
  return volumeIds.map((id) => {
    const k = seen.get(id) ?? 0;
    seen.set(id, k + 1);
    return k;
  });
}

/** Loads a folder of image/mask PNG pairs; throws UserError naming the file on bad input unless skipBad. */
export async function loadPngFolder(dir: string, opts: FolderOptions = {}): Promise<CtDataset> {
  requireDir(dir, 'dataset');
  const imageDir = join(dir, opts.imageDir ?? 'ct');
  const maskDir = join(dir, opts.maskDir ?? 'covid');
  requireDir(imageDir, 'image');
  requireDir(maskDir, 'mask');
  const imageFiles = listFiles(imageDir);
  const maskFiles = listFiles(maskDir);
  if (imageFiles.length === 0) throw new UserError('no image files', { file: imageDir });
  const skips = skipCollector(opts.skipBad);

  const maskByStem = new Map(maskFiles.map((f) => [stemOf(f), f]));
  const imageStems = new Set(imageFiles.map(stemOf));
  for (const f of maskFiles) {
    if (!imageStems.has(stemOf(f))) skips.skipOrThrow(new UserError('mask without image', { file: join(maskDir, f) }));
  }
  const stems = imageFiles.map(stemOf);
  const volumes = assignVolumes(dir, stems, { volumeStarts: opts.volumeStarts, volumesFile: opts.volumesFile, split: opts.split });
  const sliceIndices = positionsWithinVolumes(volumes.ids);

  type Loaded = { slice: CtSlice; height: number; width: number; bits: number; maxValue: number; file: string };
  const loadOne = async (k: number): Promise<Loaded | null> => {
    const imagePath = join(imageDir, imageFiles[k]!);
    try {
      const maskFile = maskByStem.get(stems[k]!);
      if (maskFile === undefined) throw new UserError('image without mask', { file: imagePath });
      const maskPath = join(maskDir, maskFile);
      const [img, msk] = await Promise.all([readGreyImage(imagePath, opts), readGreyImage(maskPath, opts)]);
      if (img.width !== msk.width || img.height !== msk.height) {
        throw new UserError(`mask is ${msk.width}×${msk.height} but its image is ${img.width}×${img.height}`, { file: maskPath });
      }
      if (img.colourAt !== undefined) throw new UserError(`image is in colour (${colourWhere(img.colourAt, img.width)}), expected greyscale`, { file: imagePath });
      const mask = toBinaryMask(msk.data, maskPath);
      let maxValue = 0;
      const image = new Float32Array(img.data.length);
      for (let i = 0; i < image.length; i++) {
        image[i] = img.data[i]!;
        if (image[i]! > maxValue) maxValue = image[i]!;
      }
      const t = opts.fitTo;
      const fitted = t ? fitSlice(image, mask, img.height, img.width, t.height, t.width, t.fit) : { image, mask };
      return {
        slice: { ...fitted, volumeId: volumes.ids[k]!, name: stems[k]!, sliceIndex: sliceIndices[k]! },
        height: t ? t.height : img.height,
        width: t ? t.width : img.width,
        bits: img.bits,
        maxValue,
        file: imagePath,
      };
    } catch (e) {
      skips.skipOrThrow(e);
      return null;
    }
  };
  const results: (Loaded | null)[] = new Array(imageFiles.length).fill(null);
  const wanted = everyNth(opts.every).keep(imageFiles.map((_, k) => k));
  let next = 0;
  let read = 0;
  const held = heldSlices(opts.heldLimit);
  await Promise.all(
    Array.from({ length: Math.max(1, opts.concurrency ?? 8) }, async () => {
      while (next < wanted.length) {
        const k = wanted[next++]!;
        const got = await loadOne(k);
        results[k] = got;
        try {
          if (got) held.hold([got.slice], got.file);
        } catch (e) {
          next = wanted.length; // the other readers stop too
          throw e;
        }
        opts.onProgress?.(++read, wanted.length);
      }
    }),
  );

  // Every slice must share the first good slice's size (after fitTo, when given) and PNG depth.
  const first = results.find((r) => r !== null);
  const slices: CtSlice[] = [];
  let maxValue = 0;
  for (const r of results) {
    if (r === null) continue;
    try {
      if (r.height !== first!.height || r.width !== first!.width) {
        throw new UserError(`image is ${r.width}×${r.height}, others are ${first!.width}×${first!.height}`, { file: r.file });
      }
      if (r.bits !== first!.bits) throw new UserError(`image is ${r.bits}-bit, others are ${first!.bits}-bit`, { file: r.file });
    } catch (e) {
      skips.skipOrThrow(e);
      continue;
    }
    slices.push(r.slice);
    maxValue = Math.max(maxValue, r.maxValue);
  }
  if (slices.length === 0) throw new UserError(`no usable image/mask pairs (${skips.skipped.length} skipped)`, { file: dir });
  const nativeBits = volumes.nativeBits ?? opts.nativeBits ?? first!.bits;
  if (maxValue > 2 ** nativeBits - 1) {
    throw new UserError(`image values reach ${maxValue}, more than ${nativeBits}-bit native depth allows`, { file: dir });
  }
  return {
    height: first!.height,
    width: first!.width,
    nativeBits,
    slices,
    source: dir,
    volumeRule: volumes.rule,
    sliceOrder: FOLDER_SLICE_ORDER,
    ...skips.datasetField(),
    ...((opts.every ?? 1) > 1 ? { thinnedFrom: imageFiles.length } : {}),
  };
}

/**
 * Writes a dataset in the folder format: `<dir>/ct/NNNN.png` (16-bit when nativeBits > 8),
 * `<dir>/covid/NNNN.png` (8-bit, 0/255) and `<dir>/volumes.json` (stem → volume id, and
 * nativeBits). Every file goes through writeFileAtomic. Returns the image stems written.
 */
export async function writePngFolder(ds: CtDataset, dir: string, opts: { imageDir?: string; maskDir?: string } = {}): Promise<string[]> {
  const digits = Math.max(4, String(ds.slices.length - 1).length);
  const stems = ds.slices.map((_, i) => String(i).padStart(digits, '0'));
  const top = 2 ** ds.nativeBits - 1;
  const volumes: VolumesFile & { source: string } = { nativeBits: ds.nativeBits, source: ds.source, volumes: {} };
  for (let k = 0; k < ds.slices.length; k++) {
    const s = ds.slices[k]!;
    const n = ds.height * ds.width;
    const image = ds.nativeBits > 8 ? new Uint16Array(n) : new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = s.image[i]!;
      if (!(v >= 0 && v <= top && Number.isInteger(v))) throw new RangeError(`slice ${s.name}: value ${v} is not an integer count in [0, ${top}]`);
      image[i] = v;
    }
    const mask = new Uint8Array(n);
    for (let i = 0; i < n; i++) mask[i] = s.mask[i] ? 255 : 0;
    writeFileAtomic(join(dir, opts.imageDir ?? 'ct', `${stems[k]}.png`), await encodeGreyPng(image, ds.width, ds.height));
    writeFileAtomic(join(dir, opts.maskDir ?? 'covid', `${stems[k]}.png`), await encodeGreyPng(mask, ds.width, ds.height));
    volumes.volumes![stems[k]!] = s.volumeId;
  }
  writeFileAtomic(join(dir, 'volumes.json'), JSON.stringify(volumes, null, 1) + '\n');
  return stems;
}
