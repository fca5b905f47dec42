/**
 * Greyscale PNG reading and writing through sharp, at 8 or 16 bits per sample.
 * Reading fails on truncated or corrupt files (sharp `failOn: 'truncated'`).
 */
import sharp from 'sharp';
import { UserError } from '../errors.js';
import { readInputFile } from './input-file.js';

export interface GreyImage {
  width: number;
  height: number;
  /** 8 or 16: the PNG's sample depth. */
  bits: 8 | 16;
  /** Row-major H×W samples (Uint8Array for 8-bit files, Uint16Array for 16-bit). */
  data: Uint8Array | Uint16Array;
  /** Channels the file had before conversion to grey (1 or 2 grey, 3 or 4 colour). */
  channels: number;
}

/** Reads a PNG (or any image sharp decodes) as greyscale; a UserError naming the file if it cannot. */
export async function readGreyImage(path: string): Promise<GreyImage> {
  const buf = readInputFile(path);
  if (buf.length === 0) throw new UserError('empty file, not an image', { file: path });
  try {
    const img = sharp(buf, { failOn: 'truncated' });
    const meta = await img.metadata();
    const sixteen = meta.depth === 'ushort';
    const { data, info } = sixteen
      ? await img.toColourspace('grey16').raw({ depth: 'ushort' }).toBuffer({ resolveWithObject: true })
      : await img.toColourspace('b-w').raw().toBuffer({ resolveWithObject: true });
    const pixels = info.width * info.height;
    // Drop an alpha channel if sharp kept one.
    const stride = info.channels;
    let out: Uint8Array | Uint16Array;
    if (sixteen) {
      const all = new Uint16Array(data.buffer, data.byteOffset, data.length / 2);
      out = stride === 1 ? Uint16Array.from(all) : Uint16Array.from({ length: pixels }, (_, i) => all[i * stride]!);
    } else {
      out = stride === 1 ? Uint8Array.from(data) : Uint8Array.from({ length: pixels }, (_, i) => data[i * stride]!);
    }
    return { width: info.width, height: info.height, bits: sixteen ? 16 : 8, data: out, channels: meta.channels ?? 1 };
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
