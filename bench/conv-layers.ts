/**
 * The U-Net's stride-1 convolutions one at a time on wasm: forward and filter gradient, ctquant's
 * SIMD programs (src/backend/wasm/simd-*.ts) against the XNNPACK-based kernels (`--against xnnpack`,
 * tfjs flags CTQUANT_WASM_SIMD_CONV / CTQUANT_WASM_SIMD_FILTER_GRAD) or, with `--against exact`,
 * the programs with relaxed-SIMD FMA against their exact mul + add encoding (CTQUANT_WASM_SIMD_RELAXED_FMA;
 * Node 20 needs `--experimental-wasm-relaxed-simd`), or, with `--against direct`, Winograd
 * F(2×2, 3×3) against the direct programs (CTQUANT_WASM_WINOGRAD; GFLOP/s count the direct FLOPs for
 * both, so they compare as times do), or, with `--against f2`, Winograd F(4×4, 3×3) against F(2×2, 3×3)
 * (CTQUANT_WASM_WINOGRAD_F4), alternating in one process, with GFLOP/s.
 *   node --import tsx bench/conv-layers.ts --threads 1 --batch 4 --reps 5
 *   node --experimental-wasm-relaxed-simd --import tsx bench/conv-layers.ts --against exact --reps 5
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../src/backend/index.js';
import { SIMD_CONV_FLAG, SIMD_FILTER_GRAD_FLAG, SIMD_RELAXED_FMA_FLAG, WASM_WINOGRAD_F4_FLAG, WASM_WINOGRAD_FLAG } from '../src/backend/flags.js';
import { relaxedFmaInUse } from '../src/backend/wasm/simd-conv.js';

const { values } = parseArgs({
  options: {
    threads: { type: 'string', default: '1' }, batch: { type: 'string', default: '4' }, reps: { type: 'string', default: '5' },
    against: { type: 'string', default: 'xnnpack' }, sizes: { type: 'string' },
  },
});
const threads = Number(values.threads);
const batch = Number(values.batch);
const reps = Number(values.reps);
const against = values.against;
if (against !== 'xnnpack' && against !== 'exact' && against !== 'direct' && against !== 'f2') throw new Error('--against: xnnpack, exact, direct or f2');
const started = await startBackend('wasm', () => {}, { wasmThreads: threads });
if (against === 'exact' && !relaxedFmaInUse()) {
  throw new Error('--against exact: this runtime has no relaxed SIMD (Node 20: run node with --experimental-wasm-relaxed-simd)');
}
const [labelA, labelB] = against === 'exact' ? ['relaxed', 'exact'] : against === 'direct' ? ['winograd', 'direct'] : against === 'f2' ? ['F4', 'F2'] : ['simd', 'xnnpack'];
console.log(`wasm: ${started.detail}; batch ${batch}; median of ${reps}, ${labelA} and ${labelB} alternating`);

/**
 * [size, input channels, output channels]: the U-Net's (base 16, depth 4, 256²) convolutions by level,
 * then the two deepest of the 64² U-Net (only with --sizes 8 or 4).
 */
const ALL_SHAPES: Array<[number, number, number]> = [
  [256, 16, 16], [256, 32, 16], [128, 16, 32], [128, 32, 32], [128, 64, 32], [64, 64, 64], [32, 128, 128], [16, 256, 256],
  [8, 128, 128], [4, 256, 256],
];
const onlySizes = values.sizes?.split(',').map(Number);
const SHAPES = ALL_SHAPES.filter(([size]) => (onlySizes ? onlySizes.includes(size) : size >= 16));

function medianMs(run: () => tf.Tensor, flag: string, on: boolean, times: number[]): void {
  tf.env().set(flag, on);
  const t0 = performance.now();
  const out = run();
  out.dataSync();
  times.push(performance.now() - t0);
  out.dispose();
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

console.log(`size  channels    ${`forward ${labelA} / ${labelB} ms (GFLOP/s)`.padEnd(41)}filter grad ${labelA} / ${labelB} ms (GFLOP/s)`);
for (const [size, ci, co] of SHAPES) {
  const x = tf.randomNormal([batch, size, size, ci], 0, 1, 'float32', 1) as tf.Tensor4D;
  const dy = tf.randomNormal([batch, size, size, co], 0, 1, 'float32', 2) as tf.Tensor4D;
  const w = tf.randomNormal([3, 3, ci, co], 0, 1, 'float32', 3) as tf.Tensor4D;
  const gflop = (2 * batch * size * size * 9 * ci * co) / 1e9;
  const forward = () => tf.conv2d(x, w, 1, 'same');
  const filterGrad = () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy },
    { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [3, 3, ci, co] } as unknown as tf.NamedAttrMap) as tf.Tensor;
  const cells: string[] = [];
  // B is A with one flag off: the kernel's SIMD program (→ XNNPACK), relaxed FMA (→ exact),
  // Winograd (→ the direct programs) or F(4×4) (→ F(2×2)).
  for (const [run, programFlag] of [[forward, SIMD_CONV_FLAG], [filterGrad, SIMD_FILTER_GRAD_FLAG]] as const) {
    const flag = against === 'exact' ? SIMD_RELAXED_FMA_FLAG : against === 'direct' ? WASM_WINOGRAD_FLAG : against === 'f2' ? WASM_WINOGRAD_F4_FLAG : programFlag;
    const timesA: number[] = [];
    const timesB: number[] = [];
    medianMs(run, flag, true, []); // warm-up of both
    medianMs(run, flag, false, []);
    for (let r = 0; r < reps; r++) {
      medianMs(run, flag, true, timesA);
      medianMs(run, flag, false, timesB);
    }
    tf.env().set(flag, true);
    const [a, b] = [median(timesA), median(timesB)];
    cells.push(`${a.toFixed(1)} / ${b.toFixed(1)} (${(gflop / a * 1e3).toFixed(1)} / ${(gflop / b * 1e3).toFixed(1)})`);
  }
  console.log(`${`${size}²`.padEnd(6)}${`${ci}→${co}`.padEnd(12)}${cells[0]!.padEnd(41)}${cells[1]}`);
  tf.dispose([x, dy, w]);
}
