/**
 * The memory-bound kernels of memory-kernels.ts as wasm SIMD programs over tfjs's heap, four floats a
 * vector, computing the same bits as their JS loops (which stay as the fallback):
 * - `columnSums`: the bias gradients' sums over leading axes. Each column is summed in row order in
 *   float64 (f64x2 lanes, each float promoted exactly), then rounded to float32 once, as the JS loop
 *   does with float64 locals; 16 columns (one 64-byte cache line) per pass over the rows.
 * - `maxPoolGrad2x2`: a 2×2, stride-2 max pool's gradient; each window's gradient goes to its first
 *   maximum in row-major order, found with the JS loop's strict comparisons (NaN never wins, a
 *   window of −∞ and NaN passes nothing), as masks.
 * - `copyRows`: concat and split along the last axes, rows of a multiple of 16 bytes.
 * - `rotateSwap`: the input gradient's filter, W rotated 180° with in/out swapped (kernel-geometry.ts
 *   rotatedSwappedFilter), by 4×4 block transposes in registers.
 * - `relu`: max(x, 0) with f32x4.max, which keeps a NaN a NaN whatever its sign bit. (Stock wasm's
 *   Relu turns a NaN with the sign bit set into 0, so whether a NaN reached the loss depended on
 *   which operation made it.)
 * - `reluGradient`: dy·step(y) (kernel-names.ts RELU_GRADIENT_KERNEL), as tf's Step and Multiply
 *   compute it: step(y) = 1 for y > 0, NaN for NaN, else 0, then one IEEE multiply (so dy·0 keeps
 *   dy's sign, ±∞·0 is NaN).
 * Measured at 128², batch 4 (BENCHMARKS.md): the JS loops took 41 ms of a 283 ms step.
 * Pointers are byte addresses; sizes in elements unless named bytes.
 */
import { FunctionWriter } from './module-writer.js';

/** Columns summed per pass over the rows: one cache line of floats. */
const SUM_BLOCK = 16;
/** i8x16.shuffle lanes: the high two floats of a vector moved to its low half. */
const HIGH_TO_LOW = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
/** i8x16.shuffle lanes: the low two floats of a, then the low two of b. */
const LOW_HALVES = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/**
 * `columnSums(src, dst, outer, inner, cStart, cEnd)`: dst[c] = Σ_o src[o·inner + c] for columns
 * [cStart, cEnd), src viewed as [outer, inner]. Needs inner, cStart and cEnd multiples of 4 (threads
 * may take disjoint column ranges). Blocks of 16 columns, then of 4.
 */
export function columnSumsProgram(): FunctionWriter {
  const f = new FunctionWriter(6, 4, SUM_BLOCK / 4 + SUM_BLOCK / 2);
  const { src, dst, outer, inner, cStart, cEnd } = f.names(['src', 'dst', 'outer', 'inner', 'cStart', 'cEnd'], 0);
  const { c, at, o, rowBytes } = f.names(['c', 'at', 'o', 'rowBytes'], f.i32Local(0));
  const vec = Array.from({ length: SUM_BLOCK / 4 }, (_, k) => f.v128Local(k));
  const acc = Array.from({ length: SUM_BLOCK / 2 }, (_, k) => f.v128Local(SUM_BLOCK / 4 + k)); // f64x2: columns 2k, 2k + 1

  f.get(inner).i32Const(2).i32Shl().set(rowBytes);
  f.get(cStart).set(c);
  // One pass over the rows summing `vectors` vectors of columns from c on, then c advances past them.
  const pass = (vectors: number) => {
    for (let k = 0; k < 2 * vectors; k++) f.v128Zero().set(acc[k]!);
    f.get(c).i32Const(2).i32Shl().get(src).i32Add().set(at);
    f.i32Const(0).set(o);
    f.block().get(outer).i32Eqz().brIf(0).loop();
    for (let k = 0; k < vectors; k++) {
      f.get(at).v128Load(16 * k).set(vec[k]!);
      f.get(acc[2 * k]!).get(vec[k]!).f64x2PromoteLow().f64x2Add().set(acc[2 * k]!);
      f.get(acc[2 * k + 1]!).get(vec[k]!).get(vec[k]!).i8x16Shuffle(HIGH_TO_LOW).f64x2PromoteLow().f64x2Add().set(acc[2 * k + 1]!);
    }
    f.get(at).get(rowBytes).i32Add().set(at);
    f.get(o).i32Const(1).i32Add().tee(o).get(outer).i32LtU().brIf(0).end().end();
    for (let k = 0; k < vectors; k++) {
      f.get(c).i32Const(2).i32Shl().get(dst).i32Add();
      f.get(acc[2 * k]!).f32x4DemoteZero().get(acc[2 * k + 1]!).f32x4DemoteZero().i8x16Shuffle(LOW_HALVES);
      f.v128Store(16 * k);
    }
    f.get(c).i32Const(4 * vectors).i32Add().set(c);
  };
  // Whole blocks of 16 columns while they fit, then 4 at a time.
  f.block().loop();
  f.get(c).i32Const(SUM_BLOCK).i32Add().get(cEnd).i32LeU().i32Eqz().brIf(1);
  pass(SUM_BLOCK / 4);
  f.br(0).end().end();
  f.block().loop();
  f.get(c).get(cEnd).i32LtU().i32Eqz().brIf(1);
  pass(1);
  f.br(0).end().end();
  return f;
}

/**
 * `maxPoolGrad2x2(x, g, dx, rows, Wo, C)`: dx of a 2×2, stride-2 max pool whose windows tile x
 * [N, 2·Ho, 2·Wo, C] (rows = N·Ho), g [N, Ho, Wo, C] the output gradient: per window and channel,
 * g goes to the first maximum of (x00, x01, x10, x11) by strict >, starting from −∞, and +0 to the
 * others. Needs C % 4 = 0.
 */
export function maxPoolGrad2x2Program(): FunctionWriter {
  const f = new FunctionWriter(6, 7, 5 + 5);
  const { x, g, dx, rows, Wo, C } = f.names(['x', 'g', 'dx', 'rows', 'Wo', 'C'], 0);
  const { r, w, at, end, pixelBytes, rowBytes, toDx } = f.names(['r', 'w', 'at', 'end', 'pixelBytes', 'rowBytes', 'toDx'], f.i32Local(0));
  const [v00, v01, v10, v11, grad] = [0, 1, 2, 3, 4].map((k) => f.v128Local(k));
  const [c00, c01, c10, c11, best] = [5, 6, 7, 8, 9].map((k) => f.v128Local(k));

  f.get(C).i32Const(2).i32Shl().set(pixelBytes);
  f.get(Wo).i32Const(1).i32Shl().get(pixelBytes).i32Mul().set(rowBytes); // one input row
  f.get(dx).get(x).i32Sub().set(toDx);
  f.get(x).set(at);
  f.block().get(rows).i32Eqz().brIf(0);
  f.i32Const(0).set(r).loop();
  f.i32Const(0).set(w).loop();
  f.get(at).get(pixelBytes).i32Add().set(end);
  f.loop(); // four channels of one window
  f.get(at).v128Load().set(v00);
  f.get(at).get(pixelBytes).i32Add().v128Load().set(v01);
  f.get(at).get(rowBytes).i32Add().v128Load().set(v10);
  f.get(at).get(rowBytes).i32Add().get(pixelBytes).i32Add().v128Load().set(v11);
  f.get(g).v128Load().set(grad);
  f.get(v00).f32x4Const(-Infinity).f32x4Gt().set(c00);
  f.get(v00).f32x4Const(-Infinity).get(c00).v128Bitselect().set(best);
  f.get(v01).get(best).f32x4Gt().set(c01);
  f.get(v01).get(best).get(c01).v128Bitselect().set(best);
  f.get(v10).get(best).f32x4Gt().set(c10);
  f.get(v10).get(best).get(c10).v128Bitselect().set(best);
  f.get(v11).get(best).f32x4Gt().set(c11);
  // The last comparison that succeeded names the first maximum: x11 if c11, else x10 if c10, …
  f.get(at).get(toDx).i32Add().get(grad).get(c00).get(c01).v128AndNot().get(c10).v128AndNot().get(c11).v128AndNot().v128And().v128Store();
  f.get(at).get(toDx).i32Add().get(pixelBytes).i32Add().get(grad).get(c01).get(c10).v128AndNot().get(c11).v128AndNot().v128And().v128Store();
  f.get(at).get(toDx).i32Add().get(rowBytes).i32Add().get(grad).get(c10).get(c11).v128AndNot().v128And().v128Store();
  f.get(at).get(toDx).i32Add().get(rowBytes).i32Add().get(pixelBytes).i32Add().get(grad).get(c11).v128And().v128Store();
  f.get(g).i32Const(16).i32Add().set(g);
  f.get(at).i32Const(16).i32Add().tee(at).get(end).i32Ne().brIf(0).end();
  f.get(at).get(pixelBytes).i32Add().set(at); // the next window starts two pixels on
  f.get(w).i32Const(1).i32Add().tee(w).get(Wo).i32LtU().brIf(0).end();
  f.get(at).get(rowBytes).i32Add().set(at); // and the next row of windows two rows down
  f.get(r).i32Const(1).i32Add().tee(r).get(rows).i32LtU().brIf(0).end();
  f.end();
  return f;
}

/**
 * `copyRows(src, srcStrideBytes, dst, dstStrideBytes, rows, rowBytes)`: rows of rowBytes bytes from
 * src to dst, each advancing by its stride. Needs rowBytes % 16 = 0 and rowBytes > 0.
 */
export function copyRowsProgram(): FunctionWriter {
  const f = new FunctionWriter(6, 2, 0);
  const { src, srcStride, dst, dstStride, rows, rowBytes } = f.names(['src', 'srcStride', 'dst', 'dstStride', 'rows', 'rowBytes'], 0);
  const { r, k } = f.names(['r', 'k'], f.i32Local(0));
  f.block().get(rows).i32Eqz().brIf(0);
  f.i32Const(0).set(r).loop();
  f.i32Const(0).set(k).loop();
  f.get(dst).get(k).i32Add().get(src).get(k).i32Add().v128Load().v128Store();
  f.get(k).i32Const(16).i32Add().tee(k).get(rowBytes).i32Ne().brIf(0).end();
  f.get(src).get(srcStride).i32Add().set(src);
  f.get(dst).get(dstStride).i32Add().set(dst);
  f.get(r).i32Const(1).i32Add().tee(r).get(rows).i32LtU().brIf(0).end();
  f.end();
  return f;
}

/** `reluGradient(dy, y, out, bytes)`: out = dy · step(y) lane by lane over `bytes` bytes (a multiple of 16). */
export function reluGradientProgram(): FunctionWriter {
  const f = new FunctionWriter(4, 1, 2);
  const { dy, y, out, bytes } = f.names(['dy', 'y', 'out', 'bytes'], 0);
  const { k } = f.names(['k'], f.i32Local(0));
  const [yv, step] = [0, 1].map((i) => f.v128Local(i));
  f.block().get(bytes).i32Eqz().brIf(0);
  f.i32Const(0).set(k).loop();
  f.get(y).get(k).i32Add().v128Load().set(yv);
  // step = y where y is NaN, else 1.0 where y > 0, else +0.
  f.get(yv).f32x4Const(1).get(yv).v128Zero().f32x4Gt().v128And().get(yv).get(yv).f32x4Ne().v128Bitselect().set(step);
  f.get(out).get(k).i32Add().get(dy).get(k).i32Add().v128Load().get(step).f32x4Mul().v128Store();
  f.get(k).i32Const(16).i32Add().tee(k).get(bytes).i32Ne().brIf(0).end();
  f.end();
  return f;
}

/** `relu(x, out, bytes)`: out = max(x, +0) lane by lane over `bytes` bytes (a multiple of 16); NaN stays NaN. */
export function reluProgram(): FunctionWriter {
  const f = new FunctionWriter(3, 1, 0);
  const { x, out, bytes } = f.names(['x', 'out', 'bytes'], 0);
  const { k } = f.names(['k'], f.i32Local(0));
  f.block().get(bytes).i32Eqz().brIf(0);
  f.i32Const(0).set(k).loop();
  f.get(out).get(k).i32Add().get(x).get(k).i32Add().v128Load().v128Zero().f32x4Max().v128Store();
  f.get(k).i32Const(16).i32Add().tee(k).get(bytes).i32Ne().brIf(0).end();
  f.end();
  return f;
}

/** i8x16.shuffle lanes picking four 32-bit lanes of (a, b): 0–3 from a, 4–7 from b. */
const lanes32 = (picks: readonly number[]) => picks.flatMap((p) => [4 * p, 4 * p + 1, 4 * p + 2, 4 * p + 3]);

/**
 * `rotateSwap(w, out, taps, Ci, Co)`: out[t, co, ci] = w[taps − 1 − t, ci, co] for w [taps, Ci, Co]
 * (taps: the spatial positions, 9 for 3×3). Needs Ci % 4 = 0 and Co % 4 = 0: each 4×4 block of a
 * plane is loaded as four rows, transposed with eight shuffles and stored as four rows.
 */
export function rotateSwapProgram(): FunctionWriter {
  const f = new FunctionWriter(5, 6, 8);
  const { w, out, taps, Ci, Co } = f.names(['w', 'out', 'taps', 'Ci', 'Co'], 0);
  const { t, ci, co, src, dst, planeBytes } = f.names(['t', 'ci', 'co', 'src', 'dst', 'planeBytes'], f.i32Local(0));
  const row = [0, 1, 2, 3].map((k) => f.v128Local(k));
  const half = [0, 1, 2, 3].map((k) => f.v128Local(4 + k));
  f.get(Ci).get(Co).i32Mul().i32Const(2).i32Shl().set(planeBytes);
  f.block().get(taps).i32Eqz().brIf(0);
  f.i32Const(0).set(t).loop();
  f.i32Const(0).set(ci).loop();
  f.i32Const(0).set(co).loop();
  // src = w + (taps − 1 − t)·plane + (ci·Co + co)·4, dst = out + t·plane + (co·Ci + ci)·4.
  f.get(taps).i32Const(1).i32Sub().get(t).i32Sub().get(planeBytes).i32Mul().get(w).i32Add()
    .get(ci).get(Co).i32Mul().get(co).i32Add().i32Const(2).i32Shl().i32Add().set(src);
  f.get(t).get(planeBytes).i32Mul().get(out).i32Add()
    .get(co).get(Ci).i32Mul().get(ci).i32Add().i32Const(2).i32Shl().i32Add().set(dst);
  for (let k = 0; k < 4; k++) f.get(src).get(Co).i32Const(4 * k).i32Mul().i32Add().v128Load().set(row[k]!);
  // Rows r0…r3 of the block → its columns: pair the rows, then the pairs.
  f.get(row[0]!).get(row[1]!).i8x16Shuffle(lanes32([0, 4, 1, 5])).set(half[0]!);
  f.get(row[0]!).get(row[1]!).i8x16Shuffle(lanes32([2, 6, 3, 7])).set(half[1]!);
  f.get(row[2]!).get(row[3]!).i8x16Shuffle(lanes32([0, 4, 1, 5])).set(half[2]!);
  f.get(row[2]!).get(row[3]!).i8x16Shuffle(lanes32([2, 6, 3, 7])).set(half[3]!);
  const columns: Array<[number, number, number[]]> = [[0, 2, [0, 1, 4, 5]], [0, 2, [2, 3, 6, 7]], [1, 3, [0, 1, 4, 5]], [1, 3, [2, 3, 6, 7]]];
  columns.forEach(([a, b, picks], k) => {
    f.get(dst).get(Ci).i32Const(4 * k).i32Mul().i32Add();
    f.get(half[a]!).get(half[b]!).i8x16Shuffle(lanes32(picks)).v128Store();
  });
  f.get(co).i32Const(4).i32Add().tee(co).get(Co).i32LtU().brIf(0).end();
  f.get(ci).i32Const(4).i32Add().tee(ci).get(Ci).i32LtU().brIf(0).end();
  f.get(t).i32Const(1).i32Add().tee(t).get(taps).i32LtU().brIf(0).end();
  f.end();
  return f;
}
