/**
 * Hand-written wasm SIMD programs for group normalisation + affine + ReLU over channels-last x
 * viewed as [B, N, C] (N = H·W), float32: two passes each way, over `units` of one image and one
 * chunk of `chunkPixels` pixels (the last chunk of an image may be shorter).
 *
 * - sums (forward): per unit and channel, Σ (x − K) and Σ (x − K)², K the group's shift;
 * - apply (forward): z = max(γ·x̂ + β, 0), x̂ = (x − μ)·inv (NaN stays NaN);
 * - sums (backward): per unit and channel, Σ dy and Σ dy·x̂, dy = dz·[γ·x̂ + β > 0];
 * - apply (backward): dx = (dy·γ − mean_g(dy·γ) − x̂·mean_g(dy·γ·x̂))·inv.
 * The caller combines the per-unit sums into group statistics (simd-group-norm.ts) in float64.
 *
 * Every program has the signature `(x, dz, params, out, C, N, chunkPixels, chunksPerImage,
 * unitStart, unitEnd)`: byte addresses x, dz [B, N, C] (dz unused forward), params [B, PARAM_ROWS, C]
 * (per image and channel: the rows of PARAM, a group's value repeated over its channels), out
 * [units, 2, C] (sums) or [B, N, C] (apply); unit u is image ⌊u / chunksPerImage⌋, chunk
 * u mod chunksPerImage. Units are independent and each is computed the same way whichever thread
 * runs it. Channels go four at a time as one vector while four remain, then one at a time (a
 * float loaded into all lanes, lane 0 stored), so any C works. The γ·x̂ + β that decides the ReLU
 * is the same expression in the forward apply and in both backward programs, so they agree on
 * which outputs were positive.
 */
import { FunctionWriter } from './module-writer.js';

/** Rows of the parameter block, per image: [B, PARAM_ROWS, C]. */
export const PARAM = { mu: 0, invStd: 1, gamma: 2, beta: 3, meanG: 4, meanGXHat: 5, shift: 6 } as const;
export const PARAM_ROWS = 7;

export type GroupNormDirection = 'forward' | 'backward';

const ARGS = ['x', 'dz', 'params', 'out', 'C', 'N', 'chunkPixels', 'chunksPerImage', 'unitStart', 'unitEnd'] as const;
const LOCALS = ['u', 'b', 'count', 'pixelBytes', 'xRow', 'dzRow', 'paramRow', 'outRow', 'c', 'q', 'xp', 'dzp', 'op'] as const;
/** v128 locals: the six parameters, two sets of two accumulators, three temporaries. */
const VECTORS = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5', 'a1', 'a2', 'b1', 'b2', 'xh', 't', 'dy'] as const;

type Names<K extends string> = Record<K, number>;
interface Program {
  f: FunctionWriter;
  a: Names<(typeof ARGS)[number]>;
  l: Names<(typeof LOCALS)[number]>;
  v: Names<(typeof VECTORS)[number]>;
}

/** Lanes one channel step covers: a vector of 4 channels, or 1 channel splatted over the lanes. */
type Lanes = 4 | 1;

function newProgram(): Program {
  const f = new FunctionWriter(ARGS.length, LOCALS.length, VECTORS.length);
  return {
    f,
    a: f.names(ARGS, 0),
    l: f.names(LOCALS, f.i32Local(0)),
    v: f.names(VECTORS, f.v128Local(0)),
  };
}

function load(f: FunctionWriter, lanes: Lanes): FunctionWriter {
  return lanes === 4 ? f.v128Load() : f.f32Splat();
}

function store(f: FunctionWriter, lanes: Lanes): FunctionWriter {
  return lanes === 4 ? f.v128Store() : f.store32Lane(0);
}

/** Pushes the address of parameter row `row` at the current channel: paramRow + row·pixelBytes + c. */
function paramAddress(p: Program, row: number): void {
  const { f, l } = p;
  f.get(l.paramRow).get(l.c).i32Add();
  if (row > 0) f.get(l.pixelBytes).i32Const(row).i32Mul().i32Add();
}

/** Loads parameter rows into vector locals p0, p1, … in the order given. */
function loadParams(p: Program, lanes: Lanes, rows: number[]): void {
  const targets = [p.v.p0, p.v.p1, p.v.p2, p.v.p3, p.v.p4, p.v.p5];
  rows.forEach((row, k) => {
    paramAddress(p, row);
    load(p.f, lanes).set(targets[k]!);
  });
}

/**
 * x̂ = (x − μ)·inv into xh and t = γ·x̂ + β into t, x at xp; parameters in p0 = μ, p1 = inv,
 * p2 = γ, p3 = β. With `dy`, also dy = dz·[t > 0] (dz at dzp) into dy.
 */
function normalized(p: Program, lanes: Lanes, withDy: boolean): void {
  const { f, l, v } = p;
  f.get(l.xp);
  load(f, lanes).get(v.p0).f32x4Sub().get(v.p1).f32x4Mul().tee(v.xh);
  f.get(v.p2).f32x4Mul().get(v.p3).f32x4Add().set(v.t);
  if (withDy) {
    f.get(l.dzp);
    load(f, lanes).get(v.t).v128Zero().f32x4Gt().v128And().set(v.dy);
  }
}

/** Adds one pixel's two terms to accumulators (s1, s2). */
function accumulate(p: Program, lanes: Lanes, direction: GroupNormDirection, s1: number, s2: number): void {
  const { f, l, v } = p;
  if (direction === 'forward') {
    f.get(l.xp);
    load(f, lanes).get(v.p0).f32x4Sub().tee(v.xh);
    f.get(s1).f32x4Add().set(s1);
    f.get(v.xh).get(v.xh).f32x4Mul().get(s2).f32x4Add().set(s2);
  } else {
    normalized(p, lanes, true);
    f.get(v.dy).get(s1).f32x4Add().set(s1);
    f.get(v.dy).get(v.xh).f32x4Mul().get(s2).f32x4Add().set(s2);
  }
}

/** xp, dzp (and op) one pixel on. */
function advance(p: Program, withOut: boolean): void {
  const { f, l } = p;
  f.get(l.xp).get(l.pixelBytes).i32Add().set(l.xp);
  f.get(l.dzp).get(l.pixelBytes).i32Add().set(l.dzp);
  if (withOut) f.get(l.op).get(l.pixelBytes).i32Add().set(l.op);
}

/** `block loop (exit unless q + step ≤ count) body; q += step; br loop end end`. */
function pixelLoop(p: Program, step: number, body: () => void): void {
  const { f, l } = p;
  f.block().loop();
  f.get(l.q).i32Const(step).i32Add().get(l.count).i32LeU().i32Eqz().brIf(1);
  body();
  f.get(l.q).i32Const(step).i32Add().set(l.q).br(0).end().end();
}

/** The sums of one channel step over the unit's pixels: two pixels at a time into two accumulator sets, then the last one. */
function sumsChannel(p: Program, lanes: Lanes, direction: GroupNormDirection): void {
  const { f, l, v } = p;
  loadParams(p, lanes, direction === 'forward' ? [PARAM.shift] : [PARAM.mu, PARAM.invStd, PARAM.gamma, PARAM.beta]);
  for (const acc of [v.a1, v.a2, v.b1, v.b2]) f.v128Zero().set(acc);
  pixelLoop(p, 2, () => {
    accumulate(p, lanes, direction, v.a1, v.a2);
    advance(p, false);
    accumulate(p, lanes, direction, v.b1, v.b2);
    advance(p, false);
  });
  pixelLoop(p, 1, () => {
    accumulate(p, lanes, direction, v.a1, v.a2);
    advance(p, false);
  });
  // out row of the unit: [2, C]; first sums at c, second at C + c.
  f.get(l.outRow).get(l.c).i32Add().get(v.a1).get(v.b1).f32x4Add();
  store(f, lanes);
  f.get(l.outRow).get(l.c).i32Add().get(l.pixelBytes).i32Add().get(v.a2).get(v.b2).f32x4Add();
  store(f, lanes);
}

/** The element-wise output of one channel step over the unit's pixels. */
function applyChannel(p: Program, lanes: Lanes, direction: GroupNormDirection): void {
  const { f, l, v } = p;
  const rows: number[] = [PARAM.mu, PARAM.invStd, PARAM.gamma, PARAM.beta];
  if (direction === 'backward') rows.push(PARAM.meanG, PARAM.meanGXHat);
  loadParams(p, lanes, rows);
  pixelLoop(p, 1, () => {
    f.get(l.op);
    if (direction === 'forward') {
      normalized(p, lanes, false);
      f.get(v.t).v128Zero().f32x4Max();
    } else {
      // (dy·γ − mean(g) − x̂·mean(g·x̂))·inv
      normalized(p, lanes, true);
      f.get(v.dy).get(v.p2).f32x4Mul().get(v.p4).f32x4Sub().get(v.xh).get(v.p5).f32x4Mul().f32x4Sub().get(v.p1).f32x4Mul();
    }
    store(f, lanes);
    advance(p, true);
  });
}

/** The unit loop and channel steps around `channel`, which runs with q = 0 and xp, dzp, op at the unit's first pixel and channel c. */
function unitProgram(channel: (p: Program, lanes: Lanes) => void, sums: boolean): FunctionWriter {
  const p = newProgram();
  const { f, a, l } = p;
  f.get(a.C).i32Const(2).i32Shl().set(l.pixelBytes);
  f.get(a.unitStart).set(l.u);
  f.block().loop();
  f.get(l.u).get(a.unitEnd).i32LtU().i32Eqz().brIf(1);
  // b = u / chunksPerImage; first pixel p0 = (u − b·chunksPerImage)·chunkPixels, kept in count for now.
  f.get(l.u).get(a.chunksPerImage).i32DivU().set(l.b);
  f.get(l.u).get(l.b).get(a.chunksPerImage).i32Mul().i32Sub().get(a.chunkPixels).i32Mul().set(l.count);
  // xRow = x + (b·N + p0)·pixelBytes, dzRow and (apply) outRow likewise; sums: outRow = out + u·2·pixelBytes.
  f.get(l.b).get(a.N).i32Mul().get(l.count).i32Add().get(l.pixelBytes).i32Mul().set(l.xRow);
  if (sums) f.get(a.out).get(l.u).i32Const(1).i32Shl().get(l.pixelBytes).i32Mul().i32Add().set(l.outRow);
  else f.get(a.out).get(l.xRow).i32Add().set(l.outRow);
  f.get(a.dz).get(l.xRow).i32Add().set(l.dzRow);
  f.get(a.x).get(l.xRow).i32Add().set(l.xRow);
  f.get(a.params).get(l.b).i32Const(PARAM_ROWS).i32Mul().get(l.pixelBytes).i32Mul().i32Add().set(l.paramRow);
  // count = min(chunkPixels, N − p0)
  f.get(a.chunkPixels).get(a.N).get(l.count).i32Sub().get(a.chunkPixels).get(a.N).get(l.count).i32Sub().i32LtU().select().set(l.count);
  f.i32Const(0).set(l.c);
  for (const lanes of [4, 1] as const) {
    f.block().loop();
    f.get(l.c).i32Const(4 * lanes).i32Add().get(l.pixelBytes).i32LeU().i32Eqz().brIf(1);
    f.i32Const(0).set(l.q);
    f.get(l.xRow).get(l.c).i32Add().set(l.xp);
    f.get(l.dzRow).get(l.c).i32Add().set(l.dzp);
    f.get(l.outRow).get(l.c).i32Add().set(l.op);
    channel(p, lanes);
    f.get(l.c).i32Const(4 * lanes).i32Add().set(l.c).br(0).end().end();
  }
  f.get(l.u).i32Const(1).i32Add().set(l.u).br(0).end().end();
  return f;
}

/** The statistics pass: per unit [2, C] sums (see the module comment). */
export function groupNormSumsProgram(direction: GroupNormDirection): FunctionWriter {
  return unitProgram((p, lanes) => sumsChannel(p, lanes, direction), true);
}

/** The element-wise pass: z (forward) or dx (backward), [B, N, C]. */
export function groupNormApplyProgram(direction: GroupNormDirection): FunctionWriter {
  return unitProgram((p, lanes) => applyChannel(p, lanes, direction), false);
}
