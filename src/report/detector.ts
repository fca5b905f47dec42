/**
 * What a detector-space run looks like to a detector engineer: bits per channel across the detector
 * (over channel offset and, for a fan, fan angle), the channel layout as a CSV, and labelled
 * previews of sinograms and reconstructions of several designs. Pure functions: text, plot
 * specifications and SVG documents; src/pipeline/detector-outputs.ts writes them.
 */
import { escapeXml, GREY, PALETTE, plotGridSvg, svgDocument, type PlotSpec, type Series } from './svg-plot.js';

/** Where each channel sits: offset from the detector centre (mm) and, for a fan beam, its fan angle (degrees). */
export interface ChannelPositions {
  offsetMm: number[];
  /** Fan beam only: atan(offset / source-to-detector distance). */
  fanAngleDeg?: number[];
}

/** A learned channel layout of one run: hardware bits per channel and the layer's reduce probability p̃; runs of one `group` (a budget) are averaged. */
export interface ChannelLayoutOfRun {
  id: string;
  group: string;
  bits: number[];
  probability?: number[];
}

/** CSV: channel, offset_mm, fan_angle_deg (empty for parallel beams), bits, reduce_probability (empty when unknown). */
export function channelLayoutCsv(positions: ChannelPositions, bits: readonly number[], probability?: readonly number[]): string {
  const lines = ['channel,offset_mm,fan_angle_deg,bits,reduce_probability'];
  bits.forEach((b, c) => {
    const angle = positions.fanAngleDeg ? positions.fanAngleDeg[c]!.toFixed(4) : '';
    const p = probability ? probability[c]!.toFixed(6) : '';
    lines.push(`${c},${positions.offsetMm[c]!.toFixed(3)},${angle},${b},${p}`);
  });
  return `${lines.join('\n')}\n`;
}

/** Per group (in first-seen order): the channel-wise mean of `pick` over its runs that have it. */
function groupMeans(runs: readonly ChannelLayoutOfRun[], pick: (r: ChannelLayoutOfRun) => number[] | undefined): { group: string; n: number; mean: number[] }[] {
  const groups = [...new Set(runs.map((r) => r.group))];
  return groups
    .map((group) => {
      const values = runs.filter((r) => r.group === group).map(pick).filter((v): v is number[] => v !== undefined);
      const mean = values.length ? values[0]!.map((_, c) => values.reduce((a, v) => a + v[c]!, 0) / values.length) : [];
      return { group, n: values.length, mean };
    })
    .filter((g) => g.n > 0);
}

/**
 * Two panels over the channel offset (mm; the fan angle range in the x label of a fan): the hardware
 * bits per channel and the reduce probability p̃, each the mean over the runs (seeds) of a group.
 */
export function bitsPerChannelSvg(positions: ChannelPositions, runs: readonly ChannelLayoutOfRun[], nativeBits: number, keptBits: number, note: string): string {
  const x = positions.offsetMm;
  const fan = positions.fanAngleDeg;
  const xLabel = fan
    ? `channel offset at the detector, mm (fan angle ${fan[0]!.toFixed(1)}° … ${fan[fan.length - 1]!.toFixed(1)}°)`
    : 'channel offset from the centre, mm (parallel beam)';
  const series = (groups: { group: string; n: number; mean: number[] }[]): Series[] =>
    groups.map((g, i) => ({ name: `${g.group} (${g.n} run${g.n > 1 ? 's' : ''})`, color: PALETTE[i % PALETTE.length]!, style: 'line', marker: 'none', points: g.mean.map((y, c) => ({ x: x[c]!, y })) }));
  const probability = series(groupMeans(runs, (r) => r.probability));
  const specs: PlotSpec[] = [
    {
      title: `ADC bits per channel, hardware layout (${nativeBits} native, ${keptBits} reduced; mean over seeds)`,
      xLabel,
      yLabel: 'bits',
      series: series(groupMeans(runs, (r) => r.bits)),
      yDomain: [keptBits - 1, nativeBits + 1],
      note,
    },
    {
      title: 'reduce probability p̃ per channel (learned layer; mean over seeds)',
      xLabel,
      yLabel: 'p̃ (1 = reduced)',
      series: probability.length ? probability : [{ name: 'not recorded', color: GREY, style: 'points', points: [] }],
      yDomain: [0, 1],
    },
  ];
  return plotGridSvg(specs, 1, 900, 380);
}

/** Grey levels [0, 255] of values [rows × cols], linearly from low (black) to high (white), clipped. */
export function greyLevels(values: ArrayLike<number>, low: number, high: number): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = Math.round(255 * Math.min(1, Math.max(0, (values[i]! - low) / (high - low))));
  return out;
}

/** One labelled picture of a panel row: a PNG (base64) of width × height pixels shown `scale` times larger. */
export interface PanelImage {
  label: string;
  pngBase64: string;
  width: number;
  height: number;
}

/** Panels side by side with a label over each (lines split at '\n') and a caption under the row: one SVG document. */
export function panelRowSvg(panels: readonly PanelImage[], scale: number, caption: string): string {
  const gap = 16;
  const labelLines = Math.max(...panels.map((p) => p.label.split('\n').length));
  const top = 12 + 16 * labelLines;
  const width = panels.reduce((w, p) => w + p.width * scale + gap, gap);
  const tallest = Math.max(...panels.map((p) => p.height * scale));
  const height = top + tallest + 40;
  let x = gap;
  const parts: string[] = [];
  for (const p of panels) {
    const w = p.width * scale;
    const h = p.height * scale;
    const lines = p.label.split('\n');
    lines.forEach((line, i) => {
      parts.push(`<text x="${x + w / 2}" y="${top - 8 - 16 * (lines.length - 1 - i)}" font-size="12" text-anchor="middle">${escapeXml(line)}</text>`);
    });
    parts.push(`<image x="${x}" y="${top}" width="${w}" height="${h}" preserveAspectRatio="none" style="image-rendering:pixelated" href="data:image/png;base64,${p.pngBase64}" xlink:href="data:image/png;base64,${p.pngBase64}"/>`);
    x += w + gap;
  }
  parts.push(`<text x="${gap}" y="${top + tallest + 24}" font-size="12" fill="#333">${escapeXml(caption)}</text>`);
  return svgDocument(width, height, parts.join('\n'));
}

/** A figure of the detector outputs for report.html; `file` is relative to the output folder (detector/…). */
export interface DetectorFigure {
  file: string;
  png: Uint8Array;
  caption: string;
}

/** What the detector outputs hand to writeReport: figures, two small tables, and a manifest description per file. */
export interface DetectorReportPart {
  figures: DetectorFigure[];
  /** reconstruction-error.json's designs, in snake case. */
  reconstructionError: { design: string; budget: number; reduced_channels: number; kept_bits: number; bits_per_reading: number; rmse_hu: number }[];
  /** channel-flux.json's runs, in snake case. */
  channelFlux: { run: string; budget: number | undefined; reduced_channels: number; reduced_in_body_shadow: number; channels_in_body_shadow: number; mean_min_counts_reduced: number; mean_min_counts_native: number }[];
  /** What the test set and the error region were, for the tables' notes. */
  errorNote: string;
  fluxNote: string;
  /** Path (relative to the output folder) → description, for manifest.json. */
  descriptions: Record<string, string>;
}

export const RECONSTRUCTION_ERROR_COLUMNS = ['design', 'budget', 'reduced_channels', 'kept_bits', 'bits_per_reading', 'rmse_hu'] as const;
export const CHANNEL_FLUX_COLUMNS = ['run', 'budget', 'reduced_channels', 'reduced_in_body_shadow', 'channels_in_body_shadow', 'mean_min_counts_reduced', 'mean_min_counts_native'] as const;
