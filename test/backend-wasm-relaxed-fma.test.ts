/**
 * Relaxed-SIMD multiply-adds in ctquant's wasm SIMD convolutions (module-writer.ts MultiplyAddKind,
 * flags.ts SIMD_RELAXED_FMA_FLAG): forward (plain and bias + ReLU), input and filter gradients with
 * relaxed FMA against the exact path, within 1e-5 relative; the exact path with the flag off is bit
 * for bit the path of a runtime without relaxed SIMD; relaxed results are the same bits on 1 and 2
 * threads. Node 20 has relaxed SIMD only behind `--experimental-wasm-relaxed-simd`, so this file runs
 * itself as two children with that flag (unless the runtime already has it; one per wasm build, which
 * starts once per process), and the children report whether the relaxed path was really taken.
 */
import { runChildReport } from './helpers/child-report.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startBackend } from '../src/backend/index.js';
import { SIMD_RELAXED_FMA_FLAG } from '../src/backend/flags.js';
import { runtimeHasRelaxedSimd } from '../src/backend/wasm/module-writer.js';
import { relaxedFmaInUse, simdConvThreadsInUse } from '../src/backend/wasm/simd-conv.js';
import type { WasmHeapBackend } from '../src/backend/wasm/heap.js';
import { convProgram, filterGradientProgram } from '../src/backend/wasm/simd-conv-programs.js';
import { Rng } from '../src/util/rng.js';
import { maxRelativeError } from './helpers/arrays.js';

/** Relaxed against exact, relative to the largest |exact| value of each output (as the SIMD test against cpu). */
const TOLERANCE = 1e-5;

interface Case { n: number; h: number; w: number; cin: number; cout: number; k: number; pad: 'same' | 'valid' }

// Channel counts the SIMD programs take in all three passes (Cin and Cout multiples of 8), widths
// that leave partial pixel blocks, several kernel sizes and both paddings; the last is a U-Net layer.
const CASES: Case[] = [
  { n: 2, h: 9, w: 7, cin: 8, cout: 8, k: 3, pad: 'same' },
  { n: 1, h: 11, w: 10, cin: 16, cout: 8, k: 5, pad: 'valid' },
  { n: 3, h: 6, w: 5, cin: 8, cout: 16, k: 1, pad: 'same' },
  { n: 1, h: 8, w: 13, cin: 24, cout: 16, k: 2, pad: 'valid' },
  { n: 2, h: 16, w: 16, cin: 16, cout: 16, k: 3, pad: 'same' },
];
const OUTPUTS = ['y', 'fused', 'dx', 'df'] as const;
type Output = (typeof OUTPUTS)[number];
type Results = Record<Output, Float32Array>;

function randomArray(size: number, seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: size }, () => r.uniform(-1, 1));
}

/** Forward, fused bias + ReLU, and both gradients of sum(conv(x, f) · weights) for one case (seeded data). */
function compute(c: Case, seed: number): Results {
  return tf.tidy(() => {
    const x = tf.tensor4d(randomArray(c.n * c.h * c.w * c.cin, seed), [c.n, c.h, c.w, c.cin]);
    const f = tf.tensor4d(randomArray(c.k * c.k * c.cin * c.cout, seed + 1), [c.k, c.k, c.cin, c.cout]);
    const b = tf.tensor1d(randomArray(c.cout, seed + 2));
    const y = tf.conv2d(x, f, 1, c.pad);
    const fused = tf.engine().runKernel('FusedConv2D', { x, filter: f, bias: b },
      { strides: [1, 1], pad: c.pad, dataFormat: 'NHWC', dilations: [1, 1], activation: 'relu' }) as tf.Tensor;
    const weights = tf.tensor(randomArray(y.size, seed + 3), y.shape);
    const g = tf.grads((a: tf.Tensor, w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, w as tf.Tensor4D, 1, c.pad), weights)));
    const [dx, df] = g([x, f]);
    return {
      y: y.dataSync() as Float32Array, fused: fused.dataSync() as Float32Array,
      dx: dx!.dataSync() as Float32Array, df: df!.dataSync() as Float32Array,
    };
  });
}

/** Every case with the relaxed flag set to `relaxed`, float32 bytes as base64 (exact through JSON). */
function computeAll(relaxed: boolean): Record<Output, string>[] {
  tf.env().set(SIMD_RELAXED_FMA_FLAG, relaxed);
  return CASES.map((c, i) => {
    const r = compute(c, 1000 * (i + 1));
    return Object.fromEntries(OUTPUTS.map((k) => [k, Buffer.from(r[k].buffer, r[k].byteOffset, r[k].byteLength).toString('base64')])) as
      Record<Output, string>;
  });
}

const decode = (s: string): Float32Array => {
  const bytes = Buffer.from(s, 'base64');
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
};

interface ChildReport {
  threads: number;
  /** Threads the SIMD programs ran on. */
  simdThreads: number;
  runtimeHasRelaxedSimd: boolean;
  detailOn: string;
  inUseOn: boolean;
  relaxed: Record<Output, string>[];
  relaxedAgain: Record<Output, string>[];
  detailOff: string;
  inUseOff: boolean;
  exact: Record<Output, string>[];
}

/** wasm threads of a child run (unset in the parent). */
const CHILD_THREADS = Number(process.env.CTQUANT_RELAXED_FMA_TEST_CHILD ?? 0);

if (CHILD_THREADS > 0) {
  // A runtime with relaxed SIMD, the flag on from the environment: start-up line and results, then off.
  const on = await startBackend('wasm', () => {}, { wasmThreads: CHILD_THREADS });
  const inUseOn = relaxedFmaInUse();
  const relaxed = computeAll(true);
  const relaxedAgain = computeAll(true);
  tf.env().set(SIMD_RELAXED_FMA_FLAG, false);
  const off = await startBackend('wasm', () => {}, { wasmThreads: CHILD_THREADS });
  const report: ChildReport = {
    threads: CHILD_THREADS, simdThreads: simdConvThreadsInUse(tf.backend() as unknown as WasmHeapBackend), runtimeHasRelaxedSimd: runtimeHasRelaxedSimd(), detailOn: on.detail, inUseOn, relaxed, relaxedAgain,
    detailOff: off.detail, inUseOff: relaxedFmaInUse(), exact: computeAll(false),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else {
  /** This file as a child process with relaxed SIMD enabled (the V8 flag only where the runtime lacks it). */
  const runChild = (threads: number): Promise<ChildReport> =>
    runChildReport<ChildReport>(fileURLToPath(import.meta.url), {
      nodeArgs: runtimeHasRelaxedSimd() ? [] : ['--experimental-wasm-relaxed-simd'],
      // Switched on through the environment, as a user would (the flag is off by default).
      env: { CTQUANT_RELAXED_FMA_TEST_CHILD: `${threads}`, CTQUANT_WASM_SIMD_RELAXED_FMA: 'true' },
      label: `${threads}-thread child`,
    });
  const childRuns = Promise.all([runChild(1), runChild(2)]);
  await startBackend('wasm');
  // This process: the flag off, and (on Node 20 without the V8 flag) a runtime without relaxed SIMD at all.
  const exactHere = computeAll(false);
  const [child, threaded] = await childRuns;

  /** True where V8 lowers relaxed_madd to a fused instruction: x86-64 with FMA3, and arm64. */
  const cpuHasFma = (): boolean => {
    if (process.arch === 'arm64') return true;
    if (process.arch !== 'x64') return false;
    try {
      return /^flags\s*:.*\bfma\b/m.test(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      return false;
    }
  };

  test('the child has relaxed SIMD and uses it while the flag is on; the start-up line says so', () => {
    assert.ok(child.runtimeHasRelaxedSimd, 'runtime validates f32x4.relaxed_madd');
    assert.ok(child.inUseOn, 'relaxed FMA in use with the flag on');
    assert.match(child.detailOn, /^XNNPACK, SIMD, relaxed FMA, 1 thread$/);
    assert.not.ok(child.inUseOff, 'flag off: exact path');
    assert.is(child.detailOff, 'XNNPACK, SIMD, 1 thread');
    assert.ok(threaded.inUseOn);
    assert.is(threaded.detailOn, 'XNNPACK, SIMD, relaxed FMA, 2 threads');
  });

  test('relaxed and exact: the same bits on 2 threads as on 1 (the programs split work, not sums)', () => {
    assert.is(threaded.simdThreads, 2, 'the SIMD programs ran on 2 threads');
    assert.equal(threaded.relaxed, child.relaxed);
    assert.equal(threaded.exact, child.exact);
  });

  test(`relaxed FMA: forward, fused, input and filter gradients within ${TOLERANCE} relative of the exact path, repeatable`, () => {
    CASES.forEach((c, i) => {
      for (const key of OUTPUTS) {
        const relaxed = decode(child.relaxed[i]![key]);
        const exact = decode(child.exact[i]![key]);
        const err = maxRelativeError(relaxed, exact, 1e-6);
        assert.ok(err < TOLERANCE, `${key} ${JSON.stringify(c)}: relative difference ${err}`);
        assert.is(child.relaxedAgain[i]![key], child.relaxed[i]![key], `${key} ${JSON.stringify(c)}: repeatable bit for bit`);
      }
    });
  });

  test('on a CPU with FMA the relaxed path is really fused: every output differs from exact in some bits', () => {
    if (!cpuHasFma()) return; // mul + add lowering: nothing to tell apart
    for (const key of OUTPUTS) {
      const differing = CASES.filter((_, i) => child.relaxed[i]![key] !== child.exact[i]![key]).length;
      assert.ok(differing > 0, `${key}: relaxed equals exact in every case (the programs did not run relaxed?)`);
    }
  });

  test('flag off: bit for bit the results of a runtime without relaxed SIMD (the exact path as before)', () => {
    CASES.forEach((c, i) => {
      for (const key of OUTPUTS) assert.is(child.exact[i]![key], exactHere[i]![key], `${key} ${JSON.stringify(c)}`);
    });
    if (!runtimeHasRelaxedSimd()) {
      assert.not.ok(relaxedFmaInUse(), 'no relaxed SIMD here: never in use, whatever the flag');
      tf.env().set(SIMD_RELAXED_FMA_FLAG, true);
      assert.not.ok(relaxedFmaInUse());
      const defaultHere = computeAll(true);
      CASES.forEach((_, i) => assert.equal(defaultHere[i], exactHere[i]));
    }
  });

  test('the exact programs hold no relaxed_madd; the relaxed ones one per multiply-add', () => {
    const relaxedMadd = (code: number[]) => code.filter((b, k) => b === 0xfd && code[k + 1] === 0x85 && code[k + 2] === 0x02).length;
    const f32x4Mul = (code: number[]) => code.filter((b, k) => b === 0xfd && code[k + 1] === 0xe6 && code[k + 2] === 0x01).length;
    for (const program of [convProgram, filterGradientProgram]) {
      const exact = program('exact').encode();
      const relaxed = program('relaxed').encode();
      assert.equal(program().encode(), exact, `${program.name}: exact by default`);
      assert.is(relaxedMadd(exact), 0);
      assert.ok(f32x4Mul(exact) > 0);
      assert.is(relaxedMadd(relaxed), f32x4Mul(exact), `${program.name}: every mul + add replaced`);
      assert.is(f32x4Mul(relaxed), 0);
    }
  });

  test.run();
}
