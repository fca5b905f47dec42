/**
 * A contact sheet of a few slices with the lesion mask outlined in colour, as one RGB PNG, so
 * a user (or a reviewer) can see what a dataset looks like.
 */
import type { CtDataset } from './types.js';
import { encodeRgbPng } from './png.js';

export interface PreviewOptions {
  /** Slices to show (default: up to `count` spread evenly, preferring slices with lesions). */
  indices?: number[];
  /** How many slices when indices is not given (default 8). */
  count?: number;
  columns?: number;
  /** Minimum tile side in pixels; small slices are enlarged by an integer factor (default 256). */
  minTile?: number;
  /** Display window in native counts; default the 0.5th..99.5th percentile of the shown slices. */
  window?: [number, number];
}

const OUTLINE: [number, number, number] = [255, 40, 40];
const GAP = 4;

/** Picks which slices a preview shows: evenly spaced, up to 3/4 of them with lesions. */
export function choosePreviewSlices(ds: CtDataset, count: number): number[] {
  const withLesion: number[] = [];
  const without: number[] = [];
  ds.slices.forEach((s, i) => (s.mask.some((m) => m !== 0) ? withLesion : without).push(i));
  const spread = (list: number[], k: number) => {
    if (k >= list.length) return list.slice();
    return Array.from({ length: k }, (_, j) => list[Math.floor(((j + 0.5) * list.length) / k)]!);
  };
  const nWithout = Math.min(without.length, Math.max(count - withLesion.length, Math.floor(count / 4)));
  const picked = [...spread(withLesion, count - nWithout), ...spread(without, nWithout)];
  return picked.sort((a, b) => a - b);
}

/** Renders the sheet; returns PNG bytes. */
export async function renderPreviewSheet(ds: CtDataset, opts: PreviewOptions = {}): Promise<Buffer> {
  const indices = opts.indices ?? choosePreviewSlices(ds, opts.count ?? 8);
  if (indices.length === 0) throw new RangeError('preview needs at least one slice');
  for (const i of indices) if (!(i >= 0 && i < ds.slices.length)) throw new RangeError(`preview slice ${i} out of range`);
  const { height: h, width: w } = ds;
  const zoom = Math.max(1, Math.ceil((opts.minTile ?? 256) / Math.max(h, w)));
  const tw = w * zoom;
  const th = h * zoom;
  const cols = Math.min(opts.columns ?? 4, indices.length);
  const rows = Math.ceil(indices.length / cols);
  const W = cols * tw + (cols + 1) * GAP;
  const H = rows * th + (rows + 1) * GAP;
  const rgb = new Uint8Array(W * H * 3).fill(32);
  const [lo, hi] = opts.window ?? percentileWindow(ds, indices);
  const scale = hi > lo ? 255 / (hi - lo) : 0;
  indices.forEach((si, k) => {
    const s = ds.slices[si]!;
    const ox = GAP + (k % cols) * (tw + GAP);
    const oy = GAP + Math.floor(k / cols) * (th + GAP);
    for (let y = 0; y < th; y++) {
      const sy = Math.floor(y / zoom);
      for (let x = 0; x < tw; x++) {
        const sx = Math.floor(x / zoom);
        const i = sy * w + sx;
        const g = Math.max(0, Math.min(255, Math.round((s.image[i]! - lo) * scale)));
        const o = ((oy + y) * W + ox + x) * 3;
        // Outline: a mask pixel with a 4-neighbour outside the mask, drawn on the tile's edge pixels.
        const m = s.mask[i] !== 0;
        let edge = false;
        if (m) {
          const onLeft = x % zoom === 0, onRight = x % zoom === zoom - 1, onTop = y % zoom === 0, onBottom = y % zoom === zoom - 1;
          edge =
            (onLeft && (sx === 0 || s.mask[i - 1] === 0)) ||
            (onRight && (sx === w - 1 || s.mask[i + 1] === 0)) ||
            (onTop && (sy === 0 || s.mask[i - w] === 0)) ||
            (onBottom && (sy === h - 1 || s.mask[i + w] === 0));
        }
        if (edge) {
          rgb[o] = OUTLINE[0];
          rgb[o + 1] = OUTLINE[1];
          rgb[o + 2] = OUTLINE[2];
        } else {
          rgb[o] = rgb[o + 1] = rgb[o + 2] = g;
        }
      }
    }
  });
  return encodeRgbPng(rgb, W, H);
}

function percentileWindow(ds: CtDataset, indices: number[]): [number, number] {
  const values: number[] = [];
  for (const i of indices) {
    const img = ds.slices[i]!.image;
    const step = Math.max(1, Math.floor(img.length / 20000));
    for (let j = 0; j < img.length; j += step) values.push(img[j]!);
  }
  values.sort((a, b) => a - b);
  const q = (p: number) => values[Math.min(values.length - 1, Math.floor(p * values.length))]!;
  return [q(0.005), q(0.995)];
}
