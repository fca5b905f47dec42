/**
 * Per-pixel maps of a detector layout as PNG figures: the values are colour-mapped into a raw RGB
 * raster, upscaled nearest-neighbour so each readout pixel stays a crisp square, and placed in an
 * SVG with a title and a colour bar (continuous) or a legend of swatches (categorical).
 */
import sharp from 'sharp';
import { escapeXml, formatTick, niceTicks, svgDocument, svgToPng } from './svg-plot.js';

/** Viridis at 10 evenly spaced stops (matplotlib's values), interpolated linearly between them. */
const VIRIDIS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89', '#35b779', '#6ece58', '#b5de2b', '#fde725'];

function hexToRgb(hex: string): [number, number, number] {
  const v = parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** Viridis colour of t ∈ [0, 1] (clamped) as RGB bytes. */
export function viridis(t: number): [number, number, number] {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = hexToRgb(VIRIDIS[i]!);
  const b = hexToRgb(VIRIDIS[i + 1]!);
  return [0, 1, 2].map((k) => Math.round(a[k]! + f * (b[k]! - a[k]!))) as [number, number, number];
}

export type MapScale =
  | { kind: 'continuous'; min: number; max: number; label: string }
  | { kind: 'categorical'; categories: Array<{ value: number; label: string; color: string }>; label: string };

export interface MapSpec {
  /** Row-major rows×cols values (probabilities in [0, 1], ADC bits, 0/1 masks). */
  values: ArrayLike<number>;
  rows: number;
  cols: number;
  title: string;
  scale: MapScale;
  /** Small text under the map. */
  note?: string;
}

/** Integer upscale factor so the longer side is about `target` px (at least 1). */
export function upscaleFactor(rows: number, cols: number, target = 384): number {
  return Math.max(1, Math.floor(target / Math.max(rows, cols)));
}

/** Nearest-neighbour upscale of a raw RGB raster (3 bytes per pixel) by an integer factor. */
export function upscaleRgb(rgb: Uint8Array, rows: number, cols: number, factor: number): Uint8Array {
  const w = cols * factor;
  const out = new Uint8Array(rows * factor * w * 3);
  for (let y = 0; y < rows * factor; y++) {
    const sr = Math.floor(y / factor);
    for (let x = 0; x < w; x++) {
      const si = (sr * cols + Math.floor(x / factor)) * 3;
      const di = (y * w + x) * 3;
      out[di] = rgb[si]!;
      out[di + 1] = rgb[si + 1]!;
      out[di + 2] = rgb[si + 2]!;
    }
  }
  return out;
}

/** PNG bytes of a raw RGB raster. */
export async function rgbToPng(rgb: Uint8Array, width: number, height: number): Promise<Buffer> {
  return sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** Colours each value by the scale; values not in a categorical scale are mid grey. */
export function colourise(values: ArrayLike<number>, scale: MapScale): Uint8Array {
  const rgb = new Uint8Array(values.length * 3);
  const lookup = scale.kind === 'categorical' ? new Map(scale.categories.map((c) => [c.value, hexToRgb(c.color)])) : undefined;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    const c =
      scale.kind === 'continuous'
        ? viridis((v - scale.min) / (scale.max - scale.min || 1))
        : (lookup!.get(v) ?? ([128, 128, 128] as [number, number, number]));
    rgb.set(c, i * 3);
  }
  return rgb;
}

/** The figure of one map as an SVG document (raster embedded as a PNG data URI). */
export async function mapSvg(spec: MapSpec): Promise<string> {
  const { rows, cols } = spec;
  if (spec.values.length !== rows * cols) throw new RangeError(`map has ${spec.values.length} values, expected ${rows}×${cols}`);
  const factor = upscaleFactor(rows, cols);
  const w = cols * factor;
  const h = rows * factor;
  const png = await rgbToPng(upscaleRgb(colourise(spec.values, spec.scale), rows, cols, factor), w, h);
  const left = 20;
  const top = 44;
  const legendX = left + w + 24;
  const width = legendX + 170;
  const height = Math.max(top + h + (spec.note ? 40 : 24), top + 260);
  const parts: string[] = [];
  parts.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`);
  parts.push(`<image x="${left}" y="${top}" width="${w}" height="${h}" preserveAspectRatio="none" style="image-rendering:pixelated" ` +
    `href="data:image/png;base64,${png.toString('base64')}" xlink:href="data:image/png;base64,${png.toString('base64')}"/>`);
  parts.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${left}" y="${top + h + 16}" font-size="10" fill="#555">${rows}×${cols} readout pixels${factor > 1 ? `, each drawn ${factor}×${factor} px` : ''}</text>`);
  if (spec.note) parts.push(`<text x="${left}" y="${top + h + 30}" font-size="10" fill="#555">${escapeXml(spec.note)}</text>`);
  parts.push(`<text x="${legendX}" y="${top + 4}" font-size="12" font-weight="bold">${escapeXml(spec.scale.label)}</text>`);
  if (spec.scale.kind === 'continuous') {
    const barH = Math.min(220, Math.max(120, h - 20));
    const barY = top + 16;
    const stops = VIRIDIS.map((c, i) => `<stop offset="${(100 * i) / (VIRIDIS.length - 1)}%" stop-color="${c}"/>`).join('');
    parts.push(`<defs><linearGradient id="cbar" x1="0" y1="1" x2="0" y2="0">${stops}</linearGradient></defs>`);
    parts.push(`<rect x="${legendX}" y="${barY}" width="18" height="${barH}" fill="url(#cbar)" stroke="#333"/>`);
    const { min, max } = spec.scale;
    for (const t of niceTicks(min, max, 5)) {
      const y = barY + barH - ((t - min) / (max - min || 1)) * barH;
      parts.push(`<line x1="${legendX + 18}" y1="${y}" x2="${legendX + 23}" y2="${y}" stroke="#333"/>`);
      parts.push(`<text x="${legendX + 27}" y="${y + 4}" font-size="11">${formatTick(t)}</text>`);
    }
  } else {
    let y = top + 18;
    for (const c of spec.scale.categories) {
      parts.push(`<rect x="${legendX}" y="${y}" width="18" height="14" fill="${c.color}" stroke="#333"/>`);
      parts.push(`<text x="${legendX + 26}" y="${y + 11}" font-size="11">${escapeXml(c.label)}</text>`);
      y += 22;
    }
  }
  return svgDocument(width, height, parts.join('\n'));
}

/** The figure of one map as PNG bytes. */
export async function mapPng(spec: MapSpec): Promise<Buffer> {
  return svgToPng(await mapSvg(spec));
}

/** Two colours for a 0/1 layout: native (light) and reduced (dark), with the bit depths in the legend. */
export function binaryLayoutScale(nativeBits: number, reducedBits: number): MapScale {
  return {
    kind: 'categorical',
    label: 'ADC per pixel',
    categories: [
      { value: 0, label: `native ${nativeBits}-bit`, color: '#fde725' },
      { value: 1, label: `reduced ${reducedBits}-bit`, color: '#440154' },
    ],
  };
}

/** One viridis colour per bit depth (lowest dark, native bright) for multi-level bit maps. */
export function bitDepthScale(levels: number[]): MapScale {
  const sorted = [...new Set(levels)].sort((a, b) => a - b);
  const toHex = (c: [number, number, number]) => `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
  return {
    kind: 'categorical',
    label: 'ADC bits',
    categories: sorted.map((b, i) => ({ value: b, label: `${b}-bit`, color: toHex(viridis(sorted.length === 1 ? 1 : i / (sorted.length - 1))) })),
  };
}
