/**
 * The filter gradient of a 3×3, stride-1, 'same' convolution (NHWC) tiled along image rows: the
 * U-Net's 18 convolutions, most of the filter-gradient time of a step.
 *
 * dW[kh, kw, ci, co] = Σ_{n, y, x} x[n, y + kh − 1, x + kw − 1, ci] · dy[n, y, x, co]
 *
 * The general split-K program (conv2d-backprop-filter.ts) stages x in im2col order: each staged
 * value costs an index decomposition, the three kw taps load the same pixel three times, and each
 * thread does about one multiply-add per workgroup-memory read. Here a workgroup takes a chunk of
 * output rows and one tile of 16 input × 16 output channels, and walks each row in segments of 32
 * pixels: it stages the three input rows it needs (34 pixels each, with the borders) and the
 * segment of dy, then every thread owns one (ci, co) pair, all nine taps, and a share of the
 * segment's pixels. Along a row the three kw taps of one kh read x[p], x[p+1], x[p+2]: a window of
 * three registers slides, so a pixel costs four workgroup-memory reads (one dy, three x) for nine
 * multiply-adds. Partial sums per chunk, then the chunk sum (chunk-sum.ts): deterministic.
 * Behind the env flag CTQUANT_WEBGPU_ROW_FILTER_GRAD (default off): on an H100 at 256² it took 8.5 ms
 * of filter gradients per step against the split-K program's 7.4 ms (BENCHMARKS.md).
 */
import { WorkgroupGridProgram, evenChunks, mainHeader, phaseReduction, phaseReductionMemory } from './program-util.js';

const THREADS = 256;
/** Pixels of a row staged at once. */
const SEGMENT = 32;
/** Channel tile, input and output. */
const TILE = 16;
/** Aim for this many workgroups (chunks × channel tiles) so a large GPU is full. */
const TARGET_WORKGROUPS = 1024;

export interface RowFilterGradShape {
  batch: number;
  height: number;
  width: number;
  inChannels: number;
  outChannels: number;
}

export interface RowFilterGradPlan extends RowFilterGradShape {
  /** Channels per tile (min(C, 16)) and tiles. */
  tileC: number;
  tileN: number;
  tilesC: number;
  tilesN: number;
  /** Threads per (ci, co) pair: they split a segment's pixels. */
  phases: number;
  /** Output rows (n, y) per chunk, and chunks. */
  rowsPerChunk: number;
  chunks: number;
}

export function planRowFilterGrad(s: RowFilterGradShape): RowFilterGradPlan {
  const tileC = Math.min(s.inChannels, TILE);
  const tileN = Math.min(s.outChannels, TILE);
  const tilesC = Math.ceil(s.inChannels / tileC);
  const tilesN = Math.ceil(s.outChannels / tileN);
  // Largest power of two that fits the workgroup and leaves each phase at least 2 pixels.
  let phases = 1;
  while (phases * 2 * tileC * tileN <= THREADS && (SEGMENT / (phases * 2)) >= 2) phases *= 2;
  const rows = s.batch * s.height;
  const { size: rowsPerChunk, chunks } = evenChunks(rows, Math.max(1, Math.min(rows, Math.ceil(TARGET_WORKGROUPS / (tilesC * tilesN)))));
  return { ...s, tileC, tileN, tilesC, tilesN, phases, rowsPerChunk, chunks };
}

/** Pass 1: partial sums [chunks, 3·3·Cin·Cout] (per chunk laid out as the filter [3, 3, Cin, Cout]). */
export class RowFilterGradPartialProgram extends WorkgroupGridProgram {
  variableNames = ['x', 'dy'];
  shaderKey: string;

  constructor(private readonly plan: RowFilterGradPlan) {
    super([plan.chunks, 9 * plan.inChannels * plan.outChannels], [plan.tilesC * plan.tilesN, plan.chunks, 1], THREADS);
    this.shaderKey = `ctquantRowFilterGrad_${Object.values(plan).join('_')}`;
  }

  getUserCode(): string {
    const p = this.plan;
    const perPhase = SEGMENT / p.phases;
    return `
      const H = ${p.height};
      const W = ${p.width};
      const CIN = ${p.inChannels};
      const COUT = ${p.outChannels};
      const ROWS = ${p.batch * p.height};
      const TC = ${p.tileC};
      const TN = ${p.tileN};
      const TILES_N = ${p.tilesN};
      const PAIRS = ${p.tileC * p.tileN};
      const PHASES = ${p.phases};
      const PER_PHASE = ${perPhase};
      const SEG = ${SEGMENT};
      const SEG_X = ${SEGMENT + 2};
      const CHUNK_ROWS = ${p.rowsPerChunk};

      // Three input rows (kh) × SEG + 2 pixels × TC channels, and SEG pixels × TN channels of dy.
      var<workgroup> xs: array<f32, ${3 * (SEGMENT + 2) * p.tileC}>;
      var<workgroup> dys: array<f32, ${SEGMENT * p.tileN}>;
      // The phases' sums of one tap at a time (16 KB of workgroup memory is all WebGPU guarantees).
      ${phaseReductionMemory(['part'], THREADS)}
      var<workgroup> chunkShared: i32;

      ${mainHeader('index')} {
        // uniforms.size is read only so the auto layout keeps the uniform binding tfjs always binds.
        if (uniforms.size < 0) { return; }
        let lid = i32(localIndex);
        let tile = i32(workgroupId.x);
        let tc = tile / TILES_N;
        let tn = tile - tc * TILES_N;
        // The barriers sit in loops over this chunk's rows: WGSL needs the bound uniform, and tfjs's
        // workgroupId is a private variable, which the uniformity analysis does not trust.
        if (lid == 0) { chunkShared = i32(workgroupId.y); }
        let chunk = workgroupUniformLoad(&chunkShared);
        let pair = lid % PAIRS;
        let phase = lid / PAIRS;
        let ciLocal = pair / TN;
        let coLocal = pair - ciLocal * TN;
        let busy = phase < PHASES;

        var acc: array<f32, 9>;
        let r0 = chunk * CHUNK_ROWS;
        let r1 = min(r0 + CHUNK_ROWS, ROWS);
        for (var row = r0; row < r1; row++) {
          let n = row / H;
          let y = row - n * H;
          for (var x0 = 0; x0 < W; x0 += SEG) {
            // Stage x rows y-1..y+1, pixels x0-1..x0+SEG, channels of tile tc (zero outside the image).
            for (var e = lid; e < 3 * SEG_X * TC; e += ${THREADS}) {
              let kh = e / (SEG_X * TC);
              let rest = e - kh * SEG_X * TC;
              let px = rest / TC;
              let c = rest - px * TC;
              let iy = y + kh - 1;
              let ix = x0 + px - 1;
              let ci = tc * TC + c;
              var v = 0.0;
              if (iy >= 0 && iy < H && ix >= 0 && ix < W && ci < CIN) { v = x[((n * H + iy) * W + ix) * CIN + ci]; }
              xs[e] = v;
            }
            for (var e = lid; e < SEG * TN; e += ${THREADS}) {
              let px = e / TN;
              let c = e - px * TN;
              let ox = x0 + px;
              let co = tn * TN + c;
              var v = 0.0;
              if (ox < W && co < COUT) { v = dy[((n * H + y) * W + ox) * COUT + co]; }
              dys[e] = v;
            }
            workgroupBarrier();
            if (busy) {
              let p0 = phase * PER_PHASE;
              for (var kh = 0; kh < 3; kh++) {
                let base = kh * SEG_X * TC + ciLocal;
                var w0 = xs[base + p0 * TC];
                var w1 = xs[base + (p0 + 1) * TC];
                for (var q = p0; q < p0 + PER_PHASE; q++) {
                  let w2 = xs[base + (q + 2) * TC];
                  let d = dys[q * TN + coLocal];
                  acc[kh * 3] += w0 * d;
                  acc[kh * 3 + 1] += w1 * d;
                  acc[kh * 3 + 2] += w2 * d;
                  w0 = w1;
                  w1 = w2;
                }
              }
            }
            workgroupBarrier();
          }
        }

        // The phases of a pair meet in workgroup memory, one tap at a time; phase 0 writes.
        let ci = tc * TC + ciLocal;
        let co = tn * TN + coLocal;
        let out = chunk * 9 * CIN * COUT + ci * COUT + co;
        for (var t = 0; t < 9; t++) {
          ${phaseReduction({
            sums: [{ part: 'part', value: 'select(0.0, acc[t], busy)', total: 's' }], slot: 'q * PAIRS + pair',
            writer: 'phase == 0 && ci < CIN && co < COUT', write: 'result[out + t * CIN * COUT] = s;',
          })}
          workgroupBarrier();
        }
      }
    `;
  }
}
