/**
 * The three transforms of a Winograd F(2×2, 3×3) convolution (Lavin & Gray 2016, "Fast Algorithms
 * for Convolutional Neural Networks", arXiv:1509.09308), as wasm SIMD programs over NHWC float32
 * tensors in tfjs's heap, four channels per vector:
 *   Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A  per 2×2 output tile, d its 4×4 input tile, g a 3×3 filter,
 *   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
 *   Aᵀ = [1 1 1 0; 0 1 −1 −1].
 * Summed over input channels, the ⊙ becomes 16 independent products M_k = V_k · U_k of a [tiles, Ci]
 * and a [Ci, Co] matrix (k = 4a + b, the position in the 4×4 tile), which simd-winograd.ts runs on
 * the forward conv program as 1×1 convolutions. Why: 16 multiply-adds per 2×2 outputs and input
 * channel instead of 36, i.e. 2.25× fewer, for transforms that only add, subtract and halve.
 * The transforms are exact up to float rounding; F(2×2, 3×3) is the variant whose error stays
 * within a few ulps of direct convolution (the paper's Table 2 rows for fp32).
 *
 * Tiles are numbered row-major over (image, tile row, tile column); a "tile row" r = n·Th + i
 * covers output rows 2i, 2i + 1 of image n. The programs take a range of tile rows, so the caller
 * can stream a tensor through in chunks that stay in cache and split a chunk over threads.
 * Pointers are byte addresses; sizes in elements.
 */
import { FunctionWriter } from './module-writer.js';

/** Bᵀ (rows of coefficients, applied to a column of four values). */
const B_T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]] as const;
/** G (4×3), applied to a column of three filter taps. */
const G = [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]] as const;
/** Aᵀ (2×4), applied to a column of four products. */
const A_T = [[1, 1, 1, 0], [0, 1, -1, -1]] as const;

/**
 * Pushes Σ_j coefficients[j] · value_j for v128 locals `values`, with as few multiplies as the
 * coefficients allow: terms of equal magnitude are added and subtracted first (positive ones
 * first), then scaled once unless the magnitude is 1; groups are summed, a group without a positive
 * term subtracted, and a combination with no positive term at all negated at the end.
 */
function emitCombination(f: FunctionWriter, coefficients: readonly number[], values: readonly number[]): void {
  const terms = coefficients.map((c, j) => ({ c, value: values[j]! })).filter((t) => t.c !== 0);
  if (terms.length === 0) throw new Error('emitCombination: all coefficients are 0');
  const magnitudes = [...new Set(terms.map((t) => Math.abs(t.c)))];
  const groups = magnitudes.map((magnitude) => {
    const members = terms.filter((t) => Math.abs(t.c) === magnitude);
    return { magnitude, plus: members.filter((t) => t.c > 0), minus: members.filter((t) => t.c < 0) };
  });
  const negateAll = groups.every((g) => g.plus.length === 0);
  if (negateAll) for (const g of groups) [g.plus, g.minus] = [g.minus, g.plus];
  // A group's sum (or, for a group without positive terms, the sum of its negated terms).
  const emitGroup = (g: (typeof groups)[number], terms: typeof g.plus, subtracted: typeof g.plus) => {
    terms.forEach((t, k) => (f.get(t.value), k > 0 && f.f32x4Add()));
    for (const t of subtracted) f.get(t.value).f32x4Sub();
    if (g.magnitude !== 1) f.f32x4Const(g.magnitude).f32x4Mul();
  };
  const positive = groups.filter((g) => g.plus.length > 0);
  const negative = groups.filter((g) => g.plus.length === 0);
  positive.forEach((g, k) => (emitGroup(g, g.plus, g.minus), k > 0 && f.f32x4Add()));
  for (const g of negative) emitGroup(g, g.minus, []), f.f32x4Sub();
  if (negateAll) f.f32x4Neg();
}

/**
 * `winogradFilter(w, u, Ci, Co, ciStart, ciEnd)`: U[k, ci, co] = (G g Gᵀ)[a, b] for k = 4a + b, g the
 * 3×3 taps w[·, ·, ci, co] of w [3, 3, Ci, Co]; u is [16, Ci, Co]. Input channels [ciStart, ciEnd)
 * (threads take disjoint ranges). Needs Co % 4 = 0.
 */
export function winogradFilterProgram(): FunctionWriter {
  const f = new FunctionWriter(6, 5, 9 + 12);
  const { w, u, Ci, Co, ciStart, ciEnd } = f.names(['w', 'u', 'Ci', 'Co', 'ciStart', 'ciEnd'], 0);
  const { ci, co, src, dst, planeBytes } = f.names(['ci', 'co', 'src', 'dst', 'planeBytes'], f.i32Local(0));
  const tap = Array.from({ length: 9 }, (_, k) => f.v128Local(k)); // g[kh][kw] at 3·kh + kw
  const half = Array.from({ length: 12 }, (_, k) => f.v128Local(9 + k)); // (G g)[a][kw] at 3·a + kw

  // A tap plane of w and a position plane of u are both Ci·Co floats.
  f.get(Ci).get(Co).i32Mul().i32Const(2).i32Shl().set(planeBytes);
  f.block().get(ciStart).get(ciEnd).i32LtU().i32Eqz().brIf(0);
  f.get(ciStart).set(ci).loop();
  f.i32Const(0).set(co).loop();
  // src = w + (ci·Co + co)·4, dst = u + (ci·Co + co)·4: the same offset within a plane.
  f.get(ci).get(Co).i32Mul().get(co).i32Add().i32Const(2).i32Shl().tee(src).get(u).i32Add().set(dst);
  f.get(src).get(w).i32Add().set(src);
  for (let k = 0; k < 9; k++) f.get(src).get(planeBytes).i32Const(k).i32Mul().i32Add().v128Load().set(tap[k]!);
  for (let kw = 0; kw < 3; kw++) {
    for (let a = 0; a < 4; a++) {
      emitCombination(f, G[a]!, [0, 1, 2].map((kh) => tap[3 * kh + kw]!));
      f.set(half[3 * a + kw]!);
    }
  }
  for (let a = 0; a < 4; a++) {
    for (let b = 0; b < 4; b++) {
      f.get(dst).get(planeBytes).i32Const(4 * a + b).i32Mul().i32Add();
      emitCombination(f, G[b]!, [0, 1, 2].map((kw) => half[3 * a + kw]!));
      f.v128Store();
    }
  }
  f.get(co).i32Const(4).i32Add().tee(co).get(Co).i32LtU().brIf(0).end();
  f.get(ci).i32Const(1).i32Add().tee(ci).get(ciEnd).i32LtU().brIf(0).end();
  f.end();
  return f;
}

/**
 * i32 locals first…first+15 set to k·step for k = 0…15 (the byte offsets of the 16 planes of V or M),
 * or, with `rowStep`, to a·rowStep + b·step for k = 4a + b (the 4×4 window of an input tile).
 */
function setOffsets(f: FunctionWriter, locals: readonly number[], step: number, rowStep?: number): void {
  locals.forEach((local, k) => {
    if (rowStep === undefined) f.get(step).i32Const(k).i32Mul().set(local);
    else f.get(rowStep).i32Const(k >> 2).i32Mul().get(step).i32Const(k & 3).i32Mul().i32Add().set(local);
  });
}

/** Pushes `pointer` + the offset in i32 local `offset` (offset 0 of k = 0 needs no add). */
function emitAddress(f: FunctionWriter, pointer: number, offset: number, k: number): void {
  f.get(pointer);
  if (k > 0) f.get(offset).i32Add();
}

/** Stores the 16 values of a tile, value(a, b) pushed by `emitValue`, at dst + plane offset k = 4a + b. */
function storePlanes(f: FunctionWriter, dst: number, plane: readonly number[], emitValue: (a: number, b: number) => void): void {
  for (let a = 0; a < 4; a++) {
    for (let b = 0; b < 4; b++) {
      emitAddress(f, dst, plane[4 * a + b]!, 4 * a + b);
      emitValue(a, b);
      f.v128Store();
    }
  }
}

/**
 * Closes the loops of a program that reads one tile's pixels at src (four channels a step, up to
 * srcEnd) and writes its 16 planes at dst: both advance a vector, the next tile starts two pixels on,
 * then the tile-column (j < Tw) and tile-row (r < rEnd) loops and the range guard end.
 */
function closeTileLoops(f: FunctionWriter, l: Record<'src' | 'dst' | 'srcEnd' | 'pixelBytes' | 'j' | 'Tw' | 'r' | 'rEnd', number>): void {
  f.get(l.dst).i32Const(16).i32Add().set(l.dst);
  f.get(l.src).i32Const(16).i32Add().tee(l.src).get(l.srcEnd).i32Ne().brIf(0).end();
  f.get(l.src).get(l.pixelBytes).i32Add().set(l.src);
  f.get(l.j).i32Const(1).i32Add().tee(l.j).get(l.Tw).i32LtU().brIf(0).end();
  f.get(l.r).i32Const(1).i32Add().tee(l.r).get(l.rEnd).i32LtU().brIf(0).end();
  f.end();
}

/**
 * `winogradInput(xp, v, Th, Tw, Hp, Wp, Ci, planeBytes, r0, rStart, rEnd)`: V[k, t, c] =
 * (Bᵀ d B)[a, b] for the tiles of tile rows [rStart, rEnd), d the 4×4 window of the padded input
 * xp [N, Hp, Wp, Ci] at rows 2i…2i+3, columns 2j…2j+3 of image n (r = n·Th + i). v holds the tile
 * rows from r0 on: tile (r, j) is t = (r − r0)·Tw + j, and position k's plane starts k·planeBytes
 * after v. Needs Ci % 4 = 0 and Hp = 2·Th + 2, Wp ≥ 2·Tw + 2. Addresses advance by increments;
 * the 32 offsets are set once, so the inner loop is loads, adds and stores.
 */
export function winogradInputProgram(): FunctionWriter {
  const f = new FunctionWriter(11, 6 + 32, 4 + 16);
  const { xp, v, Th, Tw, Wp, Ci, planeBytes, r0, rStart, rEnd } = f.names(
    ['xp', 'v', 'Th', 'Tw', 'Hp', 'Wp', 'Ci', 'planeBytes', 'r0', 'rStart', 'rEnd'], 0);
  const { r, j, src, dst, srcEnd, pixelBytes } = f.names(['r', 'j', 'src', 'dst', 'srcEnd', 'pixelBytes'], f.i32Local(0));
  const window = Array.from({ length: 16 }, (_, k) => f.i32Local(6 + k));
  const plane = Array.from({ length: 16 }, (_, k) => f.i32Local(22 + k));
  const column = Array.from({ length: 4 }, (_, k) => f.v128Local(k)); // d[0..3][b] of one column
  const t = Array.from({ length: 16 }, (_, k) => f.v128Local(4 + k)); // (Bᵀ d)[a][b] at 4a + b

  f.get(Ci).i32Const(2).i32Shl().set(pixelBytes);
  f.get(Wp).get(pixelBytes).i32Mul().set(srcEnd); // one padded row, for the window offsets
  setOffsets(f, window, pixelBytes, srcEnd);
  setOffsets(f, plane, planeBytes);
  f.block().get(rStart).get(rEnd).i32LtU().i32Eqz().brIf(0);
  f.get(rStart).set(r).loop();
  // The tile row's first window: padded row n·Hp + 2i = 2r + 2n (Hp = 2·Th + 2), column 0.
  f.get(r).get(r).get(Th).i32DivU().i32Add().i32Const(1).i32Shl().get(Wp).i32Mul().get(pixelBytes).i32Mul()
    .get(xp).i32Add().set(src);
  f.get(r).get(r0).i32Sub().get(Tw).i32Mul().get(pixelBytes).i32Mul().get(v).i32Add().set(dst);
  f.i32Const(0).set(j).loop();
  f.get(src).get(pixelBytes).i32Add().set(srcEnd);
  f.loop(); // four channels at a time
  for (let b = 0; b < 4; b++) {
    for (let a = 0; a < 4; a++) emitAddress(f, src, window[4 * a + b]!, 4 * a + b), f.v128Load().set(column[a]!);
    for (let a = 0; a < 4; a++) emitCombination(f, B_T[a]!, column), f.set(t[4 * a + b]!);
  }
  storePlanes(f, dst, plane, (a, b) => emitCombination(f, B_T[b]!, [0, 1, 2, 3].map((q) => t[4 * a + q]!)));
  closeTileLoops(f, { src, dst, srcEnd, pixelBytes, j, Tw, r, rEnd });
  return f;
}

/**
 * `winogradOutput(m, bias, y, Th, Tw, Co, planeBytes, relu, r0, rStart, rEnd)`: the 2×2 outputs
 * y[n, 2i + a, 2j + b, co] = act(bias[co] + (Aᵀ M A)[a, b]) of the tiles of tile rows [rStart, rEnd),
 * M[k, t, co] read as winogradInput writes V (t = (r − r0)·Tw + j, plane k at k·planeBytes), y
 * [N, 2·Th, 2·Tw, Co]. bias = 0 means none; relu ≠ 0 applies max(·, 0), otherwise max(·, −∞) keeps
 * every value (NaN included), as the direct program does. Needs Co % 4 = 0.
 */
export function winogradOutputProgram(): FunctionWriter {
  const f = new FunctionWriter(11, 8 + 16 + 4, 4 + 8 + 2);
  const { m, bias, y, Tw, Co, planeBytes, relu, r0, rStart, rEnd } = f.names(
    ['m', 'bias', 'y', 'Th', 'Tw', 'Co', 'planeBytes', 'relu', 'r0', 'rStart', 'rEnd'], 0);
  const { r, j, src, dst, dstEnd, biasAt, rowBytes, pixelBytes } = f.names(
    ['r', 'j', 'src', 'dst', 'dstEnd', 'biasAt', 'rowBytes', 'pixelBytes'], f.i32Local(0));
  const plane = Array.from({ length: 16 }, (_, k) => f.i32Local(8 + k));
  const out = Array.from({ length: 4 }, (_, k) => f.i32Local(24 + k)); // a·rowBytes + b·pixelBytes at 2a + b
  const column = Array.from({ length: 4 }, (_, k) => f.v128Local(k)); // M[0..3][b] of one column
  const s = Array.from({ length: 8 }, (_, k) => f.v128Local(4 + k)); // (Aᵀ M)[a][b] at 4a + b
  const biasVec = f.v128Local(12);
  const lower = f.v128Local(13);

  f.get(Co).i32Const(2).i32Shl().set(pixelBytes);
  f.get(Tw).i32Const(1).i32Shl().get(pixelBytes).i32Mul().set(rowBytes); // one output row: 2·Tw pixels
  setOffsets(f, plane, planeBytes);
  out.forEach((local, k) => f.get(rowBytes).i32Const(k >> 1).i32Mul().get(pixelBytes).i32Const(k & 1).i32Mul().i32Add().set(local));
  f.get(relu).if().v128Zero().set(lower).else().f32x4Const(-Infinity).set(lower).end();
  f.v128Zero().set(biasVec);
  f.block().get(rStart).get(rEnd).i32LtU().i32Eqz().brIf(0);
  f.get(rStart).set(r).loop();
  // The tile row's outputs start at output row n·2Th + 2i = 2r.
  f.get(r).get(r0).i32Sub().get(Tw).i32Mul().get(pixelBytes).i32Mul().get(m).i32Add().set(src);
  f.get(r).i32Const(1).i32Shl().get(rowBytes).i32Mul().get(y).i32Add().set(dst);
  f.i32Const(0).set(j).loop();
  f.get(bias).set(biasAt);
  f.get(dst).get(pixelBytes).i32Add().set(dstEnd);
  f.loop(); // four channels at a time; biasAt walks the bias (or stays 0: none)
  f.get(biasAt).if().get(biasAt).v128Load().set(biasVec).get(biasAt).i32Const(16).i32Add().set(biasAt).end();
  for (let b = 0; b < 4; b++) {
    for (let a = 0; a < 4; a++) emitAddress(f, src, plane[4 * a + b]!, 4 * a + b), f.v128Load().set(column[a]!);
    for (let a = 0; a < 2; a++) emitCombination(f, A_T[a]!, column), f.set(s[4 * a + b]!);
  }
  for (let a = 0; a < 2; a++) {
    for (let b = 0; b < 2; b++) {
      emitAddress(f, dst, out[2 * a + b]!, 2 * a + b);
      f.get(biasVec);
      emitCombination(f, A_T[b]!, [0, 1, 2, 3].map((q) => s[4 * a + q]!));
      f.f32x4Add().get(lower).f32x4Max().v128Store();
    }
  }
  f.get(src).i32Const(16).i32Add().set(src);
  f.get(dst).i32Const(16).i32Add().tee(dst).get(dstEnd).i32Ne().brIf(0).end();
  f.get(dst).get(pixelBytes).i32Add().set(dst); // the next tile starts two pixels on
  f.get(j).i32Const(1).i32Add().tee(j).get(Tw).i32LtU().brIf(0).end();
  f.get(r).i32Const(1).i32Add().tee(r).get(rEnd).i32LtU().brIf(0).end();
  f.end();
  return f;
}

/**
 * `winogradOutputGradient(dy, dm, Th, Tw, Co, planeBytes, r0, rStart, rEnd)`: dM[k, t, co] =
 * (A dY Aᵀ)[a, b] for the tiles of tile rows [rStart, rEnd), dY the 2×2 block of dy [N, 2·Th, 2·Tw, Co]
 * the tile produced, k = 4a + b, planes and tiles laid out as winogradInput lays out V. The transpose
 * of winogradOutput: the gradient that reaches the 16 products of a tile. Needs Co % 4 = 0.
 */
export function winogradOutputGradientProgram(): FunctionWriter {
  const f = new FunctionWriter(9, 7 + 16 + 4, 4 + 8);
  const { dy, dm, Tw, Co, planeBytes, r0, rStart, rEnd } = f.names(
    ['dy', 'dm', 'Th', 'Tw', 'Co', 'planeBytes', 'r0', 'rStart', 'rEnd'], 0);
  const { r, j, src, dst, srcEnd, rowBytes, pixelBytes } = f.names(
    ['r', 'j', 'src', 'dst', 'srcEnd', 'rowBytes', 'pixelBytes'], f.i32Local(0));
  const plane = Array.from({ length: 16 }, (_, k) => f.i32Local(7 + k));
  const window = Array.from({ length: 4 }, (_, k) => f.i32Local(23 + k)); // a·rowBytes + b·pixelBytes at 2a + b
  const block = Array.from({ length: 4 }, (_, k) => f.v128Local(k)); // dY[a][b] at 2a + b
  const h = Array.from({ length: 8 }, (_, k) => f.v128Local(4 + k)); // (A dY)[a][b] at 2a + b
  const A = [0, 1, 2, 3].map((row) => A_T.map((aRow) => aRow[row]!)); // 4×2

  f.get(Co).i32Const(2).i32Shl().set(pixelBytes);
  f.get(Tw).i32Const(1).i32Shl().get(pixelBytes).i32Mul().set(rowBytes);
  setOffsets(f, plane, planeBytes);
  window.forEach((local, k) => f.get(rowBytes).i32Const(k >> 1).i32Mul().get(pixelBytes).i32Const(k & 1).i32Mul().i32Add().set(local));
  f.block().get(rStart).get(rEnd).i32LtU().i32Eqz().brIf(0);
  f.get(rStart).set(r).loop();
  f.get(r).i32Const(1).i32Shl().get(rowBytes).i32Mul().get(dy).i32Add().set(src); // output row 2r
  f.get(r).get(r0).i32Sub().get(Tw).i32Mul().get(pixelBytes).i32Mul().get(dm).i32Add().set(dst);
  f.i32Const(0).set(j).loop();
  f.get(src).get(pixelBytes).i32Add().set(srcEnd);
  f.loop(); // four channels at a time
  for (let k = 0; k < 4; k++) emitAddress(f, src, window[k]!, k), f.v128Load().set(block[k]!);
  for (let b = 0; b < 2; b++) {
    for (let a = 0; a < 4; a++) emitCombination(f, A[a]!, [block[b]!, block[2 + b]!]), f.set(h[2 * a + b]!);
  }
  storePlanes(f, dst, plane, (a, b) => emitCombination(f, A[b]!, [h[2 * a]!, h[2 * a + 1]!]));
  closeTileLoops(f, { src, dst, srcEnd, pixelBytes, j, Tw, r, rEnd });
  return f;
}

/**
 * `winogradFilterGradient(du, dw, Ci, Co, planeBytes, ciStart, ciEnd)`: dw[kh, kw, ci, co] =
 * (Gᵀ dU G)[kh, kw], dU[k, ci, co] (plane k at k·planeBytes after du) the gradient of the transformed
 * filter U = G g Gᵀ summed over all tiles; the transpose of winogradFilter. Writes dw [3, 3, Ci, Co]
 * for input channels [ciStart, ciEnd). Needs Co % 4 = 0.
 */
export function winogradFilterGradientProgram(): FunctionWriter {
  const f = new FunctionWriter(7, 5 + 16, 4 + 12);
  const { du, dw, Ci, Co, planeBytes, ciStart, ciEnd } = f.names(['du', 'dw', 'Ci', 'Co', 'planeBytes', 'ciStart', 'ciEnd'], 0);
  const { ci, co, src, dst, tapBytes } = f.names(['ci', 'co', 'src', 'dst', 'tapBytes'], f.i32Local(0));
  const plane = Array.from({ length: 16 }, (_, k) => f.i32Local(5 + k));
  const column = Array.from({ length: 4 }, (_, k) => f.v128Local(k)); // dU[0..3][b] of one column
  const h = Array.from({ length: 12 }, (_, k) => f.v128Local(4 + k)); // (Gᵀ dU)[kh][b] at 4·kh + b
  const G_T = [0, 1, 2].map((kh) => G.map((gRow) => gRow[kh]!)); // 3×4

  f.get(Ci).get(Co).i32Mul().i32Const(2).i32Shl().set(tapBytes);
  setOffsets(f, plane, planeBytes);
  f.block().get(ciStart).get(ciEnd).i32LtU().i32Eqz().brIf(0);
  f.get(ciStart).set(ci).loop();
  f.i32Const(0).set(co).loop();
  f.get(ci).get(Co).i32Mul().get(co).i32Add().i32Const(2).i32Shl().tee(src).get(dw).i32Add().set(dst);
  f.get(src).get(du).i32Add().set(src);
  for (let b = 0; b < 4; b++) {
    for (let a = 0; a < 4; a++) emitAddress(f, src, plane[4 * a + b]!, 4 * a + b), f.v128Load().set(column[a]!);
    for (let kh = 0; kh < 3; kh++) emitCombination(f, G_T[kh]!, column), f.set(h[4 * kh + b]!);
  }
  for (let kh = 0; kh < 3; kh++) {
    for (let kw = 0; kw < 3; kw++) {
      f.get(dst).get(tapBytes).i32Const(3 * kh + kw).i32Mul().i32Add();
      emitCombination(f, G_T[kw]!, [0, 1, 2, 3].map((b) => h[4 * kh + b]!));
      f.v128Store();
    }
  }
  f.get(co).i32Const(4).i32Add().tee(co).get(Co).i32LtU().brIf(0).end();
  f.get(ci).i32Const(1).i32Add().tee(ci).get(ciEnd).i32LtU().brIf(0).end();
  f.end();
  return f;
}
