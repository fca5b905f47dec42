/**
 * A minimal WebAssembly binary writer: enough of the format (i32 and v128 locals, loops, SIMD loads,
 * multiply-adds) to build ctquant's hand-written SIMD kernels at start-up, with no compiler or
 * committed binary. Each kernel is one exported function over a memory imported as `env.memory`
 * (tfjs-backend-wasm's own heap, so tensors are read and written where they are).
 * Format reference: https://webassembly.github.io/spec/core/binary/ (SIMD opcodes from the
 * fixed-width SIMD proposal, now part of the spec; `f32x4.relaxed_madd` from the relaxed SIMD
 * proposal, https://github.com/WebAssembly/relaxed-simd).
 */

/** Unsigned (default) or signed LEB128. */
export function leb128(value: number, signed = false): number[] {
  const out: number[] = [];
  let v = value;
  for (;;) {
    const byte = v & 0x7f;
    v = signed ? v >> 7 : v >>> 7;
    const done = signed ? (v === 0 && !(byte & 0x40)) || (v === -1 && (byte & 0x40) !== 0) : v === 0;
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const vector = (items: number[][]): number[] => [...leb128(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...leb128(body.length), ...body];
const name = (text: string): number[] => {
  const bytes = [...new TextEncoder().encode(text)];
  return [...leb128(bytes.length), ...bytes];
};

const I32 = 0x7f;
const V128 = 0x7b;
const EMPTY_BLOCK = 0x40;
/** memarg alignment exponents: 4 bytes for a float, 16 for a vector. */
const ALIGN_F32 = 2;
const ALIGN_V128 = 4;

/**
 * How a kernel's multiply-adds are encoded:
 * - `exact`: f32x4.mul then f32x4.add, two roundings, the same bits on every machine;
 * - `relaxed`: f32x4.relaxed_madd, which the runtime may lower to a fused multiply-add (one
 *   rounding: on x86 with FMA3 and on arm64, V8 does) or to mul + add. On one machine and runtime
 *   the choice is fixed, so results stay deterministic there; across CPUs they may differ in the
 *   last bits (one rounding fewer per multiply-add: differences of the order of float32 rounding,
 *   the fused result being if anything the more accurate).
 */
export type MultiplyAddKind = 'exact' | 'relaxed';

/**
 * Writes one function body. Locals are numbered: the i32 parameters first, then `i32Locals` i32s,
 * then `v128Locals` vectors (see FunctionWriter.locals). Methods push one instruction each and
 * return `this`, so a body reads as the stack code it is.
 */
export class FunctionWriter {
  readonly code: number[] = [];

  constructor(
    readonly params: number, readonly i32Locals: number, readonly v128Locals: number,
    readonly multiplyAddKind: MultiplyAddKind = 'exact',
  ) {}

  /** Index of the k-th i32 local (after the parameters). */
  i32Local(k: number): number {
    return this.params + k;
  }

  /** Names for i32 locals from `first` on (parameters count as locals 0…params−1). */
  names<K extends string>(keys: readonly K[], first: number): Record<K, number> {
    return Object.fromEntries(keys.map((key, k) => [key, first + k])) as Record<K, number>;
  }

  /** Index of the k-th v128 local. */
  v128Local(k: number): number {
    return this.params + this.i32Locals + k;
  }

  private op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  get(index: number): this { return this.op(0x20, ...leb128(index)); }
  set(index: number): this { return this.op(0x21, ...leb128(index)); }
  tee(index: number): this { return this.op(0x22, ...leb128(index)); }
  i32Const(value: number): this { return this.op(0x41, ...leb128(value, true)); }
  i32Add(): this { return this.op(0x6a); }
  i32Sub(): this { return this.op(0x6b); }
  i32Mul(): this { return this.op(0x6c); }
  i32DivU(): this { return this.op(0x6e); }
  i32Shl(): this { return this.op(0x74); }
  i32Eqz(): this { return this.op(0x45); }
  i32Ne(): this { return this.op(0x47); }
  i32LtU(): this { return this.op(0x49); }
  i32LeU(): this { return this.op(0x4d); }
  /** select: a if cond ≠ 0 else b, for (a, b, cond) on the stack. */
  select(): this { return this.op(0x1b); }
  block(): this { return this.op(0x02, EMPTY_BLOCK); }
  loop(): this { return this.op(0x03, EMPTY_BLOCK); }
  if(): this { return this.op(0x04, EMPTY_BLOCK); }
  else(): this { return this.op(0x05); }
  end(): this { return this.op(0x0b); }
  br(depth: number): this { return this.op(0x0c, ...leb128(depth)); }
  brIf(depth: number): this { return this.op(0x0d, ...leb128(depth)); }

  private simd(opcode: number, ...immediates: number[]): this {
    return this.op(0xfd, ...leb128(opcode), ...immediates);
  }

  /** v128.load at (address on the stack) + offset bytes. */
  v128Load(offset = 0): this { return this.simd(0x00, ALIGN_V128, ...leb128(offset)); }
  /** v128.store of the value on top of the stack at (address below it) + offset bytes. */
  v128Store(offset = 0): this { return this.simd(0x0b, ALIGN_V128, ...leb128(offset)); }
  /** v128.load32_splat: one float from (address) + offset, in all four lanes. */
  f32Splat(offset = 0): this { return this.simd(0x09, ALIGN_F32, ...leb128(offset)); }
  v128Zero(): this { return this.f32x4Const(0); }
  /** v128.const with `value` in all four lanes. */
  f32x4Const(value: number): this {
    const bytes = new DataView(new ArrayBuffer(4));
    bytes.setFloat32(0, value, true);
    const lane = [0, 1, 2, 3].map((k) => bytes.getUint8(k));
    return this.simd(0x0c, ...lane, ...lane, ...lane, ...lane);
  }
  /** v128.store32_lane: lane `lane` of the vector on top of the stack, as one float, at (address below it) + offset bytes. */
  store32Lane(lane: number, offset = 0): this { return this.simd(0x5a, ALIGN_F32, ...leb128(offset), lane); }
  f32x4Neg(): this { return this.simd(0xe1); }
  f32x4Add(): this { return this.simd(0xe4); }
  f32x4Sub(): this { return this.simd(0xe5); }
  f32x4Mul(): this { return this.simd(0xe6); }
  f32x4Div(): this { return this.simd(0xe7); }
  /** Lane-wise square root, correctly rounded (IEEE 754), as Math.sqrt then Math.fround would give. */
  f32x4Sqrt(): this { return this.simd(0xe3); }
  /** Lane-wise a > b as an all-ones / all-zeros mask (false where either is NaN). */
  f32x4Gt(): this { return this.simd(0x44); }
  /** Lane-wise a ≠ b as a mask (true where either is NaN: x ≠ x finds NaN lanes). */
  f32x4Ne(): this { return this.simd(0x42); }
  v128And(): this { return this.simd(0x4e); }
  /** v128.andnot: a & ~b for (a, b) on the stack. */
  v128AndNot(): this { return this.simd(0x4f); }
  /** v128.bitselect: (a & mask) | (b & ~mask) for (a, b, mask) on the stack. */
  v128Bitselect(): this { return this.simd(0x52); }
  /** i8x16.shuffle: bytes of (a, b) on the stack picked by 16 lane indices (0–15 from a, 16–31 from b). */
  i8x16Shuffle(lanes: readonly number[]): this {
    if (lanes.length !== 16 || lanes.some((l) => !(l >= 0 && l < 32))) throw new Error('i8x16Shuffle: 16 lane indices in 0..31');
    return this.simd(0x0d, ...lanes);
  }
  /** f64x2.promote_low_f32x4: the two low float lanes, exactly, as doubles. */
  f64x2PromoteLow(): this { return this.simd(0x5f); }
  f64x2Add(): this { return this.simd(0xf0); }
  /** f32x4.demote_f64x2_zero: the two doubles rounded to nearest float in the low lanes, zeros above. */
  f32x4DemoteZero(): this { return this.simd(0x5e); }
  /** Lane-wise max; NaN in either operand gives NaN (so a NaN stays visible after a ReLU). */
  f32x4Max(): this { return this.simd(0xe9); }

  /** f32x4.relaxed_madd: a · b + c for (a, b, c) on the stack (relaxed SIMD; see MultiplyAddKind). */
  f32x4RelaxedMadd(): this { return this.simd(0x105); }

  /** acc += b · c for v128 locals, encoded as `multiplyAddKind` says. */
  multiplyAdd(acc: number, b: number, c: number): this {
    if (this.multiplyAddKind === 'relaxed') return this.get(b).get(c).get(acc).f32x4RelaxedMadd().set(acc);
    return this.get(acc).get(b).get(c).f32x4Mul().f32x4Add().set(acc);
  }

  /** The function's code entry: local declarations, body, end. */
  encode(): number[] {
    const locals = vector([[...leb128(this.i32Locals), I32], [...leb128(this.v128Locals), V128]]);
    const body = [...locals, ...this.code, 0x0b];
    return [...leb128(body.length), ...body];
  }
}

export interface ExportedFunction {
  name: string;
  body: FunctionWriter;
}

/**
 * A module of functions taking `params` i32s and returning nothing, importing `env.memory`
 * (shared when the memory is: a shared memory must be imported as shared, with a maximum).
 */
export function assembleModule(functions: ExportedFunction[], sharedMemory: boolean): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [0x60, ...vector(Array.from({ length: f.body.params }, () => [I32])), 0]);
  const memoryLimits = sharedMemory ? [0x03, ...leb128(1), ...leb128(65536)] : [0x00, ...leb128(1)];
  const memoryImport = [...name('env'), ...name('memory'), 0x02, ...memoryLimits];
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, vector(types)),
    ...section(2, vector([memoryImport])),
    ...section(3, vector(functions.map((_, k) => leb128(k)))),
    ...section(7, vector(functions.map((f, k) => [...name(f.name), 0x00, ...leb128(k)]))),
    ...section(10, vector(functions.map((f) => f.body.encode()))),
  ]);
}

let relaxedSimd: boolean | undefined;

/**
 * Whether this runtime validates `f32x4.relaxed_madd` (checked once, on a one-instruction module):
 * Node ≥ 22 ships relaxed SIMD; Node 20 has it behind `--experimental-wasm-relaxed-simd`.
 */
export function runtimeHasRelaxedSimd(): boolean {
  if (relaxedSimd === undefined) {
    const probe = new FunctionWriter(0, 0, 1, 'relaxed');
    probe.v128Zero().v128Zero().v128Zero().f32x4RelaxedMadd().set(probe.v128Local(0));
    relaxedSimd = WebAssembly.validate(assembleModule([{ name: 'probe', body: probe }], false));
  }
  return relaxedSimd;
}
