/**
 * The front as a figure: test Dice (mean over seeds, whiskers = 95 % t-interval across seeds) against
 * stored bits per pixel, one colour and marker per design family, the non-dominated designs (on
 * validation Dice) ringed and joined, full precision's test Dice as a dashed line with a ±τ band,
 * and the chosen design circled. A pure plot spec, rendered with svgPlot (plotSvg → svgToPng).
 */
import type { Decision, FrontPoint } from './pareto.js';
import { GREY, PALETTE, type PlotSpec, type Series } from './svg-plot.js';

type Style = { color: string; marker: NonNullable<Series['marker']>; name: string; line?: boolean };

/** Known families; another family gets the next unused colour and marker. */
const FAMILY_STYLE: Record<string, Style> = {
  'full-precision': { name: 'full precision', color: PALETTE[7], marker: 'square' },
  'uniform-a': { name: 'uniform, baseline U-Net (a)', color: PALETTE[2], marker: 'circle', line: true },
  'uniform-b': { name: 'uniform, retrained U-Net (b)', color: PALETTE[4], marker: 'circle', line: true },
  uniform: { name: 'uniform k bits', color: PALETTE[4], marker: 'circle', line: true },
  learned: { name: 'learned layout', color: PALETTE[0], marker: 'diamond' },
  random: { name: 'random control', color: PALETTE[1], marker: 'square' },
  dither: { name: 'ordered dither (Bayer)', color: PALETTE[3], marker: 'triangle' },
  'blue-noise': { name: 'blue noise', color: PALETTE[5], marker: 'triangle' },
  // Olive rather than the palette's yellow, which is too faint on white for small markers.
  content: { name: 'content (outside body first)', color: '#999933', marker: 'diamond' },
  lesion: { name: 'lesion frequency (rarest first)', color: '#AA4499', marker: 'square' },
  designer: { name: "designer's layout", color: PALETTE[1], marker: 'cross' },
  multilevel: { name: 'multi-level (learned)', color: PALETTE[3], marker: 'diamond' },
};

export interface ParetoPlotOptions {
  /** Native ADC bits (for the saving % in the axis note). */
  nativeBits: number;
  title?: string;
  /** Horizontal offset between marker-only families at the same bits, in bits, so they do not hide each other (default 0.07). */
  dodge?: number;
}

/** Plot spec of the front; `decision` adds the τ band and circles the chosen design. */
export function paretoPlotSpec(front: readonly FrontPoint[], decision: Decision | undefined, opts: ParetoPlotOptions): PlotSpec {
  const usable = front.filter((p) => p.nUsed > 0 && Number.isFinite(p.test.estimate));
  const series: Series[] = [];
  const baseline = decision?.baseline ?? usable.find((p) => p.kind === 'full-precision');
  if (baseline && decision) {
    const y = baseline.test.estimate;
    series.push({
      name: `full precision ± τ (${decision.tolerance})`,
      color: PALETTE[7],
      style: 'hline',
      dashed: true,
      points: [{ x: baseline.bitsPerPixel, y, lo: y - decision.tolerance, hi: y + decision.tolerance }],
    });
  }
  // Legend order: the known families in FAMILY_STYLE order, then others by name.
  const known = Object.keys(FAMILY_STYLE);
  const rank = (f: string) => (known.includes(f) ? known.indexOf(f) : known.length);
  const families = [...new Set(usable.map((p) => p.family))].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  let extra = 0;
  const styles = new Map<string, Style>();
  for (const family of families) {
    styles.set(family, FAMILY_STYLE[family] ?? { name: family, color: PALETTE[extra % PALETTE.length]!, marker: (['circle', 'square', 'triangle', 'diamond'] as const)[extra++ % 4]! });
  }
  // Marker-only families share bit values (one per budget): spread them side by side.
  const dodged = families.filter((f) => !styles.get(f)!.line && f !== 'full-precision');
  const step = opts.dodge ?? 0.07;
  const shift = (family: string) => (dodged.includes(family) ? (dodged.indexOf(family) - (dodged.length - 1) / 2) * step : 0);
  const x = (p: FrontPoint) => p.bitsPerPixel + shift(p.family);
  for (const family of families) {
    const st = styles.get(family)!;
    const pts = usable.filter((p) => p.family === family).map((p) => ({ x: x(p), y: p.test.estimate, lo: p.test.lo, hi: p.test.hi }));
    series.push({ name: st.name, color: st.color, marker: st.marker, style: st.line ? 'line' : 'points', points: pts });
  }
  const front_ = usable.filter((p) => p.nonDominated).map((p) => ({ x: x(p), y: p.test.estimate }));
  if (front_.length) series.push({ name: 'non-dominated (validation)', color: GREY, style: 'line', dashed: true, marker: 'ring', errorBars: false, points: front_ });
  if (decision) {
    const c = decision.chosen;
    series.push({ name: `decision: ${c.designId}`, color: '#C00000', style: 'points', marker: 'target', errorBars: false, points: [{ x: x(c), y: c.test.estimate }] });
  }
  const nb = opts.nativeBits;
  return {
    title: opts.title ?? 'Design front: test Dice against stored bits per pixel',
    xLabel: `stored bits per pixel (saving = 1 − bits/${nb}: ${nb / 2} bits = 50 %)`,
    yLabel: 'test Dice (mean over seeds)',
    series,
    note:
      `Whiskers: 95% t-interval over seeds. Front, decision: validation Dice; points: test Dice.` +
      (dodged.length > 1 ? ` Layouts at one budget drawn ${step} bits apart.` : ''),
  };
}

/** The size the front reads well at (checked by eye with ~10 families): wider than the default plot. */
export const PARETO_PLOT_SIZE = { width: 980, height: 540 } as const;
