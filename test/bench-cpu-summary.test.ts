/**
 * bench/cpu-summary.ts, the pure part of bench/cpu.ts: shape and FMA-variant lists, PyTorch's JSON
 * line (as bench/torch_step.py prints it on CPU), throughput of P processes, and the table: within-
 * round ratios per FMA variant against the same PyTorch round, peak RSS per process on both sides.
 * PyTorch is not installed on every machine that runs the tests, so its side is fed recorded lines.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  formatSummary, parseFmaVariants, parseShapes, parseTorchOutput, summarise, throughputMs, type Measurement,
} from '../bench/cpu-summary.js';

test('shapes SIZExBATCH and FMA variants are parsed, bad entries named', () => {
  assert.equal(parseShapes('64x4,128x4, 256x4 ,64x8'), [
    { size: 64, batch: 4 }, { size: 128, batch: 4 }, { size: 256, batch: 4 }, { size: 64, batch: 8 },
  ]);
  assert.throws(() => parseShapes('64x4,128'), /"128"/);
  assert.equal(parseFmaVariants('relaxed,exact'), ['relaxed', 'exact']);
  assert.throws(() => parseFmaVariants('fast'), /fast\?/);
  assert.throws(() => parseFmaVariants('exact,exact'), /distinct/);
});

test("PyTorch's output: ms per step and peak RSS from its last JSON line", () => {
  const stdout = 'some warning\n{"framework":"pytorch","ms_median":512.5,"peak_mem_mb":731.2,"peak_mem_kind":"process_max_rss","size":128}\n';
  assert.equal(parseTorchOutput(stdout), { msMedian: 512.5, peakMiB: 731.2, peakKind: 'process_max_rss' });
  assert.throws(() => parseTorchOutput('Traceback ...\n'), /no JSON line/);
  assert.throws(() => parseTorchOutput('{"ms_median":3}\n'), /peak_mem_mb missing/);
});

test('throughput: one process as is; P processes finish P steps per mean time', () => {
  assert.is(throughputMs('threads', [800]), 800);
  assert.is(throughputMs('processes', [1000, 1200]), 550);
});

test('summary: per-round ratios against the same round of PyTorch, one row per FMA variant, peak per process', () => {
  const m = (round: number, framework: 'ctquant' | 'pytorch', layout: 'threads' | 'processes', ms: number, peak: number[],
    fma?: 'relaxed' | 'exact'): Measurement => ({
    round, size: 64, batch: 4, framework, layout, msPerStep: ms, perProcess: [ms], peakRssMiB: peak,
    ...(fma ? { fma, relaxedFmaUsed: fma === 'relaxed' } : {}),
  });
  const measurements: Measurement[] = [
    m(1, 'pytorch', 'threads', 100, [700]), m(1, 'ctquant', 'threads', 200, [900], 'relaxed'), m(1, 'ctquant', 'threads', 250, [880], 'exact'),
    m(2, 'pytorch', 'threads', 150, [710]), m(2, 'ctquant', 'threads', 150, [905], 'relaxed'), m(2, 'ctquant', 'threads', 300, [890], 'exact'),
    m(3, 'pytorch', 'threads', 120, [705]), m(3, 'ctquant', 'threads', 240, [902], 'relaxed'), m(3, 'ctquant', 'threads', 200, [870], 'exact'),
    m(1, 'pytorch', 'processes', 60, [400, 420]), m(1, 'ctquant', 'processes', 90, [600, 640], 'relaxed'),
    m(1, 'ctquant', 'processes', 120, [610, 600], 'exact'),
  ];
  const rows = summarise(measurements, [{ size: 64, batch: 4 }, { size: 128, batch: 4 }], ['relaxed', 'exact'], 2);
  assert.is(rows.length, 4, '64² × 2 layouts × 2 variants; nothing measured at 128²');
  const [relaxed, exact, relaxedProcesses] = rows;
  assert.equal(relaxed!.ratios, [0.5, 1, 0.5]);
  assert.is(relaxed!.ratioMedian, 0.5);
  assert.is(relaxed!.ctquantMs, 200);
  assert.is(relaxed!.pytorchMs, 120);
  assert.is(relaxed!.ctquantPeakMiB, 905);
  assert.is(relaxed!.pytorchPeakMiB, 710);
  assert.ok(relaxed!.relaxedFmaUsed);
  assert.equal(exact!.ratios, [0.4, 0.5, 0.6]);
  assert.not.ok(exact!.relaxedFmaUsed);
  assert.is(relaxedProcesses!.layout, 'processes');
  assert.is(relaxedProcesses!.ctquantPeakMiB, 640);
  assert.is(relaxedProcesses!.pytorchPeakMiB, 420);
  const table = formatSummary(rows).split('\n');
  assert.match(table[0]!, /^size\s+batch\s+cores used as\s+FMA\s+ctquant ms\/step\s+PyTorch ms\/step\s+vs torch \(median\)\s+per round\s+ctquant peak MiB\s+PyTorch peak MiB$/);
  assert.match(table[2]!, /^64²\s+4\s+1 process × 2 threads\s+relaxed\s+200\s+120\s+0\.50×\s+0\.50 1\.00 0\.50\s+905\s+710$/);
  assert.match(table[5]!, /^64²\s+4\s+2 processes × 1 thread\s+exact\s+120\s+60\s+0\.50×\s+0\.50\s+610\s+420$/);
});

test('summary: a ctquant round without its PyTorch round is an error, not a ratio against another round', () => {
  const measurements: Measurement[] = [
    { round: 1, size: 64, batch: 4, framework: 'pytorch', layout: 'threads', msPerStep: 100, perProcess: [100], peakRssMiB: [1] },
    { round: 2, size: 64, batch: 4, framework: 'ctquant', layout: 'threads', fma: 'default', msPerStep: 100, perProcess: [100], peakRssMiB: [1] },
  ];
  assert.throws(() => summarise(measurements, [{ size: 64, batch: 4 }], ['default'], 2), /round 2/);
});

test.run();
