/**
 * A small SVG plotting module of our own: linear axes with nice ticks, lines, markers, error bars,
 * shaded bands, horizontal reference lines and a legend. Plots are SVG strings; `svgToPng`
 * rasterises them with sharp (librsvg), so no browser is needed to write the figures.
 */
import sharp from 'sharp';

/** Okabe–Ito colours: distinguishable with the common colour-vision deficiencies. */
export const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#F0E442', '#000000'] as const;
export const GREY = '#777777';

export interface PlotPoint {
  x: number;
  y: number;
  /** Interval bounds for error bars or a band; omitted or NaN: none drawn. */
  lo?: number;
  hi?: number;
}

export interface Series {
  name: string;
  color: string;
  points: PlotPoint[];
  /** 'line' (with markers), 'points' (markers only), 'band' (line + shaded lo..hi), 'hline' (y of the first point across the plot, band lo..hi). */
  style?: 'line' | 'points' | 'band' | 'hline';
  dashed?: boolean;
  /** 'ring' and 'target' are open circles (r 7 and 10) for marking points another series drew. */
  marker?: 'circle' | 'square' | 'cross' | 'triangle' | 'diamond' | 'ring' | 'target' | 'none';
  /** Draw lo..hi as error bars (default true for 'line' and 'points'). */
  errorBars?: boolean;
  /** Keep out of the legend. */
  hideInLegend?: boolean;
}

export interface PlotSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  xDomain?: [number, number];
  yDomain?: [number, number];
  /** A line of small text under the plot (e.g. what the error bars are). */
  note?: string;
  /** Legend placement; 'right' reserves a column beside the plot. Default 'right'. */
  legend?: 'right' | 'none';
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

const FONT = 'DejaVu Sans, Arial, Helvetica, sans-serif';

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

/** Round "nice" tick values (1, 2, 2.5, 5 × 10^k steps) covering [min, max], about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (min === max) return [min];
  const raw = (max - min) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step - 1e-9) * step; v <= max + step * 1e-9; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return ticks;
}

/** A tick label without float noise (0.30000000000000004 → 0.3). */
export function formatTick(v: number): string {
  return String(Number(v.toPrecision(6)));
}

function finite(v: number | undefined): v is number {
  return v !== undefined && Number.isFinite(v);
}

function domainOf(values: number[], pad: number): [number, number] {
  const vs = values.filter(Number.isFinite);
  if (vs.length === 0) return [0, 1];
  let lo = Math.min(...vs);
  let hi = Math.max(...vs);
  if (lo === hi) {
    lo -= Math.abs(lo) * 0.1 || 0.5;
    hi += Math.abs(hi) * 0.1 || 0.5;
  }
  const p = (hi - lo) * pad;
  return [lo - p, hi + p];
}

/** The plot's SVG elements inside `box` (for composing several plots in one figure). */
export function renderPlot(spec: PlotSpec, box: Box): string {
  const legendWidth = spec.legend === 'none' ? 0 : Math.min(230, box.width * 0.34);
  const m = { left: 62, right: 14 + legendWidth, top: 34, bottom: spec.note ? 62 : 46 };
  const px = box.x + m.left;
  const py = box.y + m.top;
  const pw = Math.max(10, box.width - m.left - m.right);
  const ph = Math.max(10, box.height - m.top - m.bottom);
  const all = spec.series.flatMap((s) => s.points);
  const xs = spec.series.filter((s) => s.style !== 'hline').flatMap((s) => s.points.map((p) => p.x));
  const ys = all.flatMap((p) => [p.y, p.lo ?? NaN, p.hi ?? NaN]);
  const [x0, x1] = spec.xDomain ?? domainOf(xs, 0.06);
  const [y0, y1] = spec.yDomain ?? domainOf(ys, 0.06);
  const sx = (x: number) => px + ((x - x0) / (x1 - x0)) * pw;
  const sy = (y: number) => py + ph - ((y - y0) / (y1 - y0)) * ph;
  const out: string[] = [];
  out.push(`<text x="${box.x + box.width / 2}" y="${box.y + 20}" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(spec.title)}</text>`);
  out.push(`<rect x="${px}" y="${py}" width="${pw}" height="${ph}" fill="white" stroke="#333" stroke-width="1"/>`);
  for (const t of niceTicks(x0, x1, Math.max(2, Math.round(pw / 80)))) {
    const x = sx(t);
    out.push(`<line x1="${x}" y1="${py}" x2="${x}" y2="${py + ph}" stroke="#e4e4e4"/>`);
    out.push(`<line x1="${x}" y1="${py + ph}" x2="${x}" y2="${py + ph + 5}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${py + ph + 18}" text-anchor="middle" font-size="11">${formatTick(t)}</text>`);
  }
  for (const t of niceTicks(y0, y1, Math.max(2, Math.round(ph / 50)))) {
    const y = sy(t);
    out.push(`<line x1="${px}" y1="${y}" x2="${px + pw}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(`<line x1="${px - 5}" y1="${y}" x2="${px}" y2="${y}" stroke="#333"/>`);
    out.push(`<text x="${px - 8}" y="${y + 4}" text-anchor="end" font-size="11">${formatTick(t)}</text>`);
  }
  out.push(`<text x="${px + pw / 2}" y="${py + ph + 36}" text-anchor="middle" font-size="12">${escapeXml(spec.xLabel)}</text>`);
  const ly = py + ph / 2;
  out.push(`<text x="${box.x + 16}" y="${ly}" text-anchor="middle" font-size="12" transform="rotate(-90 ${box.x + 16} ${ly})">${escapeXml(spec.yLabel)}</text>`);
  if (spec.note) out.push(`<text x="${px}" y="${py + ph + 54}" font-size="10" fill="#555">${escapeXml(spec.note)}</text>`);

  const clipId = `clip${Math.round(box.x)}_${Math.round(box.y)}`;
  out.push(`<clipPath id="${clipId}"><rect x="${px}" y="${py}" width="${pw}" height="${ph}"/></clipPath>`);
  out.push(`<g clip-path="url(#${clipId})">`);
  for (const s of spec.series) out.push(renderSeries(s, sx, sy, px, pw));
  out.push('</g>');

  if (legendWidth > 0) {
    const entries = spec.series.filter((s) => !s.hideInLegend);
    let y = py + 8;
    const lx = px + pw + 14;
    for (const s of entries) {
      out.push(legendGlyph(s, lx, y));
      out.push(`<text x="${lx + 30}" y="${y + 4}" font-size="11">${escapeXml(s.name)}</text>`);
      y += 18;
    }
  }
  return out.join('\n');
}

function renderSeries(s: Series, sx: (x: number) => number, sy: (y: number) => number, px: number, pw: number): string {
  const out: string[] = [];
  const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
  const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)).sort((a, b) => a.x - b.x);
  const style = s.style ?? 'line';
  if (style === 'hline') {
    const p = pts[0];
    if (!p) return '';
    if (finite(p.lo) && finite(p.hi)) {
      out.push(`<rect x="${px}" y="${sy(p.hi)}" width="${pw}" height="${Math.max(0, sy(p.lo) - sy(p.hi))}" fill="${s.color}" fill-opacity="0.15"/>`);
    }
    out.push(`<line x1="${px}" y1="${sy(p.y)}" x2="${px + pw}" y2="${sy(p.y)}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    return out.join('');
  }
  if (style === 'band') {
    const banded = pts.filter((p) => finite(p.lo) && finite(p.hi));
    if (banded.length >= 2) {
      const upper = banded.map((p) => `${sx(p.x)},${sy(p.hi!)}`);
      const lower = [...banded].reverse().map((p) => `${sx(p.x)},${sy(p.lo!)}`);
      out.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${s.color}" fill-opacity="0.18" stroke="none"/>`);
    }
  }
  if ((style === 'line' || style === 'band') && pts.length >= 2) {
    out.push(`<polyline points="${pts.map((p) => `${sx(p.x)},${sy(p.y)}`).join(' ')}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
  }
  const bars = s.errorBars ?? style !== 'band';
  for (const p of pts) {
    if (bars && finite(p.lo) && finite(p.hi)) {
      const x = sx(p.x);
      out.push(`<line x1="${x}" y1="${sy(p.lo)}" x2="${x}" y2="${sy(p.hi)}" stroke="${s.color}" stroke-width="1.5"/>`);
      out.push(`<line x1="${x - 4}" y1="${sy(p.lo)}" x2="${x + 4}" y2="${sy(p.lo)}" stroke="${s.color}" stroke-width="1.5"/>`);
      out.push(`<line x1="${x - 4}" y1="${sy(p.hi)}" x2="${x + 4}" y2="${sy(p.hi)}" stroke="${s.color}" stroke-width="1.5"/>`);
    }
    out.push(marker(s.marker ?? 'circle', sx(p.x), sy(p.y), s.color));
  }
  return out.join('');
}

function marker(kind: NonNullable<Series['marker']>, x: number, y: number, color: string): string {
  switch (kind) {
    case 'none':
      return '';
    case 'square':
      return `<rect x="${x - 3.5}" y="${y - 3.5}" width="7" height="7" fill="${color}"/>`;
    case 'triangle':
      return `<path d="M${x},${y - 4.5}L${x + 4.5},${y + 3.5}L${x - 4.5},${y + 3.5}Z" fill="${color}"/>`;
    case 'diamond':
      return `<path d="M${x},${y - 5}L${x + 5},${y}L${x},${y + 5}L${x - 5},${y}Z" fill="${color}"/>`;
    case 'ring':
      return `<circle cx="${x}" cy="${y}" r="7" fill="none" stroke="${color}" stroke-width="1.5"/>`;
    case 'target':
      return `<circle cx="${x}" cy="${y}" r="10" fill="none" stroke="${color}" stroke-width="2.5"/>`;
    case 'cross':
      return `<path d="M${x - 4},${y - 4}L${x + 4},${y + 4}M${x - 4},${y + 4}L${x + 4},${y - 4}" stroke="${color}" stroke-width="2"/>`;
    default:
      return `<circle cx="${x}" cy="${y}" r="3.5" fill="${color}"/>`;
  }
}

function legendGlyph(s: Series, x: number, y: number): string {
  const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
  const style = s.style ?? 'line';
  const parts: string[] = [];
  if (style === 'band' || style === 'hline') parts.push(`<rect x="${x}" y="${y - 6}" width="24" height="12" fill="${s.color}" fill-opacity="0.18"/>`);
  if (style !== 'points') parts.push(`<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${s.color}" stroke-width="2"${dash}/>`);
  if (style === 'line' || style === 'points') parts.push(marker(s.marker ?? 'circle', x + 12, y, s.color));
  return parts.join('');
}

/** One plot as a complete SVG document. */
export function plotSvg(spec: PlotSpec, width = 760, height = 440): string {
  return svgDocument(width, height, renderPlot(spec, { x: 0, y: 0, width, height }));
}

/** Several plots in a grid (row-major), each `cellWidth`×`cellHeight`, under an optional title. */
export function plotGridSvg(specs: PlotSpec[], columns: number, cellWidth: number, cellHeight: number, title?: string): string {
  const top = title ? 30 : 0;
  const rows = Math.ceil(specs.length / columns);
  const body = specs.map((s, i) =>
    renderPlot(s, { x: (i % columns) * cellWidth, y: top + Math.floor(i / columns) * cellHeight, width: cellWidth, height: cellHeight }),
  );
  const head = title ? `<text x="${(columns * cellWidth) / 2}" y="22" text-anchor="middle" font-size="17" font-weight="bold">${escapeXml(title)}</text>` : '';
  return svgDocument(columns * cellWidth, top + rows * cellHeight, head + body.join('\n'));
}

/** Wraps SVG elements in a document with a white background and the report font. */
export function svgDocument(width: number, height: number, body: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" ` +
    `viewBox="0 0 ${width} ${height}" font-family="${FONT}">` +
    `<rect width="${width}" height="${height}" fill="white"/>\n${body}\n</svg>`
  );
}

/** Rasterises an SVG document to PNG bytes. */
export async function svgToPng(svg: string): Promise<Buffer> {
  return sharp(Buffer.from(svg)).png().toBuffer();
}
