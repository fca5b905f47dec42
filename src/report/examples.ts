/**
 * Example predictions beside ground truth: for each test slice the input image (grey), the
 * ground-truth outline (green) and the prediction outline (magenta) over it, one row per example.
 */
import { diceScore } from '../model/metrics.js';
import { escapeXml, svgDocument, svgToPng } from './svg-plot.js';
import { rgbToPng, upscaleFactor, upscaleRgb } from './maps.js';

export interface ExampleInput {
  /** Row-major rows×cols readout values in native ADC counts. */
  image: Float32Array;
  /** Row-major rows×cols ground-truth lesion mask, 0/1. */
  mask: Uint8Array;
  /** Row-major rows×cols predicted mask, 0/1. */
  prediction: Uint8Array;
  rows: number;
  cols: number;
  nativeBits: number;
  title: string;
}

const GT_COLOUR: [number, number, number] = [0, 200, 80];
const PRED_COLOUR: [number, number, number] = [230, 40, 200];

/** 1 where a mask pixel has a 4-neighbour outside the mask (or lies on the frame edge). */
export function outline(mask: Uint8Array, rows: number, cols: number): Uint8Array {
  const out = new Uint8Array(rows * cols);
  const at = (r: number, c: number) => (r < 0 || c < 0 || r >= rows || c >= cols ? 0 : mask[r * cols + c]!);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      if (!mask[r * cols + c]) continue;
      if (!at(r - 1, c) || !at(r + 1, c) || !at(r, c - 1) || !at(r, c + 1)) out[r * cols + c] = 1;
    }
  }
  return out;
}

/**
 * Grey RGB of an image in native counts, windowed to its 1st–99th percentile so soft-tissue
 * contrast stays visible whatever the detector's range.
 */
export function greyRgb(image: Float32Array): Uint8Array {
  const sorted = Float32Array.from(image).sort();
  const lo = sorted[Math.floor(0.01 * (sorted.length - 1))] ?? 0;
  const hi = sorted[Math.floor(0.99 * (sorted.length - 1))] ?? 1;
  const span = hi - lo || 1;
  const rgb = new Uint8Array(image.length * 3);
  for (let i = 0; i < image.length; i++) {
    const g = Math.round(255 * Math.min(1, Math.max(0, (image[i]! - lo) / span)));
    rgb[i * 3] = rgb[i * 3 + 1] = rgb[i * 3 + 2] = g;
  }
  return rgb;
}

function paint(rgb: Uint8Array, where: Uint8Array, colour: [number, number, number]): Uint8Array {
  const out = Uint8Array.from(rgb);
  for (let i = 0; i < where.length; i++) if (where[i]) out.set(colour, i * 3);
  return out;
}

/** The examples figure as an SVG document: columns input | ground truth | prediction | both. */
export async function examplesSvg(examples: readonly ExampleInput[]): Promise<string> {
  if (examples.length === 0) throw new RangeError('no examples to draw');
  const panel = 220;
  const labelH = 34;
  const gap = 12;
  const columns = ['input', 'ground truth', 'prediction', 'both'];
  const width = gap + columns.length * (panel + gap);
  const header = 52;
  const parts: string[] = [];
  parts.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">Example predictions on test slices</text>`);
  parts.push(`<rect x="${width / 2 - 170}" y="32" width="14" height="10" fill="rgb(${GT_COLOUR.join(',')})"/>` +
    `<text x="${width / 2 - 150}" y="41" font-size="11">ground-truth outline</text>` +
    `<rect x="${width / 2 + 10}" y="32" width="14" height="10" fill="rgb(${PRED_COLOUR.join(',')})"/>` +
    `<text x="${width / 2 + 30}" y="41" font-size="11">prediction outline</text>`);
  let y = header;
  for (const ex of examples) {
    const n = ex.rows * ex.cols;
    if (ex.image.length !== n || ex.mask.length !== n || ex.prediction.length !== n) {
      throw new RangeError(`example ${JSON.stringify(ex.title)}: image, mask and prediction must all be ${ex.rows}×${ex.cols}`);
    }
    const factor = upscaleFactor(ex.rows, ex.cols, panel);
    const scale = panel / (Math.max(ex.rows, ex.cols) * factor);
    const w = ex.cols * factor;
    const h = ex.rows * factor;
    const grey = greyRgb(ex.image);
    const gt = outline(ex.mask, ex.rows, ex.cols);
    const pred = outline(ex.prediction, ex.rows, ex.cols);
    const rasters = [grey, paint(grey, gt, GT_COLOUR), paint(grey, pred, PRED_COLOUR), paint(paint(grey, gt, GT_COLOUR), pred, PRED_COLOUR)];
    const dice = diceScore(ex.mask, ex.prediction);
    parts.push(`<text x="${gap}" y="${y + 14}" font-size="13" font-weight="bold">${escapeXml(ex.title)} — Dice ${dice.toFixed(3)}</text>`);
    for (let c = 0; c < rasters.length; c++) {
      const png = await rgbToPng(upscaleRgb(rasters[c]!, ex.rows, ex.cols, factor), w, h);
      const x = gap + c * (panel + gap);
      parts.push(`<text x="${x + panel / 2}" y="${y + labelH - 4}" text-anchor="middle" font-size="11" fill="#333">${columns[c]}</text>`);
      parts.push(`<image x="${x}" y="${y + labelH}" width="${w * scale}" height="${h * scale}" preserveAspectRatio="none" ` +
        `style="image-rendering:pixelated" href="data:image/png;base64,${png.toString('base64')}"/>`);
    }
    y += labelH + panel + gap;
  }
  return svgDocument(width, y, parts.join('\n'));
}

/** The examples figure as PNG bytes. */
export async function examplesPng(examples: readonly ExampleInput[]): Promise<Buffer> {
  return svgToPng(await examplesSvg(examples));
}
