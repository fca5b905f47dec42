/**
 * Layout families of the trainable layers: which detector pixels share one learned logit (a
 * "cell"), and how a cell map is expanded to the full rows × cols readout.
 * - `pixel`: one cell per pixel (the free per-pixel map);
 * - `tile`: one K × K pattern repeated over the detector (cell of pixel (r, c) = (r mod K, c mod K));
 * - `grid`: one cell per detector column, per row, or per T × T block (edge blocks may be smaller).
 * Pure geometry plus the tensor expansion; the layers (layer.ts, multilevel.ts) hold the cell logits.
 */
import * as tf from '@tensorflow/tfjs';

import type { GridGranularity, LayoutFamily, LayoutFamilyName } from '../config/experiment-config.js';

export type { GridGranularity, LayoutFamily, LayoutFamilyName };

export const PIXEL_FAMILY: LayoutFamily = { family: 'pixel' };

/**
 * How cells map onto the detector. Cell (i, j) covers pixel (r, c) when
 *   repeat = 'pattern': i = r mod cellRows, j = c mod cellCols;
 *   repeat = 'each':    i = floor(r / spanRows), j = floor(c / spanCols).
 */
export interface CellGeometry {
  rows: number;
  cols: number;
  cellRows: number;
  cellCols: number;
  repeat: 'pattern' | 'each';
  /** 'each': detector pixels per cell along rows / cols (the last cell may hold fewer). */
  spanRows: number;
  spanCols: number;
}

/** The family's cell geometry on a rows × cols detector; a RangeError names the bad field. */
export function cellGeometry(family: LayoutFamily, rows: number, cols: number): CellGeometry {
  const each = (spanRows: number, spanCols: number): CellGeometry => ({
    rows, cols, cellRows: Math.ceil(rows / spanRows), cellCols: Math.ceil(cols / spanCols), repeat: 'each', spanRows, spanCols,
  });
  switch (family.family) {
    case 'pixel':
      return each(1, 1);
    case 'tile': {
      const k = family.tile;
      if (!(Number.isInteger(k) && k! >= 2 && k! <= 32)) throw new RangeError(`layout.tile must be an integer in 2..32, got ${k}`);
      if (k! > rows || k! > cols) throw new RangeError(`layout.tile ${k} is larger than the ${rows}×${cols} detector`);
      return { rows, cols, cellRows: k!, cellCols: k!, repeat: 'pattern', spanRows: 1, spanCols: 1 };
    }
    case 'grid': {
      const granularity = family.granularity ?? 'block';
      if (granularity === 'column') return each(rows, 1);
      if (granularity === 'row') return each(1, cols);
      if (granularity !== 'block') throw new RangeError(`layout.granularity must be column, row or block, got ${granularity}`);
      const t = family.block;
      if (!(Number.isInteger(t) && t! >= 2)) throw new RangeError(`layout.block must be an integer ≥ 2, got ${t}`);
      return each(t!, t!);
    }
    default:
      throw new RangeError(`layout.family must be pixel, tile or grid, got ${(family as { family: unknown }).family}`);
  }
}

export const cellCount = (g: CellGeometry): number => g.cellRows * g.cellCols;

/** True when each cell is one pixel (the `pixel` family, or a tile as large as the detector). */
export const isPerPixel = (g: CellGeometry): boolean => g.cellRows === g.rows && g.cellCols === g.cols;

/** Row-major cell index of every detector pixel (row-major, rows·cols entries). */
export function cellOfPixel(g: CellGeometry): Int32Array {
  const out = new Int32Array(g.rows * g.cols);
  for (let r = 0; r < g.rows; r++) {
    const i = g.repeat === 'pattern' ? r % g.cellRows : Math.floor(r / g.spanRows);
    for (let c = 0; c < g.cols; c++) {
      const j = g.repeat === 'pattern' ? c % g.cellCols : Math.floor(c / g.spanCols);
      out[r * g.cols + c] = i * g.cellCols + j;
    }
  }
  return out;
}

/** Pixels each cell covers, row-major over cells (edge tiles and blocks count only their pixels). */
export function pixelsPerCell(g: CellGeometry): Float32Array {
  const counts = new Float32Array(cellCount(g));
  for (const cell of cellOfPixel(g)) counts[cell]! += 1;
  return counts;
}

/** Whether every cell covers the same number of pixels (then a plain mean over cells is the pixel mean). */
export function cellsEqualInSize(g: CellGeometry): boolean {
  const counts = pixelsPerCell(g);
  return counts.every((v) => v === counts[0]);
}

/**
 * Expands a batch of cell maps to the detector: x [B, cellRows, cellCols, C] → [B, rows, cols, C],
 * every pixel holding its cell's values (see CellGeometry). Only tile, reshape and slice, so the
 * gradient (the sum over each cell's pixels) exists on every backend.
 */
export function expandCells(x: tf.Tensor4D, g: CellGeometry): tf.Tensor4D {
  if (isPerPixel(g)) return x;
  return tf.tidy(() => {
    const [b, cr, cc, ch] = x.shape;
    let y: tf.Tensor4D;
    if (g.repeat === 'pattern') {
      y = tf.tile(x, [1, Math.ceil(g.rows / cr), Math.ceil(g.cols / cc), 1]);
    } else {
      // Nearest upsampling in two 4-D tiles: each row spanRows times, then each column spanCols times.
      const tall = tf.reshape(tf.tile(tf.reshape(x, [b, cr, 1, cc * ch]), [1, 1, g.spanRows, 1]), [b, cr * g.spanRows, cc, ch]);
      const rowsUp = cr * g.spanRows;
      y = tf.reshape(tf.tile(tf.reshape(tall, [b * rowsUp, cc, 1, ch]), [1, 1, g.spanCols, 1]), [b, rowsUp, cc * g.spanCols, ch]);
    }
    return y.shape[1] === g.rows && y.shape[2] === g.cols ? y : tf.slice(y, [0, 0, 0, 0], [b, g.rows, g.cols, ch]);
  });
}

/**
 * The hardware layout of a cell family, row-major rows·cols: exactly `count` ones. Cells are ranked
 * by score (descending, ties to the lower cell index) and taken whole while they fit; the next cell
 * is split, its first remaining pixels in row-major order taken, so at most one cell is not
 * constant. With one pixel per cell this is topCountLayout.
 */
export function cellTopCountLayout(cellScores: ArrayLike<number>, g: CellGeometry, count: number): Uint8Array {
  const cells = cellCount(g);
  if (cellScores.length !== cells) throw new RangeError(`expected ${cells} cell scores, got ${cellScores.length}`);
  const owner = cellOfPixel(g);
  const pixelsOf: number[][] = Array.from({ length: cells }, () => []);
  owner.forEach((cell, pixel) => pixelsOf[cell]!.push(pixel));
  const order = Array.from({ length: cells }, (_, i) => i);
  order.sort((a, b) => cellScores[b]! - cellScores[a]! || a - b);
  const layout = new Uint8Array(owner.length);
  let filled = 0;
  for (const cell of order) {
    for (const pixel of pixelsOf[cell]!) {
      if (filled === count) return layout;
      layout[pixel] = 1;
      filled += 1;
    }
  }
  return layout;
}

/** Mean binary entropy (nats) of a probability map p (any shape, values in [0, 1]); 0·log 0 = 0. */
export function meanBinaryEntropy(p: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const pc = tf.clipByValue(p, 1e-7, 1 - 1e-7);
    const h = tf.neg(tf.add(tf.mul(pc, tf.log(pc)), tf.mul(tf.sub(1, pc), tf.log(tf.sub(1, pc)))));
    return tf.mean(h) as tf.Scalar;
  });
}

/** Mean categorical entropy (nats) of distributions q [..., K] over the last axis. */
export function meanCategoricalEntropy(q: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const qc = tf.clipByValue(q, 1e-7, 1);
    return tf.mean(tf.neg(tf.sum(tf.mul(qc, tf.log(qc)), -1))) as tf.Scalar;
  });
}

/**
 * Anisotropic total variation of a logit map w [rows, cols] or [rows, cols, K]: the sum of
 * |w(r+1, c) − w(r, c)| and |w(r, c+1) − w(r, c)| over the map, divided by rows·cols (so its
 * weight does not depend on the detector size). Logit units.
 */
export function totalVariation(w: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const [rows, cols] = w.shape as [number, number];
    const rest = w.shape.slice(2);
    const zeros = rest.map(() => 0);
    const down = rows > 1 ? tf.sum(tf.abs(tf.sub(tf.slice(w, [1, 0, ...zeros]), tf.slice(w, [0, 0, ...zeros], [rows - 1, cols, ...rest])))) : tf.scalar(0);
    const right = cols > 1 ? tf.sum(tf.abs(tf.sub(tf.slice(w, [0, 1, ...zeros]), tf.slice(w, [0, 0, ...zeros], [rows, cols - 1, ...rest])))) : tf.scalar(0);
    return tf.div(tf.add(down, right), rows * cols) as tf.Scalar;
  });
}

/** A short name for reports: "pixel", "tile 8×8", "grid column", "grid block 8×8". */
export function familyLabel(family: LayoutFamily): string {
  switch (family.family) {
    case 'pixel':
      return 'pixel';
    case 'tile':
      return `tile ${family.tile}×${family.tile}`;
    case 'grid': {
      const granularity = family.granularity ?? 'block';
      return granularity === 'block' ? `grid block ${family.block}×${family.block}` : `grid ${granularity}`;
    }
  }
}
