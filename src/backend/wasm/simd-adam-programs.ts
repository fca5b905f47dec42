/**
 * Adam's update as a wasm SIMD program (the kernel around it: simd-adam.ts), in the tf-op Adam's
 * operation order (src/train/adam.ts):
 *   m' = m·β1 + g·(1 − β1),  v' = v·β2 + (g·g)·(1 − β2),  x' = x − (m'·s) / (√v' + ε̂).
 * f32x4 mul, add, sub, div and sqrt are IEEE 754 float32 operations, so each lane rounds as a
 * float32 tf kernel does and the bits are the same.
 */
import { FunctionWriter } from './module-writer.js';

/** Floats of the scalar block the program reads: β1, 1 − β1, β2, 1 − β2, s, ε̂. */
export const ADAM_SCALARS = 6;
const SCALARS = ADAM_SCALARS;

/**
 * `adamUpdate(g, m, v, x, xOut, scalars, bytes)`: the update of the first `bytes` / 4 floats (a
 * multiple of 4) of one variable; `scalars` points at the six float32 scalars.
 */
export function adamUpdateProgram(): FunctionWriter {
  const f = new FunctionWriter(7, 1, SCALARS + 3);
  const { g, m, v, x, xOut, scalars, bytes } = f.names(['g', 'm', 'v', 'x', 'xOut', 'scalars', 'bytes'], 0);
  const i = f.i32Local(0);
  const [beta1, oneMinusBeta1, beta2, oneMinusBeta2, stepSize, epsilonHat] = Array.from({ length: SCALARS }, (_, k) => f.v128Local(k));
  const [gi, mi, vi] = [0, 1, 2].map((k) => f.v128Local(SCALARS + k)) as [number, number, number];
  [beta1, oneMinusBeta1, beta2, oneMinusBeta2, stepSize, epsilonHat].forEach((local, k) => f.get(scalars).f32Splat(4 * k).set(local!));
  const at = (base: number) => f.get(base).get(i).i32Add();
  f.block().get(bytes).i32Eqz().brIf(0);
  f.i32Const(0).set(i).loop();
  at(g).v128Load().set(gi);
  // m' = m·β1 + g·(1 − β1), stored in place (the store's address goes on the stack first).
  at(m);
  at(m).v128Load().get(beta1!).f32x4Mul().get(gi).get(oneMinusBeta1!).f32x4Mul().f32x4Add().tee(mi).v128Store();
  // v' = v·β2 + (g·g)·(1 − β2), in place.
  at(v);
  at(v).v128Load().get(beta2!).f32x4Mul().get(gi).get(gi).f32x4Mul().get(oneMinusBeta2!).f32x4Mul().f32x4Add().tee(vi).v128Store();
  // x' = x − (m'·s) / (√v' + ε̂), to xOut.
  at(xOut);
  at(x).v128Load().get(mi).get(stepSize!).f32x4Mul().get(vi).f32x4Sqrt().get(epsilonHat!).f32x4Add().f32x4Div().f32x4Sub().v128Store();
  f.get(i).i32Const(16).i32Add().tee(i).get(bytes).i32LtU().brIf(0).end();
  f.end();
  return f;
}
