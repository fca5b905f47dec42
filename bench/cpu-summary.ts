/**
 * The pure part of bench/cpu.ts: what it measures, how a shape list and PyTorch's output are read,
 * and how rounds become the table (medians of within-round ratios, peak memory per process).
 */

export type Framework = 'ctquant' | 'pytorch';
/** One process on all cores (`threads`), or one single-threaded process per core (`processes`). */
export type Layout = 'threads' | 'processes';
/**
 * How ctquant's SIMD convolutions multiply-add: `relaxed` (f32x4.relaxed_madd, flag on; Node 20
 * needs --experimental-wasm-relaxed-simd), `exact` (mul + add, flag off), or `default` (the
 * runtime's default: relaxed where it validates, else exact). PyTorch has no such variant.
 */
export type FmaVariant = 'default' | 'relaxed' | 'exact';
export const FMA_VARIANTS: readonly FmaVariant[] = ['default', 'relaxed', 'exact'];

export interface Shape { size: number; batch: number }

export interface Measurement {
  round: number;
  size: number;
  batch: number;
  framework: Framework;
  layout: Layout;
  /** ctquant only: the variant asked for, and whether the child's start-up line said relaxed FMA. */
  fma?: FmaVariant;
  relaxedFmaUsed?: boolean;
  /** ms per step of throughput: one process's ms, or the mean over the P processes / P. */
  msPerStep: number;
  perProcess: number[];
  /** Peak resident set size (ru_maxrss) of each process, MiB. */
  peakRssMiB: number[];
}

export interface SummaryRow {
  size: number;
  batch: number;
  layout: Layout;
  cores: number;
  fma: FmaVariant;
  relaxedFmaUsed: boolean;
  ctquantMs: number;
  pytorchMs: number;
  /** PyTorch ms / ctquant ms within each round (throughput relative to PyTorch), and their median. */
  ratioMedian: number;
  ratios: number[];
  /** Largest peak RSS of one process over the rounds, MiB (per process: P processes hold P times that). */
  ctquantPeakMiB: number;
  pytorchPeakMiB: number;
}

/** `64x4,128x4,64x8` → shapes (size × batch); empty entries are skipped. */
export function parseShapes(text: string): Shape[] {
  return text.split(',').filter((s) => s.trim() !== '').map((entry) => {
    const m = /^\s*(\d+)\s*x\s*(\d+)\s*$/.exec(entry);
    if (!m) throw new Error(`--shapes: expected SIZExBATCH (e.g. 64x4), got "${entry}"`);
    return { size: Number(m[1]), batch: Number(m[2]) };
  });
}

/** `relaxed,exact` → variants, each known, no repeats. */
export function parseFmaVariants(text: string): FmaVariant[] {
  const out = text.split(',').filter((s) => s !== '');
  for (const v of out) if (!FMA_VARIANTS.includes(v as FmaVariant)) throw new Error(`--fma: ${v}? (default, relaxed or exact)`);
  if (new Set(out).size !== out.length || out.length === 0) throw new Error('--fma: one or more distinct variants');
  return out as FmaVariant[];
}

/** ms per step and peak memory from bench/torch_step.py's stdout (its last JSON line). */
export function parseTorchOutput(stdout: string): { msMedian: number; peakMiB: number; peakKind: string } {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop();
  if (!line) throw new Error('torch_step.py printed no JSON line');
  const r = JSON.parse(line) as { ms_median?: unknown; peak_mem_mb?: unknown; peak_mem_kind?: unknown };
  if (typeof r.ms_median !== 'number' || typeof r.peak_mem_mb !== 'number') {
    throw new Error(`torch_step.py: ms_median / peak_mem_mb missing in ${line.slice(0, 200)}`);
  }
  return { msMedian: r.ms_median, peakMiB: r.peak_mem_mb, peakKind: String(r.peak_mem_kind ?? '') };
}

/** Throughput of P processes at t_k ms per step each: P steps per mean(t) ms, i.e. mean(t) / P ms per step. */
export function throughputMs(layout: Layout, perProcess: number[]): number {
  const mean = perProcess.reduce((a, b) => a + b, 0) / perProcess.length;
  return layout === 'threads' ? perProcess[0]! : mean / perProcess.length;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/**
 * One row per shape × layout × FMA variant: ctquant's round r against PyTorch's round r (same shape
 * and layout), so each ratio comes from measurements taken minutes apart at most.
 */
export function summarise(measurements: Measurement[], shapes: Shape[], fmas: FmaVariant[], cores: number): SummaryRow[] {
  const rows: SummaryRow[] = [];
  for (const { size, batch } of shapes) {
    for (const layout of ['threads', 'processes'] as const) {
      const same = (m: Measurement) => m.size === size && m.batch === batch && m.layout === layout;
      const ref = measurements.filter((m) => same(m) && m.framework === 'pytorch');
      for (const fma of fmas) {
        const ours = measurements.filter((m) => same(m) && m.framework === 'ctquant' && m.fma === fma);
        if (ours.length === 0 || ref.length === 0) continue;
        const ratios = ours.map((m) => {
          const torch = ref.find((t) => t.round === m.round);
          if (!torch) throw new Error(`no PyTorch measurement in round ${m.round} for ${size}² batch ${batch} ${layout}`);
          return torch.msPerStep / m.msPerStep;
        });
        rows.push({
          size, batch, layout, cores, fma, relaxedFmaUsed: ours.every((m) => m.relaxedFmaUsed === true),
          ctquantMs: median(ours.map((m) => m.msPerStep)), pytorchMs: median(ref.map((m) => m.msPerStep)),
          ratioMedian: median(ratios), ratios,
          ctquantPeakMiB: Math.max(...ours.flatMap((m) => m.peakRssMiB)),
          pytorchPeakMiB: Math.max(...ref.flatMap((m) => m.peakRssMiB)),
        });
      }
    }
  }
  return rows;
}

/** The table bench/cpu.ts prints (markdown-ready columns, padded). */
export function formatSummary(rows: SummaryRow[]): string {
  const header = [
    'size', 'batch', 'cores used as', 'FMA', 'ctquant ms/step', 'PyTorch ms/step', 'vs torch (median)', 'per round',
    'ctquant peak MiB', 'PyTorch peak MiB',
  ];
  const lines = rows.map((r) => [
    `${r.size}²`, `${r.batch}`,
    r.layout === 'threads' ? `1 process × ${r.cores} threads` : `${r.cores} processes × 1 thread`,
    r.relaxedFmaUsed ? 'relaxed' : 'exact',
    r.ctquantMs.toFixed(0), r.pytorchMs.toFixed(0), `${r.ratioMedian.toFixed(2)}×`, r.ratios.map((x) => x.toFixed(2)).join(' '),
    r.ctquantPeakMiB.toFixed(0), r.pytorchPeakMiB.toFixed(0),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (l: string[]) => l.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...lines.map(fmt)].join('\n');
}
