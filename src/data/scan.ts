/**
 * Loaders for HU-valued scans: NIfTI volume pairs and DICOM series. Both map HU to native counts
 * through hu.ts (default 12 bits over [−1024, 1024] HU, the same detector as the phantoms) and
 * cut volumes into axial slices; the volume id is the file stem (NIfTI) or the DICOM PatientID.
 */
import { everyNth } from './every.js';
import { heldSlices } from './held.js';
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import dicomParser from 'dicom-parser';
import { UserError } from '../errors.js';
import type { CtDataset, CtSlice, ReadingOptions } from './types.js';
import { skipCollector } from './skip.js';
import { DEFAULT_HU_WINDOW, checkDetector, huImageToCounts, type HuWindow } from './hu.js';
import { axialSlice, readNifti } from './nifti.js';
import { toBinaryMask } from './mask.js';
import { listFiles } from './folder.js';
import { checkPixelCount, readGreyImage } from './png.js';
import { limitsOf, type PixelLimits } from './limits.js';
import { SLICE_ORDER_RULES, seriesOrder } from './slice-order.js';
import { fitPart, type FitTarget } from './resize.js';
import { readFolderNames, readRegularFile, requireFolder, statPath } from '../util/fs-safe.js';
import { applyFix, dicomOrientation, joinOrientations, niftiSliceOrientation, orientationPlan, type CanonicalFix, type OrientMode } from './orientation.js';

/** `every` counts slices across the volumes / series in the order they are read. */
export interface ScanOptions extends PixelLimits, ReadingOptions {
  /** Native ADC depth the HU values are digitised to (default 12). */
  nativeBits?: number;
  window?: HuWindow;
  /** Keep only slices whose mask is not empty (real volumes have many slices without lung). */
  lesionSlicesOnly?: boolean;
  /** Skip bad files instead of failing; the dataset lists them in `skipped`. */
  skipBad?: boolean;
  imageDir?: string;
  maskDir?: string;
  /** `canonical`: turn slices to columns→L rows→P by the orientation the files record; default: as stored. */
  orient?: OrientMode;
  /** Fit each volume / series to this slice size as it is read, so parts of different sizes are accepted (see resize.ts). */
  fitTo?: FitTarget;
}

const thinnedFrom = (every: number | undefined, offered: number) => ((every ?? 1) > 1 ? { thinnedFrom: offered } : {});

/** A slice (H×W) and its mask through `fix` (null: unchanged). */
function oriented(image: Float32Array, mask: Uint8Array, height: number, width: number, fix: CanonicalFix | null): { image: Float32Array; mask: Uint8Array } {
  if (!fix) return { image, mask };
  return { image: applyFix(image, height, width, fix).values, mask: applyFix(mask, height, width, fix).values };
}

/** [height, width] of H×W slices after `fix`. */
const orientedShape = (height: number, width: number, fix: CanonicalFix | null): [number, number] => (fix?.transpose ? [width, height] : [height, width]);

/** NIfTI slices come in the volume's own z index order. */
const NIFTI_SLICE_ORDER = 'NIfTI z index';

const niftiStem = (f: string) => f.replace(/\.nii(\.gz)?$/i, '');
export const isNiftiFile = (f: string) => /\.nii(\.gz)?$/i.test(f);

function detector(opts: ScanOptions): { nativeBits: number; window: HuWindow } {
  const nativeBits = opts.nativeBits ?? 12;
  const window = opts.window ?? DEFAULT_HU_WINDOW;
  const bad = checkDetector(nativeBits, window);
  if (bad) throw new UserError(bad);
  return { nativeBits, window };
}

/** One NIfTI image volume (HU) and its mask volume as a dataset; a UserError naming the file on bad input. */
export function loadNiftiPair(imagePath: string, maskPath: string, opts: ScanOptions = {}, volumeId = niftiStem(basename(imagePath))): CtDataset {
  const { nativeBits, window } = detector(opts);
  const img = readNifti(imagePath, opts);
  const msk = readNifti(maskPath, opts);
  if (img.dims.some((d, i) => d !== msk.dims[i])) {
    throw new UserError(`mask volume is ${msk.dims.join('×')} but its image is ${img.dims.join('×')}`, { file: maskPath });
  }
  const mask3d = toBinaryMask(msk.raw, maskPath);
  // The image's affine orients both: a mask volume shares its image's voxel grid.
  const { fix, text } = orientationPlan(niftiSliceOrientation(img.axes), opts.orient, imagePath);
  const slices: CtSlice[] = [];
  for (let k = 0; k < img.dims[2]; k++) {
    const rawMask = Uint8Array.from(axialSlice(msk, mask3d, k));
    if (opts.lesionSlicesOnly && !rawMask.some((m) => m !== 0)) continue;
    const { image, mask } = oriented(huImageToCounts(axialSlice(img, img.data, k), nativeBits, window), rawMask, img.dims[1], img.dims[0], fix);
    slices.push({ image, mask, volumeId, name: `${volumeId}-z${String(k).padStart(3, '0')}`, sliceIndex: k });
  }
  const [height, width] = orientedShape(img.dims[1], img.dims[0], fix);
  return { height, width, nativeBits, slices, source: imagePath, volumeRule: 'NIfTI file stem', sliceOrder: NIFTI_SLICE_ORDER, orientation: text };
}

/**
 * The [height, width] of a folder's slices: `got`'s, which must equal the earlier parts' (`shape`,
 * null for the first part); else a UserError naming `file` ("slices are W×H, other <others> are …").
 */
function sameSliceShape(shape: [number, number] | null, got: CtDataset, others: string, file: string): [number, number] {
  if (shape && (got.height !== shape[0] || got.width !== shape[1])) {
    throw new UserError(`slices are ${got.width}×${got.height}, other ${others} are ${shape[1]}×${shape[0]}`, { file });
  }
  return [got.height, got.width];
}

/** Loads `<dir>/<imageDir>/*.nii[.gz]` with masks of the same stem in `<dir>/<maskDir>/`. */
export function loadNiftiFolder(dir: string, opts: ScanOptions = {}): CtDataset {
  const { nativeBits } = detector(opts);
  const imageDir = join(dir, opts.imageDir ?? 'ct');
  const maskDir = join(dir, opts.maskDir ?? 'covid');
  requireFolder(imageDir, 'image');
  requireFolder(maskDir, 'mask');
  const images = listFiles(imageDir);
  const masks = listFiles(maskDir);
  if (images.length === 0) throw new UserError('no image volumes', { file: imageDir });
  const skips = skipCollector(opts.skipBad);
  const maskByStem = new Map(masks.filter(isNiftiFile).map((f) => [niftiStem(f), f]));
  const imageStems = new Set(images.filter(isNiftiFile).map(niftiStem));
  for (const f of masks) if (!isNiftiFile(f) || !imageStems.has(niftiStem(f))) skips.skipOrThrow(new UserError(isNiftiFile(f) ? 'mask without image' : 'not a NIfTI file', { file: join(maskDir, f) }));
  const slices: CtSlice[] = [];
  const thin = everyNth(opts.every);
  const held = heldSlices(opts.heldLimit);
  const orientations: string[] = [];
  let shape: [number, number] | null = null;
  let read = 0;
  for (const f of images) {
    try {
      if (!isNiftiFile(f)) throw new UserError('not a NIfTI file (.nii or .nii.gz)', { file: join(imageDir, f) });
      const m = maskByStem.get(niftiStem(f));
      if (m === undefined) throw new UserError('image without mask', { file: join(imageDir, f) });
      const got = fitPart(loadNiftiPair(join(imageDir, f), join(maskDir, m), opts), opts.fitTo);
      shape = sameSliceShape(shape, got, "volumes'", join(imageDir, f));
      const kept = thin.keep(got.slices);
      held.hold(kept, join(imageDir, f));
      slices.push(...kept);
      if (got.orientation) orientations.push(got.orientation);
    } catch (e) {
      skips.skipOrThrow(e);
    }
    opts.onProgress?.(++read, images.length);
  }
  if (slices.length === 0 || !shape) throw new UserError(`no usable slices (${skips.skipped.length} files skipped)`, { file: dir });
  const orientation = joinOrientations(orientations);
  return {
    height: shape[0], width: shape[1], nativeBits, slices, source: dir, volumeRule: 'NIfTI file stem', sliceOrder: NIFTI_SLICE_ORDER,
    ...skips.datasetField(), ...(orientation ? { orientation } : {}), ...thinnedFrom(opts.every, thin.offered()),
  };
}

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
/** Deflated explicit VR little endian (PS3.5 §A.5): once inflated, explicit VR little endian pixels. */
const DEFLATED_LE = '1.2.840.10008.1.2.1.99';
/** Transfer syntaxes whose pixel data is native (PS3.5 §8.1.1), not encapsulated: the three uncompressed ones and deflated. */
const NATIVE_PIXELS = new Set([IMPLICIT_LE, EXPLICIT_LE, DEFLATED_LE, '1.2.840.10008.1.2.2']);
/** The two-letter value representations (PS3.5 §6.2): after a tag they mark explicit VR. */
const VRS = new Set('AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' '));

/**
 * The transfer syntax of a file without the Part 10 preamble, "DICM" and meta group (PS3.10 §7.1)
 * that starts like a bare data set, as ACR-NEMA-era scanners and some PACS exports write it: its
 * first element in group 0008 (every image has SOP Class / Instance UID there), explicit VR little
 * endian when a VR follows the tag, else implicit VR little endian, the default syntax (PS3.5 §10.1).
 * null: a Part 10 file, or bytes that do not look like a data set.
 */
export function bareDataSetSyntax(bytes: Uint8Array): string | null {
  if (bytes.length >= 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d) return null;
  if (bytes.length < 8 || bytes[0] !== 0x08 || bytes[1] !== 0x00) return null;
  return VRS.has(String.fromCharCode(bytes[4]!, bytes[5]!)) ? EXPLICIT_LE : IMPLICIT_LE;
}

interface DicomImage {
  file: string;
  rows: number;
  cols: number;
  hu: Float32Array;
  /** ImagePositionPatient z (mm), NaN when absent. */
  z: number;
  /** ImagePositionPatient x, y, z (mm), when every component is present. */
  position?: [number, number, number];
  /** ImageOrientationPatient row then column direction cosines, when present. */
  orientation?: [number, number, number, number, number, number];
  instance: number;
  patientId: string;
}

/**
 * How a pixel cell holds its stored value (PS3.5 §8.1.1): a cell of Bits Allocated bits whose bits
 * High Bit − Bits Stored + 1 … High Bit hold the value, a two's complement integer whose sign bit is
 * High Bit when Pixel Representation is 1. The other bits are not part of the value: CT scanners
 * writing 12 of 16 bits may put overlay planes there (PS3.5 §8.1.2, retired) or leave them set.
 */
export interface PixelCell {
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  signed: boolean;
}

/**
 * Why a cell layout cannot be read (PS3.5 §8.1.1: Bits Stored ≤ Bits Allocated, the value inside the
 * cell), naming the tag at fault; null when it can. Only 8- and 16-bit integer cells are read here.
 */
export function pixelCellProblem(cell: PixelCell): string | null {
  const { bitsAllocated: a, bitsStored: s, highBit: h } = cell;
  if (a !== 16 && a !== 8) return `DICOM bits allocated ${a}, expected 8 or 16`;
  if (!Number.isInteger(s) || s < 1 || s > a) return `DICOM bits stored (0028,0101) is ${s}, must be 1 … ${a} (bits allocated)`;
  if (!Number.isInteger(h) || h < s - 1 || h > a - 1) return `DICOM high bit (0028,0102) is ${h}, must be ${s - 1} … ${a - 1} (bits stored − 1 … bits allocated − 1)`;
  return null;
}

/**
 * One pixel cell (read as an unsigned word) → its stored value: bits above High Bit and below
 * High Bit − Bits Stored + 1 dropped, sign-extended from Bits Stored bits when signed (PS3.5 §8.1.1).
 */
export function storedValue(word: number, cell: PixelCell): number {
  const v = (word >>> (cell.highBit - cell.bitsStored + 1)) & ((1 << cell.bitsStored) - 1);
  return cell.signed && v >= 1 << (cell.bitsStored - 1) ? v - (1 << cell.bitsStored) : v;
}

/** Most bytes a deflated data set may inflate to: 16-bit pixels of a --max-pixels slice plus 16 MiB for the other elements. */
export const deflatedLimit = (maxPixels: number) => 2 * maxPixels + 16 * 2 ** 20;

/**
 * A deflated data set (PS3.5 §A.5: raw deflate after the meta group) inflated, at most `limit`
 * bytes: dicom-parser's own inflater has no bound, so a small file could take all memory.
 */
function inflateDataSet(deflated: Uint8Array, limit: number, file: string): Buffer {
  try {
    return inflateRawSync(deflated, { maxOutputLength: limit });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new UserError(`deflated DICOM data set inflates to more than ${limit} bytes (2 × --max-pixels + 16 MiB): a decompression bomb?`, { file });
    }
    throw new UserError(`deflated DICOM data set does not inflate (${(e as Error).message})`, { file });
  }
}

/** Reads one single-frame uncompressed (or deflated) DICOM image and applies rescale slope / intercept (→ HU). */
export function readDicomHu(path: string, limits?: PixelLimits): DicomImage {
  const bytes = readRegularFile(path, 'DICOM file');
  const bare = bareDataSetSyntax(bytes);
  // dicom-parser parses the array the inflater returns from byte 0: hand it the inflated data set
  // alone (the meta group's elements then point into the other array: the syntax is known here).
  let deflated = false;
  const inflater = (arr: Uint8Array, position: number) => {
    deflated = true;
    return inflateDataSet(arr.subarray(position), deflatedLimit(limitsOf(limits).maxPixels), path);
  };
  let ds: dicomParser.DataSet;
  try {
    ds = dicomParser.parseDicom(bytes, bare ? { TransferSyntaxUID: bare } : { inflater: inflater as unknown as dicomParser.ParseDicomOptions['inflater'] });
  } catch (e) {
    if (e instanceof UserError) throw e;
    const msg = typeof e === 'string' ? e : e instanceof Error ? e.message : ((e as { exception?: string }).exception ?? String(e));
    throw new UserError(`not a readable DICOM file (${msg})`, { file: path });
  }
  const ts = bare ?? (deflated ? DEFLATED_LE : (ds.string('x00020010')?.trim() ?? IMPLICIT_LE));
  const data = ds.byteArray;
  if (!NATIVE_PIXELS.has(ts)) throw new UserError(`compressed DICOM (transfer syntax ${ts}) is not supported; decompress it first`, { file: path });
  const rows = ds.uint16('x00280010');
  const cols = ds.uint16('x00280011');
  const bitsAllocated = ds.uint16('x00280100') ?? 16;
  const bitsStored = ds.uint16('x00280101') ?? bitsAllocated;
  const cell: PixelCell = { bitsAllocated, bitsStored, highBit: ds.uint16('x00280102') ?? bitsStored - 1, signed: ds.uint16('x00280103') === 1 };
  const samples = ds.uint16('x00280002') ?? 1;
  const pixel = ds.elements['x7fe00010'];
  // Float / Double Float Pixel Data (PS3.3 C.7.6.24, parametric maps) hold no integer stored values to rescale.
  const floatTag = !pixel && (ds.elements['x7fe00008'] ? '(7FE0,0008)' : ds.elements['x7fe00009'] ? '(7FE0,0009)' : null);
  if (floatTag) throw new UserError(`DICOM float pixel data ${floatTag} is not supported: only integer Pixel Data (7FE0,0010) is read`, { file: path });
  if (!rows || !cols || !pixel) throw new UserError('DICOM file has no image (rows, columns or pixel data missing)', { file: path });
  if (samples !== 1) throw new UserError(`DICOM image has ${samples} samples per pixel, expected 1`, { file: path });
  // Only CT pixels rescale to HU (PS3.3 C.11.1.1.2); an MR, PET or radiograph slice in a series folder
  // would be read as HU and trained on. OT (other) is let through: converters write it for CT volumes.
  const modality = ds.string('x00080060')?.trim();
  if (modality && modality !== 'CT' && modality !== 'OT') {
    throw new UserError(`DICOM modality (0008,0060) is ${modality}: only CT images hold HU`, { file: path });
  }
  // CT images are MONOCHROME1 or MONOCHROME2 (PS3.3 C.8.2.1.1.2). Either way the rescale gives HU:
  // MONOCHROME1 only says to display low values bright (PS3.3 C.7.6.3.1.2), so it is read the same.
  // PALETTE COLOR also has one sample, but its values index a colour table, not HU.
  const photometric = ds.string('x00280004')?.trim();
  if (photometric && photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2') {
    throw new UserError(`DICOM photometric interpretation (0028,0004) is ${photometric}, expected MONOCHROME1 or MONOCHROME2 (a greyscale CT image)`, { file: path });
  }
  // A multi-frame file (enhanced CT) holds a whole series: reading its first frame as one slice would drop the rest.
  const frames = ds.intString('x00280008') ?? 1;
  if (frames !== 1) throw new UserError(`DICOM file has ${frames} frames (NumberOfFrames); only single-frame images are read: split it into one file per slice`, { file: path });
  checkPixelCount(cols, rows, limitsOf(limits).maxPixels, path);
  // Undefined-length pixel data is encapsulated (fragments behind item tags, PS3.5 §A.4), which only
  // compressed syntaxes use; read as native pixels its item tags and offset table would become pixels.
  if (pixel.hadUndefinedLength || pixel.encapsulatedPixelData) {
    throw new UserError(`DICOM pixel data is encapsulated (undefined length) but transfer syntax ${ts} is uncompressed: the file contradicts itself`, { file: path });
  }
  const badCell = pixelCellProblem(cell);
  if (badCell) throw new UserError(badCell, { file: path });
  const n = rows * cols;
  const need = (n * bitsAllocated) / 8;
  if (pixel.length < need || pixel.dataOffset + need > data.length) throw new UserError(`DICOM pixel data has ${pixel.length} bytes, ${rows}×${cols} needs ${need}`, { file: path });
  const view = new DataView(data.buffer, data.byteOffset + pixel.dataOffset, need);
  const le = ts !== '1.2.840.10008.1.2.2';
  const slope = ds.floatString('x00281053') ?? 1;
  const intercept = ds.floatString('x00281052') ?? 0;
  // dicom-parser reads a malformed decimal string ("abc", "NaN") as NaN: every HU value would be NaN.
  if (!Number.isFinite(slope) || !Number.isFinite(intercept)) {
    const which = Number.isFinite(slope) ? `intercept (0028,1052) ${JSON.stringify(ds.string('x00281052'))}` : `slope (0028,1053) ${JSON.stringify(ds.string('x00281053'))}`;
    throw new UserError(`DICOM rescale ${which} is not a finite number`, { file: path });
  }
  // HU = stored × slope + intercept (PS3.3 C.11.1.1.2): a zero slope maps every pixel to the intercept, a blank image.
  if (slope === 0) throw new UserError('DICOM rescale slope (0028,1053) is 0: every pixel would be the intercept', { file: path });
  const hu = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    hu[i] = storedValue(bitsAllocated === 8 ? view.getUint8(i) : view.getUint16(2 * i, le), cell) * slope + intercept;
  }
  return {
    file: path,
    rows,
    cols,
    hu,
    z: ds.floatString('x00200032', 2) ?? NaN,
    ...decimalValues(ds, 'x00200032', 3, 'position'),
    ...decimalValues(ds, 'x00200037', 6, 'orientation'),
    instance: ds.intString('x00200013') ?? NaN,
    patientId: ds.string('x00100020')?.trim() ?? '',
  };
}

/** `{ [field]: values }` when a multi-valued decimal-string tag has `count` finite values, else `{}`. */
function decimalValues<F extends 'position' | 'orientation'>(ds: dicomParser.DataSet, tag: string, count: number, field: F): Partial<Pick<DicomImage, F>> {
  const values = Array.from({ length: count }, (_, i) => ds.floatString(tag, i) ?? NaN);
  return values.every(Number.isFinite) ? ({ [field]: values } as Partial<Pick<DicomImage, F>>) : {};
}

/**
 * One DICOM series (a folder of single-frame files) with its masks: a NIfTI mask volume whose
 * slice k matches the k-th image in scan order (ImagePositionPatient along the slice normal, else
 * InstanceNumber, else file name; see slice-order.ts; the dataset's `sliceOrder` says which), or
 * a folder of PNG masks named like the DICOM files (`IM0001.dcm` → `IM0001.png`).
 * The volume id is the PatientID, else the series folder name.
 */
export async function loadDicomSeries(seriesDir: string, maskPath: string, opts: ScanOptions = {}): Promise<CtDataset> {
  const { nativeBits, window } = detector(opts);
  requireFolder(seriesDir, 'DICOM series');
  const files = listFiles(seriesDir);
  if (files.length === 0) throw new UserError('no DICOM files', { file: seriesDir });
  const skips = skipCollector(opts.skipBad);
  // A series is held whole (to be sorted) before its slices are fitted: bounded like the slices a load keeps.
  const held = heldSlices(opts.heldLimit);
  const images: DicomImage[] = [];
  for (const f of files) {
    try {
      const im = readDicomHu(join(seriesDir, f), opts);
      if (images[0] && (im.rows !== images[0].rows || im.cols !== images[0].cols)) {
        throw new UserError(`image is ${im.cols}×${im.rows}, others are ${images[0].cols}×${images[0].rows}`, { file: im.file });
      }
      held.add(im.hu.byteLength, 1, im.file);
      images.push(im);
    } catch (e) {
      skips.skipOrThrow(e);
    }
  }
  if (images.length === 0) throw new UserError(`no usable DICOM images (${skips.skipped.length} skipped)`, { file: seriesDir });
  const ordered = seriesOrder(images);
  const sorted = ordered.order.map((i) => images[i]!);
  images.splice(0, images.length, ...sorted);
  const { rows, cols } = images[0]!;
  const volumeId = images[0]!.patientId || basename(seriesDir);
  const masks: (Uint8Array | null)[] = [];
  if (!existsSync(maskPath)) throw new UserError('mask not found', { file: maskPath });
  if (statPath(maskPath).isDirectory()) {
    const byStem = new Map(listFiles(maskPath).map((f) => [f.replace(/\.[^.]*$/, ''), f]));
    for (const im of images) {
      try {
        const m = byStem.get(basename(im.file).replace(/\.[^.]*$/, ''));
        if (m === undefined) throw new UserError('DICOM image without mask', { file: im.file });
        const g = await readGreyImage(join(maskPath, m), opts);
        if (g.width !== cols || g.height !== rows) throw new UserError(`mask is ${g.width}×${g.height} but its image is ${cols}×${rows}`, { file: join(maskPath, m) });
        masks.push(toBinaryMask(g.data, join(maskPath, m)));
      } catch (e) {
        skips.skipOrThrow(e);
        masks.push(null);
      }
    }
  } else {
    const vol = readNifti(maskPath, opts);
    if (vol.dims[0] !== cols || vol.dims[1] !== rows || vol.dims[2] !== images.length) {
      throw new UserError(`mask volume is ${vol.dims.join('×')} but the series is ${cols}×${rows}×${images.length}`, { file: maskPath });
    }
    const bin = toBinaryMask(vol.raw, maskPath);
    for (let k = 0; k < images.length; k++) masks.push(Uint8Array.from(axialSlice(vol, bin, k)));
  }
  // The series' first image orients all of it (a series is one acquisition plane).
  const iop = images[0]!.orientation;
  const { fix, text } = orientationPlan(iop ? dicomOrientation(iop) : null, opts.orient, images[0]!.file);
  const slices: CtSlice[] = [];
  images.forEach((im, k) => {
    const rawMask = masks[k];
    if (!rawMask || (opts.lesionSlicesOnly && !rawMask.some((m) => m !== 0))) return;
    const { image, mask } = oriented(huImageToCounts(im.hu, nativeBits, window), rawMask, rows, cols, fix);
    slices.push({ image, mask, volumeId, name: basename(im.file).replace(/\.[^.]*$/, ''), sliceIndex: k });
  });
  if (slices.length === 0) throw new UserError('no usable slices', { file: seriesDir });
  const [height, width] = orientedShape(rows, cols, fix);
  const sliceOrder = `DICOM ${SLICE_ORDER_RULES[ordered.rule]}`;
  return { height, width, nativeBits, slices, source: seriesDir, volumeRule: 'DICOM PatientID', sliceOrder, ...skips.datasetField(), orientation: text };
}

/**
 * Several DICOM series: `<dir>/<imageDir>/<series>/` folders, each with its masks at
 * `<dir>/<maskDir>/<series>.nii[.gz]` or `<dir>/<maskDir>/<series>/` (PNG per DICOM file).
 */
export async function loadDicomFolder(dir: string, opts: ScanOptions = {}): Promise<CtDataset> {
  const { nativeBits } = detector(opts);
  const imageDir = join(dir, opts.imageDir ?? 'ct');
  const maskDir = join(dir, opts.maskDir ?? 'covid');
  const series = existsSync(imageDir) ? readFolderNames(imageDir).filter((f) => !f.startsWith('.') && statPath(join(imageDir, f)).isDirectory()) : [];
  if (series.length === 0) throw new UserError('no DICOM series folders', { file: imageDir });
  const slices: CtSlice[] = [];
  const thin = everyNth(opts.every);
  const held = heldSlices(opts.heldLimit);
  const orientations: string[] = [];
  const skips = skipCollector(opts.skipBad);
  const orders = new Set<string>();
  let shape: [number, number] | null = null;
  let read = 0;
  for (const s of series) {
    const candidates = [join(maskDir, s), join(maskDir, `${s}.nii.gz`), join(maskDir, `${s}.nii`)];
    const maskPath = candidates.find((c) => existsSync(c));
    try {
      if (!maskPath) throw new UserError('DICOM series without mask', { file: join(imageDir, s) });
      const got = fitPart(await loadDicomSeries(join(imageDir, s), maskPath, opts), opts.fitTo);
      shape = sameSliceShape(shape, got, "series'", join(imageDir, s));
      const kept = thin.keep(got.slices);
      held.hold(kept, join(imageDir, s));
      slices.push(...kept);
      if (got.orientation) orientations.push(got.orientation);
      if (got.sliceOrder) orders.add(got.sliceOrder);
      skips.skipped.push(...(got.skipped ?? []));
    } catch (e) {
      skips.skipOrThrow(e);
    }
    opts.onProgress?.(++read, series.length);
  }
  if (!shape || slices.length === 0) throw new UserError(`no usable slices (${skips.skipped.length} skipped)`, { file: dir });
  const orientation = joinOrientations(orientations);
  return {
    height: shape[0], width: shape[1], nativeBits, slices, source: dir, volumeRule: 'DICOM PatientID', sliceOrder: [...orders].join('; '),
    ...skips.datasetField(), ...(orientation ? { orientation } : {}), ...thinnedFrom(opts.every, thin.offered()),
  };
}
