/**
 * Hand-written wasm SIMD programs for a stride-1 convolution over an input padded in advance
 * (so no bounds checks): its forward pass and its filter gradient, NHWC, float32. The input
 * gradient of a stride-1 conv is the forward pass of dy with the rotated filter, so these two
 * cover the three convolutions of a training step.
 *
 * Why: tfjs-backend-wasm 4.22 has no filter gradient; built from its XNNPACK conv it ran at 5–8
 * GFLOP/s on one core (a GEMM with a huge inner dimension and a tiny output), against 15–23 here.
 * Both programs keep a register tile of accumulators (four rows × eight columns of the result)
 * and stream the inputs once per tile from a chunk small enough to stay in cache. Summation order
 * is fixed, so results are deterministic (with relaxed multiply-adds: on one machine and runtime;
 * see MultiplyAddKind).
 *
 * Pointers are byte addresses in the imported memory; all sizes are in elements.
 */
import { FunctionWriter, type MultiplyAddKind } from './module-writer.js';

/** Channels of the input one filter-gradient tile covers (rows of its accumulator tile). */
export const FILTER_GRAD_INPUT_BLOCK = 4;
/** Output channels a tile covers, as 4-float vectors: 2 → 8 channels. */
const OUTPUT_VECTORS = 2;
/** Output channels a tile covers. */
export const OUTPUT_CHANNEL_BLOCK = OUTPUT_VECTORS * 4;
/** Output pixels one forward tile covers. */
const PIXEL_BLOCK = 4;

/**
 * `filterGradient(x, dy, dw, N, Ho, Wo, Hp, Wp, Ci, Co, KH, KW, ciStart, ciEnd, chunkRows,
 * xImageBytes, dyImageBytes, dwImageBytes)`: dw_n[kh,kw,ci,co] += Σ_{i,j} x_n[i+kh, j+kw, ci] ·
 * dy_n[i, j, co] for every image n and ci in [ciStart, ciEnd), where image n of the padded input
 * x_n [Hp, Wp, Ci] starts n·xImageBytes after x and dy_n [Ho, Wo, Co] n·dyImageBytes after dy
 * (0: packed), and dw_n [KH, KW, Ci, Co] n·dwImageBytes after dw (0: one dw, summed over the
 * images, the filter gradient; a dw per image gives Winograd's 16 products, simd-winograd.ts). Works
 * through `chunkRows` output rows at a time, all tiles of a chunk before the next, so the chunk
 * stays in cache. Threads given disjoint channel ranges write disjoint parts of dw, each in the
 * same order as one thread would. Needs Ci % 4 = 0 (and the range on multiples of 4), Co % 8 = 0.
 * `multiplyAdd`: exact (mul + add) or relaxed (fused where the CPU has it), see MultiplyAddKind.
 */
export function filterGradientProgram(multiplyAdd: MultiplyAddKind = 'exact'): FunctionWriter {
  const CB = FILTER_GRAD_INPUT_BLOCK;
  const f = new FunctionWriter(18, 17, CB * OUTPUT_VECTORS + OUTPUT_VECTORS + 1, multiplyAdd);
  const { x, dy, dw: gradients, N, Ho, Wo, Hp, Wp, Ci, Co, KH, KW, ciStart, ciEnd, chunkRows, xImageBytes, dyImageBytes, dwImageBytes } = f.names(
    ['x', 'dy', 'dw', 'N', 'Ho', 'Wo', 'Hp', 'Wp', 'Ci', 'Co', 'KH', 'KW', 'ciStart', 'ciEnd', 'chunkRows',
      'xImageBytes', 'dyImageBytes', 'dwImageBytes'], 0);
  const { n, i0, rows, xChunk, dyChunk, kh, kw, ci0, co0, acc, r, xp, dyp, dyEnd, xStride, dyStride, dw } = f.names(
    ['n', 'i0', 'rows', 'xChunk', 'dyChunk', 'kh', 'kw', 'ci0', 'co0', 'acc', 'r', 'xp', 'dyp', 'dyEnd', 'xStride', 'dyStride', 'dw'],
    f.i32Local(0));
  const sums = Array.from({ length: CB * OUTPUT_VECTORS }, (_, k) => f.v128Local(k));
  const dyVec = Array.from({ length: OUTPUT_VECTORS }, (_, k) => f.v128Local(CB * OUTPUT_VECTORS + k));
  const xSplat = f.v128Local(CB * OUTPUT_VECTORS + OUTPUT_VECTORS);
  const sum = (c: number, h: number) => sums[c * OUTPUT_VECTORS + h]!;
  // The accumulator row of input channel ci0 + c: acc + c·Co floats.
  const accRow = (c: number) => {
    f.get(acc);
    if (c > 0) f.get(dyStride).i32Const(c).i32Mul().i32Add();
  };

  f.get(Ci).i32Const(2).i32Shl().set(xStride);
  f.get(Co).i32Const(2).i32Shl().set(dyStride);
  f.get(xImageBytes).i32Eqz().if().get(Hp).get(Wp).i32Mul().get(xStride).i32Mul().set(xImageBytes).end();
  f.get(dyImageBytes).i32Eqz().if().get(Ho).get(Wo).i32Mul().get(dyStride).i32Mul().set(dyImageBytes).end();
  f.i32Const(0).set(n).loop();
  f.get(gradients).get(n).get(dwImageBytes).i32Mul().i32Add().set(dw);
  f.i32Const(0).set(i0).loop();
  // rows = min(chunkRows, Ho − i0); xChunk = x + n·xImageBytes + i0·Wp·Ci·4; dyChunk = dy + n·dyImageBytes + i0·Wo·Co·4
  f.get(chunkRows).get(Ho).get(i0).i32Sub().get(chunkRows).get(Ho).get(i0).i32Sub().i32LtU().select().set(rows);
  f.get(x).get(n).get(xImageBytes).i32Mul().i32Add().get(i0).get(Wp).i32Mul().get(xStride).i32Mul().i32Add().set(xChunk);
  f.get(dy).get(n).get(dyImageBytes).i32Mul().i32Add().get(i0).get(Wo).i32Mul().get(dyStride).i32Mul().i32Add().set(dyChunk);
  f.i32Const(0).set(kh).loop();
  f.i32Const(0).set(kw).loop();
  f.get(ciStart).set(ci0).loop();
  f.i32Const(0).set(co0).loop();
  // acc = dw + (((kh·KW + kw)·Ci + ci0)·Co + co0)·4
  f.get(dw).get(kh).get(KW).i32Mul().get(kw).i32Add().get(Ci).i32Mul().get(ci0).i32Add()
    .get(Co).i32Mul().get(co0).i32Add().i32Const(2).i32Shl().i32Add().set(acc);
  for (let c = 0; c < CB; c++) for (let h = 0; h < OUTPUT_VECTORS; h++) accRow(c), f.v128Load(h * 16).set(sum(c, h));
  f.i32Const(0).set(r).loop();
  // xp = xChunk + ((r + kh)·Wp + kw)·Ci·4 + ci0·4; dyp = dyChunk + r·Wo·Co·4 + co0·4; dyEnd = dyp + Wo·Co·4
  f.get(xChunk).get(r).get(kh).i32Add().get(Wp).i32Mul().get(kw).i32Add().get(xStride).i32Mul().i32Add()
    .get(ci0).i32Const(2).i32Shl().i32Add().set(xp);
  f.get(dyChunk).get(r).get(Wo).i32Mul().get(dyStride).i32Mul().i32Add().get(co0).i32Const(2).i32Shl().i32Add()
    .tee(dyp).get(Wo).get(dyStride).i32Mul().i32Add().set(dyEnd);
  f.loop();
  for (let h = 0; h < OUTPUT_VECTORS; h++) f.get(dyp).v128Load(h * 16).set(dyVec[h]!);
  for (let c = 0; c < CB; c++) {
    f.get(xp).f32Splat(c * 4).set(xSplat);
    for (let h = 0; h < OUTPUT_VECTORS; h++) f.multiplyAdd(sum(c, h), xSplat, dyVec[h]!);
  }
  f.get(xp).get(xStride).i32Add().set(xp);
  f.get(dyp).get(dyStride).i32Add().tee(dyp).get(dyEnd).i32Ne().brIf(0).end();
  f.get(r).i32Const(1).i32Add().tee(r).get(rows).i32LtU().brIf(0).end();
  for (let c = 0; c < CB; c++) for (let h = 0; h < OUTPUT_VECTORS; h++) accRow(c), f.get(sum(c, h)).v128Store(h * 16);
  f.get(co0).i32Const(OUTPUT_CHANNEL_BLOCK).i32Add().tee(co0).get(Co).i32LtU().brIf(0).end();
  f.get(ci0).i32Const(CB).i32Add().tee(ci0).get(ciEnd).i32LtU().brIf(0).end();
  f.get(kw).i32Const(1).i32Add().tee(kw).get(KW).i32LtU().brIf(0).end();
  f.get(kh).i32Const(1).i32Add().tee(kh).get(KH).i32LtU().brIf(0).end();
  f.get(i0).get(chunkRows).i32Add().tee(i0).get(Ho).i32LtU().brIf(0).end();
  f.get(n).i32Const(1).i32Add().tee(n).get(N).i32LtU().brIf(0).end();
  return f;
}

/**
 * `conv(x, w, bias, y, N, Ho, Wo, Hp, Wp, Ci, Co, KH, KW, relu, rowStart, rowEnd, wImageBytes,
 * xImageBytes, yImageBytes)`: output rows [rowStart, rowEnd) of every image, y_n[i,j,co] =
 * act(bias[co] + Σ_{kh,kw,ci} x_n[i+kh, j+kw, ci] · w_n[kh,kw,ci,co]), where image n of the padded
 * input x_n [Hp, Wp, Ci] starts n·xImageBytes after x, its output y_n [Ho, Wo, Co] n·yImageBytes
 * after y (0: packed, Hp·Wp·Ci and Ho·Wo·Co floats), and its filter w_n [KH,KW,Ci,Co] n·wImageBytes
 * after w (0: one filter for all images). A filter per image turns the 1×1 case into the batched
 * matrix products of simd-winograd-programs.ts, whose planes are spaced apart to spread them over
 * cache sets.
 * bias = 0 means none; relu ≠ 0 applies max(·, 0). Each output is computed the same way whichever
 * thread computes it. Needs Co % 8 = 0; any Ci. `multiplyAdd` as for filterGradientProgram.
 */
export function convProgram(multiplyAdd: MultiplyAddKind = 'exact'): FunctionWriter {
  const PB = PIXEL_BLOCK;
  const V = OUTPUT_VECTORS;
  const f = new FunctionWriter(19, 12 + PB, PB * V + 2 * V + 2, multiplyAdd);
  const {
    x: image, w: filters, bias, y: output, N, Ho, Wo, Hp, Wp, Ci, Co, KH, KW, relu, rowStart, rowEnd,
    wImageBytes, xImageBytes, yImageBytes,
  } = f.names([
    'x', 'w', 'bias', 'y', 'N', 'Ho', 'Wo', 'Hp', 'Wp', 'Ci', 'Co', 'KH', 'KW', 'relu', 'rowStart', 'rowEnd',
    'wImageBytes', 'xImageBytes', 'yImageBytes',
  ], 0);
  const { co0, j, kh, wp, tapEnd, xStride, wStride, n, i, x, y, w } = f.names(
    ['co0', 'j', 'kh', 'wp', 'tapEnd', 'xStride', 'wStride', 'n', 'i', 'x', 'y', 'w'], f.i32Local(0));
  const xps = Array.from({ length: PB }, (_, k) => f.i32Local(12 + k)); // one input pointer per pixel of the block
  const sums = Array.from({ length: PB * V }, (_, k) => f.v128Local(k));
  const wVec = Array.from({ length: V }, (_, k) => f.v128Local(PB * V + k));
  const biasVec = Array.from({ length: V }, (_, k) => f.v128Local(PB * V + V + k));
  const xSplat = f.v128Local(PB * V + 2 * V);
  const lower = f.v128Local(PB * V + 2 * V + 1);
  const sum = (p: number, h: number) => sums[p * V + h]!;

  f.get(Ci).i32Const(2).i32Shl().set(xStride);
  f.get(Co).i32Const(2).i32Shl().set(wStride);
  f.get(xImageBytes).i32Eqz().if().get(Hp).get(Wp).i32Mul().get(xStride).i32Mul().set(xImageBytes).end();
  f.get(yImageBytes).i32Eqz().if().get(Ho).get(Wo).i32Mul().get(wStride).i32Mul().set(yImageBytes).end();
  // max(·, 0) for a ReLU, max(·, −∞) (the identity, NaN kept) otherwise.
  f.get(relu).if().v128Zero().set(lower).else().f32x4Const(-Infinity).set(lower).end();
  f.i32Const(0).set(n).loop();
  f.get(filters).get(n).get(wImageBytes).i32Mul().i32Add().set(w);
  f.get(rowStart).set(i).loop();
  // x = this output row's first input row, n·xImageBytes + i·Wp·Ci·4 bytes in; y = n·yImageBytes + i·Wo·Co·4.
  f.get(image).get(n).get(xImageBytes).i32Mul().i32Add().get(i).get(Wp).i32Mul().get(xStride).i32Mul().i32Add().set(x);
  f.get(output).get(n).get(yImageBytes).i32Mul().i32Add().get(i).get(Wo).i32Mul().get(wStride).i32Mul().i32Add().set(y);
  f.i32Const(0).set(co0).loop();
  f.get(bias).i32Eqz().if();
  for (let h = 0; h < V; h++) f.v128Zero().set(biasVec[h]!);
  f.else();
  for (let h = 0; h < V; h++) f.get(bias).get(co0).i32Const(2).i32Shl().i32Add().v128Load(h * 16).set(biasVec[h]!);
  f.end();
  f.i32Const(0).set(j);
  // Pixel blocks of PB, then single pixels for the rest of the row.
  for (const pixels of [PB, 1]) {
    f.block().loop();
    f.get(j).i32Const(pixels).i32Add().get(Wo).i32LeU().i32Eqz().brIf(1);
    for (let p = 0; p < pixels; p++) for (let h = 0; h < V; h++) f.get(biasVec[h]!).set(sum(p, h));
    f.i32Const(0).set(kh).loop();
    // The taps of one filter row and all input channels are contiguous in x and in w:
    // xp_p = x + (kh·Wp + j + p)·Ci·4, wp = w + (kh·KW·Ci·Co + co0)·4, for KW·Ci steps.
    f.get(x).get(kh).get(Wp).i32Mul().get(j).i32Add().get(xStride).i32Mul().i32Add().set(xps[0]!);
    for (let p = 1; p < pixels; p++) f.get(xps[p - 1]!).get(xStride).i32Add().set(xps[p]!);
    f.get(w).get(kh).get(KW).i32Mul().get(Ci).i32Mul().get(Co).i32Mul().get(co0).i32Add().i32Const(2).i32Shl().i32Add().set(wp);
    f.get(xps[0]!).get(KW).get(xStride).i32Mul().i32Add().set(tapEnd);
    f.loop();
    for (let h = 0; h < V; h++) f.get(wp).v128Load(h * 16).set(wVec[h]!);
    for (let p = 0; p < pixels; p++) {
      f.get(xps[p]!).f32Splat().set(xSplat);
      for (let h = 0; h < V; h++) f.multiplyAdd(sum(p, h), xSplat, wVec[h]!);
    }
    for (let p = 1; p < pixels; p++) f.get(xps[p]!).i32Const(4).i32Add().set(xps[p]!);
    f.get(wp).get(wStride).i32Add().set(wp);
    f.get(xps[0]!).i32Const(4).i32Add().tee(xps[0]!).get(tapEnd).i32Ne().brIf(0).end();
    f.get(kh).i32Const(1).i32Add().tee(kh).get(KH).i32LtU().brIf(0).end();
    // y + ((j + p)·Co + co0)·4
    for (let p = 0; p < pixels; p++) for (let h = 0; h < V; h++) {
      f.get(y).get(j).i32Const(p).i32Add().get(Co).i32Mul().get(co0).i32Add().i32Const(2).i32Shl().i32Add();
      f.get(sum(p, h)).get(lower).f32x4Max().v128Store(h * 16);
    }
    f.get(j).i32Const(pixels).i32Add().set(j).br(0).end().end();
  }
  f.get(co0).i32Const(OUTPUT_CHANNEL_BLOCK).i32Add().tee(co0).get(Co).i32LtU().brIf(0).end();
  f.get(i).i32Const(1).i32Add().tee(i).get(rowEnd).i32LtU().brIf(0).end();
  f.get(n).i32Const(1).i32Add().tee(n).get(N).i32LtU().brIf(0).end();
  return f;
}
