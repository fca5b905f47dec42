/**
 * The transforms of a Winograd F(m×m, 3×3) convolution (Lavin & Gray 2016, "Fast Algorithms for
 * Convolutional Neural Networks", arXiv:1509.09308), as wasm SIMD programs over NHWC float32 tensors
 * in tfjs's heap, four channels per vector:
 *   Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A  per m×m output tile, d its n×n input window (n = m + 2), g a
 *   3×3 filter; for F(2×2, 3×3)
 *   Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],  G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
 *   Aᵀ = [1 1 1 0; 0 1 −1 −1]  (F(4×4, 3×3): F4x4 below).
 * Summed over input channels, the ⊙ becomes n² independent products M_k = V_k · U_k of a [tiles, Ci]
 * and a [Ci, Co] matrix (k = n·a + b, the position in the n×n window), which simd-winograd.ts runs on
 * the forward conv program as 1×1 convolutions. Why: F(2×2) does 16 multiply-adds per 2×2 outputs
 * and input channel instead of 36 (2.25× fewer), F(4×4) 36 per 4×4 outputs instead of 144 (4×), for
 * transforms that only add, subtract and scale by constants. The transforms are exact up to float
 * rounding; F(2×2, 3×3) stays within a few ulps of direct convolution (the paper's Table 2 rows for
 * fp32), F(4×4, 3×3)'s coefficients (up to 8 and 1/24) cost about ten times that.
 *
 * Tiles are numbered row-major over (image, tile row, tile column); a "tile row" r = n·Th + i
 * covers output rows m·i … m·i + m − 1 of image n. The programs take a range of tile rows, so the
 * caller can stream a tensor through in chunks that stay in cache and split a chunk over threads.
 * Pointers are byte addresses; sizes in elements. Each program takes the tile it is written for.
 */
import { FunctionWriter } from './module-writer.js';

/**
 * One Winograd algorithm F(m×m, 3×3): m×m outputs per tile from an n×n input window (n = m + 2), n²
 * products per tile and channel pair. F(2×2): Bᵀ, G, Aᵀ as above. F(4×4, 3×3) (the paper's eq. 9,
 * points 0, ±1, ±2): 36 products per 16 outputs, 2.25 per output against F(2×2)'s 4 and direct's 9;
 * its larger coefficients cost accuracy (measured in test/backend-wasm-winograd.test.ts).
 */
export interface WinogradTile {
  /** Outputs per tile side. */
  m: 2 | 4;
  /** Input window side, m + 2. */
  n: number;
  /** Bᵀ (n×n, applied to a column of n input values). */
  BT: readonly (readonly number[])[];
  /** G (n×3, applied to a column of three filter taps). */
  G: readonly (readonly number[])[];
  /** Aᵀ (m×n, applied to a column of n products). */
  AT: readonly (readonly number[])[];
}

export const F2x2: WinogradTile = {
  m: 2,
  n: 4,
  BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
  G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
  AT: [[1, 1, 1, 0], [0, 1, -1, -1]],
};

export const F4x4: WinogradTile = {
  m: 4,
  n: 6,
  BT: [
    [4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1],
  ],
  G: [
    [1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1],
  ],
  AT: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
};

const range = (k: number) => Array.from({ length: k }, (_, i) => i);
/** The transpose of a matrix given by rows. */
const transpose = (rows: readonly (readonly number[])[]) => rows[0]!.map((_, j) => rows.map((row) => row[j]!));

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
 * `winogradFilter(w, u, Ci, Co, ciStart, ciEnd)`: U[k, ci, co] = (G g Gᵀ)[a, b] for k = n·a + b, g the
 * 3×3 taps w[·, ·, ci, co] of w [3, 3, Ci, Co]; u is [n², Ci, Co]. Input channels [ciStart, ciEnd)
 * (threads take disjoint ranges). Needs Co % 4 = 0.
 */
export function winogradFilterProgram(tile: WinogradTile = F2x2): FunctionWriter {
  const { n, G } = tile;
  const f = new FunctionWriter(7, 5, 9 + 3 * n);
  const { w, u, Ci, Co, uPlaneBytes, ciStart, ciEnd } = f.names(['w', 'u', 'Ci', 'Co', 'uPlaneBytes', 'ciStart', 'ciEnd'], 0);
  const { ci, co, src, dst, planeBytes } = f.names(['ci', 'co', 'src', 'dst', 'planeBytes'], f.i32Local(0));
  const tap = range(9).map((k) => f.v128Local(k)); // g[kh][kw] at 3·kh + kw
  const half = range(3 * n).map((k) => f.v128Local(9 + k)); // (G g)[a][kw] at 3·a + kw

  // A tap plane of w is Ci·Co floats; u's position planes are uPlaneBytes apart (≥ Ci·Co floats).
  f.get(Ci).get(Co).i32Mul().i32Const(2).i32Shl().set(planeBytes);
  f.block().get(ciStart).get(ciEnd).i32LtU().i32Eqz().brIf(0);
  f.get(ciStart).set(ci).loop();
  f.i32Const(0).set(co).loop();
  // src = w + (ci·Co + co)·4, dst = u + (ci·Co + co)·4: the same offset within a plane.
  f.get(ci).get(Co).i32Mul().get(co).i32Add().i32Const(2).i32Shl().tee(src).get(u).i32Add().set(dst);
  f.get(src).get(w).i32Add().set(src);
  for (let k = 0; k < 9; k++) f.get(src).get(planeBytes).i32Const(k).i32Mul().i32Add().v128Load().set(tap[k]!);
  for (let kw = 0; kw < 3; kw++) {
    for (let a = 0; a < n; a++) {
      emitCombination(f, G[a]!, [0, 1, 2].map((kh) => tap[3 * kh + kw]!));
      f.set(half[3 * a + kw]!);
    }
  }
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      f.get(dst).get(uPlaneBytes).i32Const(n * a + b).i32Mul().i32Add();
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
 * i32 locals set to k·step for k = 0, 1, … (the byte offsets of the planes of V or M), or, with
 * `rowStep` and `side`, to a·rowStep + b·step for k = side·a + b (a side×side window of pixels).
 */
function setOffsets(f: FunctionWriter, locals: readonly number[], step: number, rowStep?: number, side = 1): void {
  locals.forEach((local, k) => {
    if (rowStep === undefined) f.get(step).i32Const(k).i32Mul().set(local);
    else f.get(rowStep).i32Const(Math.floor(k / side)).i32Mul().get(step).i32Const(k % side).i32Mul().i32Add().set(local);
  });
}

/** Pushes `pointer` + the offset in i32 local `offset` (offset 0 of k = 0 needs no add). */
function emitAddress(f: FunctionWriter, pointer: number, offset: number, k: number): void {
  f.get(pointer);
  if (k > 0) f.get(offset).i32Add();
}

/** Stores the n² values of a tile, value(a, b) pushed by `emitValue`, at dst + plane offset k = n·a + b. */
function storePlanes(f: FunctionWriter, n: number, dst: number, plane: readonly number[], emitValue: (a: number, b: number) => void): void {
  for (let a = 0; a < n; a++) {
    for (let b = 0; b < n; b++) {
      emitAddress(f, dst, plane[n * a + b]!, n * a + b);
      emitValue(a, b);
      f.v128Store();
    }
  }
}

/**
 * Closes the loops of a program that reads one tile's pixels at src (four channels a step, up to
 * srcEnd) and writes its planes at dst: both advance a vector, the next tile starts m pixels on,
 * then the tile-column (j < Tw) and tile-row (r < rEnd) loops and the range guard end.
 */
function closeTileLoops(f: FunctionWriter, m: number, l: Record<'src' | 'dst' | 'srcEnd' | 'pixelBytes' | 'j' | 'Tw' | 'r' | 'rEnd', number>): void {
  f.get(l.dst).i32Const(16).i32Add().set(l.dst);
  f.get(l.src).i32Const(16).i32Add().tee(l.src).get(l.srcEnd).i32Ne().brIf(0).end();
  f.get(l.src).get(l.pixelBytes);
  if (m > 2) f.i32Const(m - 1).i32Mul();
  f.i32Add().set(l.src);
  f.get(l.j).i32Const(1).i32Add().tee(l.j).get(l.Tw).i32LtU().brIf(0).end();
  f.get(l.r).i32Const(1).i32Add().tee(l.r).get(l.rEnd).i32LtU().brIf(0).end();
  f.end();
}

/**
 * `winogradInput(xp, v, Th, Tw, Hp, Wp, Ci, planeBytes, r0, rStart, rEnd)`: V[k, t, c] =
 * (Bᵀ d B)[a, b] for the tiles of tile rows [rStart, rEnd), d the n×n window of the padded input
 * xp [N, Hp, Wp, Ci] at rows m·i…m·i+n−1, columns m·j…m·j+n−1 of image n (r = n·Th + i). v holds
 * the tile rows from r0 on: tile (r, j) is t = (r − r0)·Tw + j, and position k = n·a + b's plane
 * starts k·planeBytes after v. Needs Ci % 4 = 0 and Hp = m·Th + 2, Wp ≥ m·Tw + 2. Addresses advance
 * by increments; the 2n² offsets are set once, so the inner loop is loads, adds and stores.
 */
export function winogradInputProgram(tile: WinogradTile = F2x2): FunctionWriter {
  const { m, n, BT } = tile;
  const positions = n * n;
  const f = new FunctionWriter(11, 6 + 2 * positions, n + positions);
  const { xp, v, Th, Tw, Wp, Ci, planeBytes, r0, rStart, rEnd } = f.names(
    ['xp', 'v', 'Th', 'Tw', 'Hp', 'Wp', 'Ci', 'planeBytes', 'r0', 'rStart', 'rEnd'], 0);
  const { r, j, src, dst, srcEnd, pixelBytes } = f.names(['r', 'j', 'src', 'dst', 'srcEnd', 'pixelBytes'], f.i32Local(0));
  const window = range(positions).map((k) => f.i32Local(6 + k));
  const plane = range(positions).map((k) => f.i32Local(6 + positions + k));
  const column = range(n).map((k) => f.v128Local(k)); // d[0..n−1][b] of one column
  const t = range(positions).map((k) => f.v128Local(n + k)); // (Bᵀ d)[a][b] at n·a + b

  f.get(Ci).i32Const(2).i32Shl().set(pixelBytes);
  f.get(Wp).get(pixelBytes).i32Mul().set(srcEnd); // one padded row, for the window offsets
  setOffsets(f, window, pixelBytes, srcEnd, n);
  setOffsets(f, plane, planeBytes);
  f.block().get(rStart).get(rEnd).i32LtU().i32Eqz().brIf(0);
  f.get(rStart).set(r).loop();
  // The tile row's first window: padded row n·Hp + m·i = m·r + 2·n (Hp = m·Th + 2), column 0.
  if (m === 2) f.get(r).get(r).get(Th).i32DivU().i32Add().i32Const(1).i32Shl();
  else f.get(r).i32Const(m).i32Mul().get(r).get(Th).i32DivU().i32Const(1).i32Shl().i32Add();
  f.get(Wp).i32Mul().get(pixelBytes).i32Mul().get(xp).i32Add().set(src);
  f.get(r).get(r0).i32Sub().get(Tw).i32Mul().get(pixelBytes).i32Mul().get(v).i32Add().set(dst);
  f.i32Const(0).set(j).loop();
  f.get(src).get(pixelBytes).i32Add().set(srcEnd);
  f.loop(); // four channels at a time
  for (let b = 0; b < n; b++) {
    for (let a = 0; a < n; a++) emitAddress(f, src, window[n * a + b]!, n * a + b), f.v128Load().set(column[a]!);
    for (let a = 0; a < n; a++) emitCombination(f, BT[a]!, column), f.set(t[n * a + b]!);
  }
  storePlanes(f, n, dst, plane, (a, b) => emitCombination(f, BT[b]!, range(n).map((q) => t[n * a + q]!)));
  closeTileLoops(f, m, { src, dst, srcEnd, pixelBytes, j, Tw, r, rEnd });
  return f;
}

/**
 * `winogradOutput(m, bias, y, Th, Tw, Co, planeBytes, relu, r0, rStart, rEnd)`: the m×m outputs
 * y[n, m·i + a, m·j + b, co] = act(bias[co] + (Aᵀ M A)[a, b]) of the tiles of tile rows [rStart, rEnd),
 * M[k, t, co] read as winogradInput writes V (t = (r − r0)·Tw + j, plane k at k·planeBytes), y
 * [N, m·Th, m·Tw, Co]. bias = 0 means none; relu ≠ 0 applies max(·, 0), otherwise max(·, −∞) keeps
 * every value (NaN included), as the direct program does. Needs Co % 4 = 0.
 */
export function winogradOutputProgram(tile: WinogradTile = F2x2): FunctionWriter {
  const { m: side, n, AT } = tile;
  const positions = n * n;
  const f = new FunctionWriter(11, 8 + positions + side * side, n + side * n + 2);
  const { m, bias, y, Tw, Co, planeBytes, relu, r0, rStart, rEnd } = f.names(
    ['m', 'bias', 'y', 'Th', 'Tw', 'Co', 'planeBytes', 'relu', 'r0', 'rStart', 'rEnd'], 0);
  const { r, j, src, dst, dstEnd, biasAt, rowBytes, pixelBytes } = f.names(
    ['r', 'j', 'src', 'dst', 'dstEnd', 'biasAt', 'rowBytes', 'pixelBytes'], f.i32Local(0));
  const plane = range(positions).map((k) => f.i32Local(8 + k));
  const out = range(side * side).map((k) => f.i32Local(8 + positions + k)); // a·rowBytes + b·pixelBytes at side·a + b
  const column = range(n).map((k) => f.v128Local(k)); // M[0..n−1][b] of one column
  const s = range(side * n).map((k) => f.v128Local(n + k)); // (Aᵀ M)[a][b] at n·a + b
  const biasVec = f.v128Local(n + side * n);
  const lower = f.v128Local(n + side * n + 1);

  f.get(Co).i32Const(2).i32Shl().set(pixelBytes);
  f.get(Tw).i32Const(side).i32Mul().get(pixelBytes).i32Mul().set(rowBytes); // one output row: m·Tw pixels
  setOffsets(f, plane, planeBytes);
  setOffsets(f, out, pixelBytes, rowBytes, side);
  f.get(relu).if().v128Zero().set(lower).else().f32x4Const(-Infinity).set(lower).end();
  f.v128Zero().set(biasVec);
  f.block().get(rStart).get(rEnd).i32LtU().i32Eqz().brIf(0);
  f.get(rStart).set(r).loop();
  // The tile row's outputs start at output row n·m·Th + m·i = m·r.
  f.get(r).get(r0).i32Sub().get(Tw).i32Mul().get(pixelBytes).i32Mul().get(m).i32Add().set(src);
  f.get(r).i32Const(side).i32Mul().get(rowBytes).i32Mul().get(y).i32Add().set(dst);
  f.i32Const(0).set(j).loop();
  f.get(bias).set(biasAt);
  f.get(dst).get(pixelBytes).i32Add().set(dstEnd);
  f.loop(); // four channels at a time; biasAt walks the bias (or stays 0: none)
  f.get(biasAt).if().get(biasAt).v128Load().set(biasVec).get(biasAt).i32Const(16).i32Add().set(biasAt).end();
  for (let b = 0; b < n; b++) {
    for (let a = 0; a < n; a++) emitAddress(f, src, plane[n * a + b]!, n * a + b), f.v128Load().set(column[a]!);
    for (let a = 0; a < side; a++) emitCombination(f, AT[a]!, column), f.set(s[n * a + b]!);
  }
  for (let a = 0; a < side; a++) {
    for (let b = 0; b < side; b++) {
      emitAddress(f, dst, out[side * a + b]!, side * a + b);
      f.get(biasVec);
      emitCombination(f, AT[b]!, range(n).map((q) => s[n * a + q]!));
      f.f32x4Add().get(lower).f32x4Max().v128Store();
    }
  }
  f.get(src).i32Const(16).i32Add().set(src);
  f.get(dst).i32Const(16).i32Add().tee(dst).get(dstEnd).i32Ne().brIf(0).end();
  f.get(dst).get(pixelBytes); // the next tile starts m pixels on
  if (side > 2) f.i32Const(side - 1).i32Mul();
  f.i32Add().set(dst);
  f.get(j).i32Const(1).i32Add().tee(j).get(Tw).i32LtU().brIf(0).end();
  f.get(r).i32Const(1).i32Add().tee(r).get(rEnd).i32LtU().brIf(0).end();
  f.end();
  return f;
}

/**
 * `winogradOutputGradient(dy, dm, Th, Tw, Co, planeBytes, r0, rStart, rEnd)`: dM[k, t, co] =
 * (A dY Aᵀ)[a, b] for the tiles of tile rows [rStart, rEnd), dY the m×m block of dy [N, m·Th, m·Tw, Co]
 * the tile produced, k = n·a + b, planes and tiles laid out as winogradInput lays out V. The transpose
 * of winogradOutput: the gradient that reaches the n² products of a tile. Needs Co % 4 = 0.
 */
export function winogradOutputGradientProgram(tile: WinogradTile = F2x2): FunctionWriter {
  const { m, n, AT } = tile;
  const positions = n * n;
  const f = new FunctionWriter(9, 7 + positions + m * m, m * m + n * m);
  const { dy, dm, Tw, Co, planeBytes, r0, rStart, rEnd } = f.names(
    ['dy', 'dm', 'Th', 'Tw', 'Co', 'planeBytes', 'r0', 'rStart', 'rEnd'], 0);
  const { r, j, src, dst, srcEnd, rowBytes, pixelBytes } = f.names(
    ['r', 'j', 'src', 'dst', 'srcEnd', 'rowBytes', 'pixelBytes'], f.i32Local(0));
  const plane = range(positions).map((k) => f.i32Local(7 + k));
  const window = range(m * m).map((k) => f.i32Local(7 + positions + k)); // a·rowBytes + b·pixelBytes at m·a + b
  const block = range(m * m).map((k) => f.v128Local(k)); // dY[a][b] at m·a + b
  const h = range(n * m).map((k) => f.v128Local(m * m + k)); // (A dY)[a][b] at m·a + b
  const A = transpose(AT); // n×m

  f.get(Co).i32Const(2).i32Shl().set(pixelBytes);
  f.get(Tw).i32Const(m).i32Mul().get(pixelBytes).i32Mul().set(rowBytes);
  setOffsets(f, plane, planeBytes);
  setOffsets(f, window, pixelBytes, rowBytes, m);
  f.block().get(rStart).get(rEnd).i32LtU().i32Eqz().brIf(0);
  f.get(rStart).set(r).loop();
  f.get(r).i32Const(m).i32Mul().get(rowBytes).i32Mul().get(dy).i32Add().set(src); // output row m·r
  f.get(r).get(r0).i32Sub().get(Tw).i32Mul().get(pixelBytes).i32Mul().get(dm).i32Add().set(dst);
  f.i32Const(0).set(j).loop();
  f.get(src).get(pixelBytes).i32Add().set(srcEnd);
  f.loop(); // four channels at a time
  for (let k = 0; k < m * m; k++) emitAddress(f, src, window[k]!, k), f.v128Load().set(block[k]!);
  for (let b = 0; b < m; b++) {
    for (let a = 0; a < n; a++) emitCombination(f, A[a]!, range(m).map((q) => block[m * q + b]!)), f.set(h[m * a + b]!);
  }
  storePlanes(f, n, dst, plane, (a, b) => emitCombination(f, A[b]!, range(m).map((q) => h[m * a + q]!)));
  closeTileLoops(f, m, { src, dst, srcEnd, pixelBytes, j, Tw, r, rEnd });
  return f;
}

/**
 * `winogradFilterGradient(du, dw, Ci, Co, planeBytes, ciStart, ciEnd)`: dw[kh, kw, ci, co] =
 * (Gᵀ dU G)[kh, kw], dU[k, ci, co] (plane k at k·planeBytes after du) the gradient of the transformed
 * filter U = G g Gᵀ summed over all tiles; the transpose of winogradFilter. Writes dw [3, 3, Ci, Co]
 * for input channels [ciStart, ciEnd). Needs Co % 4 = 0.
 */
export function winogradFilterGradientProgram(tile: WinogradTile = F2x2): FunctionWriter {
  const { n, G } = tile;
  const positions = n * n;
  const f = new FunctionWriter(7, 5 + positions, n + 3 * n);
  const { du, dw, Ci, Co, planeBytes, ciStart, ciEnd } = f.names(['du', 'dw', 'Ci', 'Co', 'planeBytes', 'ciStart', 'ciEnd'], 0);
  const { ci, co, src, dst, tapBytes } = f.names(['ci', 'co', 'src', 'dst', 'tapBytes'], f.i32Local(0));
  const plane = range(positions).map((k) => f.i32Local(5 + k));
  const column = range(n).map((k) => f.v128Local(k)); // dU[0..n−1][b] of one column
  const h = range(3 * n).map((k) => f.v128Local(n + k)); // (Gᵀ dU)[kh][b] at n·kh + b
  const G_T = transpose(G); // 3×n

  f.get(Ci).get(Co).i32Mul().i32Const(2).i32Shl().set(tapBytes);
  setOffsets(f, plane, planeBytes);
  f.block().get(ciStart).get(ciEnd).i32LtU().i32Eqz().brIf(0);
  f.get(ciStart).set(ci).loop();
  f.i32Const(0).set(co).loop();
  f.get(ci).get(Co).i32Mul().get(co).i32Add().i32Const(2).i32Shl().tee(src).get(dw).i32Add().set(dst);
  f.get(src).get(du).i32Add().set(src);
  for (let b = 0; b < n; b++) {
    for (let a = 0; a < n; a++) emitAddress(f, src, plane[n * a + b]!, n * a + b), f.v128Load().set(column[a]!);
    for (let kh = 0; kh < 3; kh++) emitCombination(f, G_T[kh]!, column), f.set(h[n * kh + b]!);
  }
  for (let kh = 0; kh < 3; kh++) {
    for (let kw = 0; kw < 3; kw++) {
      f.get(dst).get(tapBytes).i32Const(3 * kh + kw).i32Mul().i32Add();
      emitCombination(f, G_T[kw]!, range(n).map((b) => h[n * kh + b]!));
      f.v128Store();
    }
  }
  f.get(co).i32Const(4).i32Add().tee(co).get(Co).i32LtU().brIf(0).end();
  f.get(ci).i32Const(1).i32Add().tee(ci).get(ciEnd).i32LtU().brIf(0).end();
  f.end();
  return f;
}
