/**
 * Which of covid-ct-20's volumes come from which source, judged from the images alone.
 *
 * covid-ct-20 mixes 10 volumes from one site (coronacases) with 10 from a collection of many
 * scanners (radiopaedia). Per slice this measures
 *  - field of view: share of non-air pixels, and the texture of the corners outside the inscribed
 *    circle (a circular reconstruction field leaves them flat padding; a full field shows noisy air
 *    and the table there);
 *  - noise: the high-frequency residual, mean |I − mean of its 3×3 neighbourhood| over body pixels;
 *  - the intensity histogram of body pixels: mean, standard deviation, 5th / 50th / 95th percentiles,
 *    and the share of bright pixels (>= 224 of 255);
 * then the single change point of the standardised per-slice features along the file order (the
 * boundary slice, found without the volume starts), and per volume (README volume starts) the
 * means, the segment whose centroid each volume is nearest to, and which features separate the
 * volumes of the two segments without overlap. The segments are named by the dataset's documented
 * order (coronacases first, then radiopaedia): the images locate the boundary, not the names.
 * The corner texture is printed but not used to assign volumes: only some radiopaedia volumes
 * have a circular field.
 *
 * Usage: npx tsx bench/covid-sources.ts [dataset folder] (default ../shared/data/covid-ct-20).
 * Reads the data when present and says so when it is absent; writes nothing.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readGreyImage } from '../src/data/png.js';
import { COVID_CT_20_VOLUME_STARTS } from '../src/data/volumes.js';

/** A pixel darker than this (of 255) is air or outside the field (CLAHE lifts air to about 16-40). */
const AIR = 48;
/** Bright: bone, contrast, and the top of a stretched histogram. */
const BRIGHT = 224;

interface SliceStats {
  bodyShare: number;
  cornerNoise: number;
  bright: number;
  noise: number;
  mean: number;
  std: number;
  p5: number;
  p50: number;
  p95: number;
}

const FEATURES: (keyof SliceStats)[] = ['bodyShare', 'cornerNoise', 'noise', 'bright', 'mean', 'std', 'p5', 'p50', 'p95'];

/** Statistics of one H×W 8-bit slice (see the file comment). */
export function sliceStats(px: ArrayLike<number>, h: number, w: number): SliceStats {
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const r2 = (Math.min(h, w) / 2) ** 2;
  let corners = 0;
  let cornerResidual = 0;
  let bright = 0;
  const body: number[] = [];
  let residual = 0;
  let residualCount = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = px[y * w + x]!;
      const inner = y > 0 && x > 0 && y < h - 1 && x < w - 1;
      let local = 0;
      if (inner) {
        let s = 0;
        for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) s += px[(y + dy) * w + x + dx]!;
        local = Math.abs(v - s / 9);
      }
      if (inner && (x - cx) ** 2 + (y - cy) ** 2 > r2) {
        corners += 1;
        cornerResidual += local;
      }
      if (v >= BRIGHT) bright += 1;
      if (v <= AIR) continue;
      body.push(v);
      if (inner) {
        residual += local;
        residualCount += 1;
      }
    }
  }
  body.sort((a, b) => a - b);
  const q = (p: number) => (body.length ? body[Math.min(body.length - 1, Math.floor(p * body.length))]! : 0);
  const mean = body.reduce((a, b) => a + b, 0) / (body.length || 1);
  const std = Math.sqrt(body.reduce((a, b) => a + (b - mean) ** 2, 0) / (body.length || 1));
  return {
    bodyShare: body.length / (h * w),
    cornerNoise: corners ? cornerResidual / corners : 0,
    bright: bright / (h * w),
    noise: residualCount ? residual / residualCount : 0,
    mean,
    std,
    p5: q(0.05),
    p50: q(0.5),
    p95: q(0.95),
  };
}

const average = (rows: SliceStats[]): SliceStats =>
  Object.fromEntries(FEATURES.map((f) => [f, rows.reduce((a, r) => a + r[f], 0) / rows.length])) as unknown as SliceStats;

/** Rows standardised per feature (z-scores over the rows). */
function standardise(rows: SliceStats[], features = ASSIGNING): number[][] {
  const cols = features.map((f) => {
    const v = rows.map((r) => r[f]);
    const m = v.reduce((a, b) => a + b, 0) / v.length;
    const s = Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length) || 1;
    return v.map((x) => (x - m) / s);
  });
  return rows.map((_, i) => cols.map((c) => c[i]!));
}

const dist2 = (a: number[], b: number[]) => a.reduce((s, v, i) => s + (v - b[i]!) ** 2, 0);

/** Features that assign volumes to a source (the corner texture differs within radiopaedia). */
const ASSIGNING: (keyof SliceStats)[] = FEATURES.filter((f) => f !== 'cornerNoise');

const centroid = (rows: number[][]) => rows[0]!.map((_, j) => rows.reduce((a, r) => a + r[j]!, 0) / rows.length);

/** The index k that best splits the sequence into [0, k) and [k, n) with constant means (least squares). */
function changePoint(x: number[][]): { index: number; gain: number } {
  const n = x.length;
  const d = x[0]!.length;
  const prefix = [new Array<number>(d).fill(0)];
  const prefixSq = [0];
  for (const r of x) {
    prefix.push(prefix.at(-1)!.map((v, j) => v + r[j]!));
    prefixSq.push(prefixSq.at(-1)! + r.reduce((a, v) => a + v * v, 0));
  }
  const sse = (a: number, b: number) => prefixSq[b]! - prefixSq[a]! - prefix[b]!.reduce((s, v, j) => s + (v - prefix[a]![j]!) ** 2, 0) / (b - a);
  const total = sse(0, n);
  let best = { index: 1, gain: -Infinity };
  for (let k = 1; k < n; k++) {
    const gain = total - sse(0, k) - sse(k, n);
    if (gain > best.gain) best = { index: k, gain };
  }
  return { index: best.index, gain: best.gain / total };
}

async function main(): Promise<void> {
  const root = process.argv[2] ?? join('..', 'shared', 'data', 'covid-ct-20');
  const ctDir = join(root, 'ct');
  if (!existsSync(ctDir)) {
    console.log(`covid-ct-20 not found at ${root} (expected ${ctDir}); nothing measured.`);
    return;
  }
  const files = readdirSync(ctDir).filter((f) => f.endsWith('.png')).sort();
  console.log(`covid-ct-20 at ${root}: ${files.length} slices`);
  const stats: SliceStats[] = [];
  for (const f of files) {
    const img = await readGreyImage(join(ctDir, f));
    stats.push(sliceStats(img.data, img.height, img.width));
  }
  const starts = [...COVID_CT_20_VOLUME_STARTS].filter((s) => s < files.length);
  const volumes = starts.map((s, k) => ({ id: `v${String(k).padStart(2, '0')}`, first: s, last: (starts[k + 1] ?? files.length) - 1 }));
  const perVolume = volumes.map((v) => average(stats.slice(v.first, v.last + 1)));
  const z = standardise(stats);
  const cp = changePoint(z);
  // Each volume goes to the segment (before / after the change point) whose centroid is nearer.
  const centres = [centroid(z.slice(0, cp.index)), centroid(z.slice(cp.index))];
  const labels = volumes.map((v) => {
    const c = centroid(z.slice(v.first, v.last + 1));
    return dist2(c, centres[0]!) <= dist2(c, centres[1]!) ? 0 : 1;
  });
  const sourceName = (c: number) => (c === 0 ? 'coronacases (before the change point)' : 'radiopaedia (after it)');

  const fmt = (v: number, d = 2) => v.toFixed(d).padStart(7);
  console.log('\nvolume  slices        body  cornNoise  noise  bright   mean    std     p5    p50    p95  inferred source');
  volumes.forEach((v, i) => {
    const s = perVolume[i]!;
    console.log(
      `${v.id}  ${String(v.first).padStart(4)}-${String(v.last).padEnd(4)} ${fmt(s.bodyShare)} ${fmt(s.cornerNoise)}   ${fmt(s.noise)}${fmt(s.bright)}` +
        `${fmt(s.mean, 1)}${fmt(s.std, 1)}${fmt(s.p5, 0)}${fmt(s.p50, 0)}${fmt(s.p95, 0)}  ${sourceName(labels[i]!)}`,
    );
  });
  for (const c of [0, 1]) {
    const members = volumes.filter((_, i) => labels[i] === c);
    const slices = members.reduce((a, v) => a + v.last - v.first + 1, 0);
    console.log(`${sourceName(c)}: ${members.length} volume(s), ${slices} slices: ${members.map((v) => v.id).join(' ')}`);
  }
  console.log(`\nchange point of the per-slice features along the file order (no volume starts used): slice ${cp.index} ` +
    `(explains ${(cp.gain * 100).toFixed(1)} % of the feature variance)`);
  const near = volumes.find((v) => v.first === cp.index);
  console.log(near ? `it coincides with the start of ${near.id}` : `nearest volume start: ${starts.reduce((a, s) => (Math.abs(s - cp.index) < Math.abs(a - cp.index) ? s : a))}`);
  console.log('per-volume means on either side of the change point (range over volumes):');
  for (const f of FEATURES) {
    const side = (before: boolean) => perVolume.filter((_, i) => (volumes[i]!.first < cp.index) === before).map((s) => s[f]);
    const [a, b] = [side(true), side(false)];
    const [aLo, aHi, bLo, bHi] = [Math.min(...a), Math.max(...a), Math.min(...b), Math.max(...b)];
    const apart = aHi < bLo || bHi < aLo;
    console.log(`  ${f.padEnd(12)} ${aLo.toFixed(3)}-${aHi.toFixed(3)} before, ${bLo.toFixed(3)}-${bHi.toFixed(3)} after${apart ? '  (separates every volume)' : ''}`);
  }
}

await main();
