/**
 * Greyscale PNG reading and writing through sharp, at 8 or 16 bits per sample.
 * Before sharp decodes a PNG, its chunk structure is checked here (every chunk's CRC, no unknown
 * critical chunk, IHDR first, IEND present) and its size is read from IHDR and held to
 * `maxPixels`, so a corrupt file or a pixel bomb is refused without decoding it.
 */
import sharp from 'sharp';
import { UserError } from '../errors.js';
import { crc32 } from '../util/crc32.js';
import { readRegularFile } from '../util/fs-safe.js';
import { limitsOf, type PixelLimits } from './limits.js';

export type { PixelLimits } from './limits.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Critical chunks of PNG 1.2 (a critical chunk has an uppercase first letter; an unknown one must not be skipped). */
const KNOWN_CRITICAL = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND']);
/** Bit depths PNG allows per colour type. */
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] };

export interface PngHeader {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
}

export const isPng = (buf: Uint8Array): boolean => buf.length >= 8 && PNG_SIGNATURE.equals(Buffer.from(buf.buffer, buf.byteOffset, 8));

/**
 * Checks a PNG's chunk structure without decoding pixels and returns its IHDR; a UserError
 * naming `file` on a bad CRC, an unknown critical chunk, a missing IHDR / IDAT / IEND, a
 * truncated chunk or an invalid IHDR.
 */
export function checkPngStructure(buf: Uint8Array, file: string): PngHeader {
  if (!isPng(buf)) throw new UserError('not a PNG file (bad signature)', { file });
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 8;
  let header: PngHeader | null = null;
  let idat = 0;
  for (;;) {
    if (at + 12 > buf.length) throw new UserError(`truncated PNG: no IEND chunk (file ends at byte ${buf.length})`, { file });
    const length = view.getUint32(at);
    const typeBytes = buf.subarray(at + 4, at + 8);
    const type = String.fromCharCode(...typeBytes);
    if (!/^[A-Za-z]{4}$/.test(type)) throw new UserError(`PNG chunk at byte ${at} has an invalid type`, { file });
    if (length > 2 ** 31 - 1 || at + 12 + length > buf.length) throw new UserError(`truncated PNG: chunk ${type} at byte ${at} runs past the end of the file`, { file });
    const stored = view.getUint32(at + 8 + length);
    if (crc32(buf.subarray(at + 4, at + 8 + length)) !== stored) throw new UserError(`PNG chunk ${type} at byte ${at} has a wrong CRC (file damaged)`, { file });
    const critical = type.charCodeAt(0) < 97;
    if (critical && !KNOWN_CRITICAL.has(type)) throw new UserError(`PNG has an unknown critical chunk ${type}`, { file });
    if (header === null && type !== 'IHDR') throw new UserError(`PNG does not start with IHDR (found ${type})`, { file });
    if (type === 'IHDR') {
      if (header !== null) throw new UserError('PNG has two IHDR chunks', { file });
      if (length !== 13) throw new UserError(`PNG IHDR is ${length} bytes, expected 13`, { file });
      header = { width: view.getUint32(at + 8), height: view.getUint32(at + 12), bitDepth: buf[at + 16]!, colorType: buf[at + 17]! };
      const { width, height, bitDepth, colorType } = header;
      if (width === 0 || height === 0 || width > 2 ** 31 - 1 || height > 2 ** 31 - 1) throw new UserError(`PNG size ${width}×${height} is invalid`, { file });
      if (!DEPTHS[colorType]?.includes(bitDepth)) throw new UserError(`PNG bit depth ${bitDepth} is invalid for colour type ${colorType}`, { file });
      if (buf[at + 18] !== 0 || buf[at + 19] !== 0 || buf[at + 20]! > 1) throw new UserError('PNG IHDR has an unknown compression, filter or interlace method', { file });
    }
    if (type === 'IDAT') idat++;
    if (type === 'IEND') break;
    at += 12 + length;
  }
  if (idat === 0) throw new UserError('PNG has no image data (no IDAT chunk)', { file });
  return header!;
}

/** Refuses an image of more than `maxPixels` pixels (before any decoding). */
export function checkPixelCount(width: number, height: number, maxPixels: number, file: string): void {
  if (width * height > maxPixels) {
    throw new UserError(`image is ${width}×${height} = ${width * height} pixels, more than --max-pixels ${maxPixels}`, { file });
  }
}

export interface GreyImage {
  width: number;
  height: number;
  /** 8 or 16: the PNG's sample depth. */
  bits: 8 | 16;
  /** Row-major H×W samples (Uint8Array for 8-bit files, Uint16Array for 16-bit). */
  data: Uint8Array | Uint16Array;
  /** Channels the file had before conversion to grey (1 or 2 grey, 3 or 4 colour or palette). */
  channels: number;
  /**
   * Where the file holds colour: the first pixel (row-major index) whose red, green and blue
   * differ; `data` is then their luminance. Absent for grey files and for colour files whose
   * channels are equal everywhere (grey stored as RGB, RGBA or a grey palette, as viewers often
   * export CT), whose `data` is the common value, exactly as stored.
   */
  colourAt?: number;
}

/**
 * The first pixel (row-major index) whose first three channels differ, or −1 when every pixel's
 * are equal (a grey image stored as colour). Channels past the third (alpha) are not compared.
 */
export function firstColourPixel(samples: ArrayLike<number>, channels: number): number {
  if (channels < 3) return -1;
  const pixels = samples.length / channels;
  for (let i = 0, at = 0; i < pixels; i++, at += channels) {
    const r = samples[at]!;
    if (samples[at + 1] !== r || samples[at + 2] !== r) return i;
  }
  return -1;
}

/** Where colour was found, for a message: "red, green and blue differ at x 3, y 0". */
export function colourWhere(pixel: number, width: number): string {
  return `red, green and blue differ at x ${pixel % width}, y ${Math.floor(pixel / width)}`;
}

/** The first channel of interleaved samples (every `stride`-th sample), as a new array. */
function channelOf<T extends Uint8Array | Uint16Array>(all: T, stride: number, make: (n: number) => T): T {
  if (stride === 1) return all.slice() as T;
  const out = make(all.length / stride);
  for (let i = 0; i < out.length; i++) out[i] = all[i * stride]!;
  return out;
}

/**
 * Reads a PNG (or any image sharp decodes) as greyscale; a UserError naming the file if it cannot.
 * PNG structure and size are checked before decoding (see checkPngStructure); other formats are
 * held to the same pixel limit by sharp's header check.
 */
export async function readGreyImage(path: string, limits?: PixelLimits): Promise<GreyImage> {
  const { maxPixels } = limitsOf(limits);
  const buf = readRegularFile(path, 'image file');
  if (buf.length === 0) throw new UserError('empty file, not an image', { file: path });
  if (isPng(buf)) {
    const h = checkPngStructure(buf, path);
    checkPixelCount(h.width, h.height, maxPixels, path);
  }
  try {
    const img = sharp(buf, { failOn: 'truncated', limitInputPixels: maxPixels });
    const meta = await img.metadata();
    if (meta.width !== undefined && meta.height !== undefined) checkPixelCount(meta.width, meta.height, maxPixels, path);
    const sixteen = meta.depth === 'ushort';
    const channels = meta.channels ?? 1;
    const samples = async (colourspace: 'grey16' | 'b-w' | 'rgb16' | 'srgb') => {
      const { data, info } = await img.clone().toColourspace(colourspace).raw(sixteen ? { depth: 'ushort' } : {}).toBuffer({ resolveWithObject: true });
      const all = sixteen ? new Uint16Array(data.buffer, data.byteOffset, data.length / 2) : new Uint8Array(data.buffer, data.byteOffset, data.length);
      return { all, info };
    };
    const grey = (all: Uint8Array | Uint16Array, stride: number) =>
      all instanceof Uint16Array ? channelOf(all, stride, (n) => new Uint16Array(n)) : channelOf(all, stride, (n) => new Uint8Array(n));
    let colourAt = -1;
    if (channels >= 3) {
      // Grey stored as colour keeps its stored values (red = green = blue); luminance would round them.
      const { all, info } = await samples(sixteen ? 'rgb16' : 'srgb');
      colourAt = firstColourPixel(all, info.channels);
      if (colourAt === -1) return { width: info.width, height: info.height, bits: sixteen ? 16 : 8, data: grey(all, info.channels), channels };
    }
    // An alpha channel, if sharp kept one, is dropped.
    const { all, info } = await samples(sixteen ? 'grey16' : 'b-w');
    return { width: info.width, height: info.height, bits: sixteen ? 16 : 8, data: grey(all, info.channels), channels, ...(colourAt >= 0 ? { colourAt } : {}) };
  } catch (e) {
    if (e instanceof UserError) throw e;
    const msg = e instanceof Error ? e.message.split('\n')[0]!.trim() : String(e);
    throw new UserError(`not a readable image (${msg})`, { file: path });
  }
}

/** Encodes H×W samples as a greyscale PNG: 8-bit from Uint8Array, 16-bit from Uint16Array. */
export async function encodeGreyPng(data: Uint8Array | Uint16Array, width: number, height: number): Promise<Buffer> {
  if (data.length !== width * height) throw new RangeError(`PNG data has ${data.length} samples, expected ${width}×${height}`);
  const img = sharp(data, { raw: { width, height, channels: 1 } });
  return (data instanceof Uint16Array ? img.toColourspace('grey16') : img.toColourspace('b-w')).png({ compressionLevel: 6 }).toBuffer();
}

/** Encodes H×W×3 RGB bytes as a PNG. */
export async function encodeRgbPng(rgb: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } }).png().toBuffer();
}
