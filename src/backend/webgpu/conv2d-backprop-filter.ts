/**
 * The filter gradient of a 2-D convolution (NHWC) as a split-K matrix product on WebGPU.
 *
 * dW[kh, kw, ci, co] = Σ_{n, oy, ox} x[n, oy·sh − pt + kh, ox·sw − pl + kw, ci] · dy[n, oy, ox, co]
 *
 * Read as a GEMM: rows m = (kh, kw, ci) (M = KH·KW·Cin), columns co (N = Cout), contraction over
 * the pixels k = (n, oy, ox) (K = B·Ho·Wo, up to millions). The stock tfjs program gives each of the
 * M·N outputs one thread that walks all K pixels serially; with M·N in the hundreds to thousands
 * that leaves most of a GPU idle (1.3 s of a 1.5 s step on an H100). Here the K axis is cut into
 * chunks: each workgroup multiplies one TM×TN output tile over one chunk through workgroup memory
 * and writes a partial sum; a second pass (chunk-sum.ts) adds the chunks. No atomics, so results are
 * deterministic.
 */
import type { backend_util } from '@tensorflow/tfjs';
import { WorkgroupGridProgram, evenChunks, mainHeader } from './program-util.js';

/** Threads per workgroup side: workgroups are 16×16 = 256 threads. */
const SIDE = 16;
/** Pixels (K values) staged in workgroup memory per step. */
const TK = 16;
/** Aim for at least this many workgroups so every SM of a large GPU has several. */
const TARGET_WORKGROUPS = 2048;
/** A chunk smaller than this spends more on its partial-sum write than on its products. */
const MIN_CHUNK = 256;

/** The static geometry of one filter-gradient problem; everything in it is baked into the shader. */
export interface FilterGradGeometry {
  batch: number;
  inHeight: number;
  inWidth: number;
  inChannels: number;
  outHeight: number;
  outWidth: number;
  outChannels: number;
  filterHeight: number;
  filterWidth: number;
  strideHeight: number;
  strideWidth: number;
  padTop: number;
  padLeft: number;
}

/** Tiling chosen for a geometry: output tile TM×TN, chunk length in pixels, number of chunks. */
export interface FilterGradPlan {
  tileM: number;
  tileN: number;
  tilesM: number;
  tilesN: number;
  chunk: number;
  chunks: number;
}

export function geometryFromConvInfo(info: backend_util.Conv2DInfo): FilterGradGeometry {
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    strideHeight: info.strideHeight,
    strideWidth: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** The smallest of 16, 32, 64 that covers n (64 when n is larger). */
function tileFor(n: number): number {
  return n <= 16 ? 16 : n <= 32 ? 32 : 64;
}

/** Picks tile sizes and how finely to split the pixel axis so the GPU has enough workgroups. */
export function planFilterGrad(g: FilterGradGeometry): FilterGradPlan {
  const M = g.filterHeight * g.filterWidth * g.inChannels;
  const N = g.outChannels;
  const K = g.batch * g.outHeight * g.outWidth;
  const tileM = tileFor(M);
  const tileN = tileFor(N);
  const tilesM = Math.ceil(M / tileM);
  const tilesN = Math.ceil(N / tileN);
  const maxChunks = Math.max(1, Math.ceil(K / MIN_CHUNK));
  const wantChunks = Math.max(1, Math.ceil(TARGET_WORKGROUPS / (tilesM * tilesN)));
  // Chunks are whole TK steps, so every workgroup runs the same, compile-time trip count.
  const { size: chunk, chunks } = evenChunks(K, Math.min(maxChunks, wantChunks, 65535), TK);
  return { tileM, tileN, tilesM, tilesN, chunk, chunks };
}

/** Pass 1: partial sums, output [chunks, KH·KW·Cin·Cout] (per chunk laid out as [KH, KW, Cin, Cout]). */
export class FilterGradPartialProgram extends WorkgroupGridProgram {
  variableNames = ['x', 'dy'];
  shaderKey: string;

  constructor(
    private readonly g: FilterGradGeometry,
    private readonly plan: FilterGradPlan,
  ) {
    const M = g.filterHeight * g.filterWidth * g.inChannels;
    super([plan.chunks, M * g.outChannels], [plan.tilesM * plan.tilesN, plan.chunks, 1], SIDE * SIDE);
    this.shaderKey = `ctquantFilterGradPartial_${Object.values(g).join('_')}_${Object.values(plan).join('_')}`;
  }

  getUserCode(): string {
    const g = this.g;
    const p = this.plan;
    const M = g.filterHeight * g.filterWidth * g.inChannels;
    const K = g.batch * g.outHeight * g.outWidth;
    const RM = p.tileM / SIDE;
    const RN = p.tileN / SIDE;
    const i = (n: number) => `${n}`;
    return `
      const M = ${i(M)};
      const NC = ${i(g.outChannels)};
      const K = ${i(K)};
      const CIN = ${i(g.inChannels)};
      const KW = ${i(g.filterWidth)};
      const H = ${i(g.inHeight)};
      const W = ${i(g.inWidth)};
      const HOWO = ${i(g.outHeight * g.outWidth)};
      const WO = ${i(g.outWidth)};
      const SH = ${i(g.strideHeight)};
      const SW = ${i(g.strideWidth)};
      const PT = ${i(g.padTop)};
      const PL = ${i(g.padLeft)};
      const TM = ${i(p.tileM)};
      const TN = ${i(p.tileN)};
      const TK = ${i(TK)};
      const TILES_N = ${i(p.tilesN)};
      const CHUNK = ${i(p.chunk)};

      var<workgroup> tileX: array<f32, ${TK * p.tileM}>;
      var<workgroup> tileDy: array<f32, ${TK * p.tileN}>;

      // x value for pixel k and filter row m = (kh, kw, ci); zero outside the image or the problem.
      fn loadX(k: i32, m: i32) -> f32 {
        if (k >= K || m >= M) { return 0.0; }
        let n = k / HOWO;
        let r = k - n * HOWO;
        let oy = r / WO;
        let ox = r - oy * WO;
        let tap = m / CIN;
        let ci = m - tap * CIN;
        let kh = tap / KW;
        let kw = tap - kh * KW;
        let iy = oy * SH - PT + kh;
        let ix = ox * SW - PL + kw;
        if (iy < 0 || iy >= H || ix < 0 || ix >= W) { return 0.0; }
        return x[((n * H + iy) * W + ix) * CIN + ci];
      }

      fn loadDy(k: i32, co: i32) -> f32 {
        if (k >= K || co >= NC) { return 0.0; }
        return dy[k * NC + co];
      }

      ${mainHeader('index')} {
        // uniforms.size is read only so the auto layout keeps the uniform binding tfjs always binds.
        if (uniforms.size < 0) { return; }
        let tile = i32(workgroupId.x);
        let tm = tile / TILES_N;
        let tn = tile - tm * TILES_N;
        let kStart = i32(workgroupId.y) * CHUNK;
        let lid = i32(localIndex);
        let ty = lid / ${SIDE};
        let tx = lid - ty * ${SIDE};

        var acc: array<f32, ${RM * RN}>;
        for (var s = 0; s < CHUNK / TK; s++) {
          let k0 = kStart + s * TK;
          for (var e = lid; e < TK * TM; e += ${SIDE * SIDE}) {
            let kk = e / TM;
            tileX[e] = loadX(k0 + kk, tm * TM + (e - kk * TM));
          }
          for (var e = lid; e < TK * TN; e += ${SIDE * SIDE}) {
            let kk = e / TN;
            tileDy[e] = loadDy(k0 + kk, tn * TN + (e - kk * TN));
          }
          workgroupBarrier();
          for (var kk = 0; kk < TK; kk++) {
            var a: array<f32, ${RM}>;
            for (var i = 0; i < ${RM}; i++) { a[i] = tileX[kk * TM + ty + ${SIDE} * i]; }
            for (var j = 0; j < ${RN}; j++) {
              let b = tileDy[kk * TN + tx + ${SIDE} * j];
              for (var i = 0; i < ${RM}; i++) { acc[i * ${RN} + j] += a[i] * b; }
            }
          }
          workgroupBarrier();
        }

        let base = i32(workgroupId.y) * M * NC;
        for (var i = 0; i < ${RM}; i++) {
          let m = tm * TM + ty + ${SIDE} * i;
          for (var j = 0; j < ${RN}; j++) {
            let co = tn * TN + tx + ${SIDE} * j;
            if (m < M && co < NC) { result[base + m * NC + co] = acc[i * ${RN} + j]; }
          }
        }
      }
    `;
  }
}
