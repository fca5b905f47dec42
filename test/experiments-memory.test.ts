/** The host-memory estimate an experiment is checked against before it trains (src/experiments/memory.ts). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evalMemoryProblem, memoryProblem, processBytes, RUNTIME_BYTES, wasmHeapProblem } from '../src/experiments/memory.js';
import { slicesHeld } from '../src/experiments/data.js';
import { resolveConfig } from '../src/config/experiment-config.js';
import { encodeNifti1, encodeNifti2 } from '../src/data/nifti.js';
import { gzipSync } from 'node:zlib';

const GB = 2 ** 30;
const plan = (o: Partial<Parameters<typeof processBytes>[0]> = {}) => ({ size: 256, batchSize: 4, baseFilters: 8, depthSlices: 1, hostActivations: true, ...o });

test('the estimate covers the peaks it was calibrated on, by at most a third more', () => {
  // Peak RSS of `ctquant train` on wasm, 2026-12-03 (memory.ts): [size, batch, base filters, measured GB].
  const measured: [number, number, number, number][] = [[128, 4, 8, 0.41], [256, 4, 8, 0.80], [256, 4, 16, 1.18], [256, 8, 8, 1.19], [512, 2, 8, 1.29]];
  for (const [size, batchSize, baseFilters, peak] of measured) {
    const estimate = processBytes(plan({ size, batchSize, baseFilters, slices: 32 })) / GB;
    assert.ok(estimate >= peak * 0.95 && estimate <= peak * 1.34, `${size}², batch ${batchSize}, base ${baseFilters}: estimate ${estimate.toFixed(2)} GB, measured ${peak} GB`);
  }
});

test('activations scale with batch, pixels, base filters and 3D depth; on a GPU only the runtime and the data are host memory', () => {
  const step = (o: Partial<Parameters<typeof processBytes>[0]>) => processBytes(plan(o)) - RUNTIME_BYTES;
  assert.is(step({ batchSize: 8 }), 2 * step({}));
  assert.is(step({ size: 512 }), 4 * step({}));
  assert.is(step({ baseFilters: 16 }), 2 * step({}));
  assert.is(step({ depthSlices: 5 }), 5 * step({}));
  assert.is(processBytes(plan({ hostActivations: false })), RUNTIME_BYTES);
  assert.is(processBytes(plan({ hostActivations: false, slices: 100 })), RUNTIME_BYTES + 100 * 256 * 256 * 5);
});

test('a plan is refused only over the machine\'s whole memory, naming what to lower; workers multiply it', () => {
  const one = processBytes(plan());
  assert.is(memoryProblem({ ...plan(), processes: 1 }, one), null);
  assert.is(memoryProblem({ ...plan(), processes: 4 }, 4 * one), null);
  const message = memoryProblem({ ...plan(), processes: 4 }, 4 * one - 1);
  assert.match(message ?? '', /^--size 256, batch size 4, base filters 8 need about [\d.]+ GB per training process × 4 worker processes = [\d.]+ GB of memory, more than this machine's [\d.]+ GB: lower --size, --workers or the config's batchSize$/);
  assert.not.match(message ?? '', /\n/);
});

test('detector space: the estimate covers the measured peaks by at most half again, and the schema\'s largest scan is refused', () => {
  // Peak RSS of `ctquant train` (64², batch 8, base 8, 24 phantoms) with the parallel profile's channels and views scaled (memory.ts).
  const measured: [number, number, number][] = [[96, 120, 0.263], [384, 1200, 0.528], [768, 2400, 0.846]];
  for (const [channels, views, peak] of measured) {
    const estimate = processBytes(plan({ size: 64, batchSize: 8, baseFilters: 8, slices: 24, scan: { views, channels } })) / GB;
    assert.ok(estimate >= peak && estimate <= 1.5 * peak, `${channels} channels × ${views} views: estimate ${estimate.toFixed(3)} GB, measured ${peak} GB`);
  }
  const largest = memoryProblem({ ...plan({ size: 64, slices: 160, scan: { views: 100_000, channels: 16_384 } }), processes: 1 }, 64 * GB);
  assert.match(largest ?? '', /100000 views × 16384 channels need about [\d.]+ GB .*, or the profile's views and channels$/);
});

test('the wasm backend\'s 4 GiB heap caps a step whatever the machine has: 512², batch 8, base 16 (crashed at 4.29 GB) is refused, 256² is not', () => {
  const step = { size: 512, batchSize: 8, baseFilters: 16, depthSlices: 1 };
  assert.match(wasmHeapProblem(step) ?? '', /^--size 512, batch size 8, base filters 16: a training step needs about [\d.]+ GB, more than the 4\.0 GB the wasm backend can address: lower --size or the config's batchSize, or train on a GPU \(--backend webgpu\)$/);
  assert.is(wasmHeapProblem({ ...step, size: 256 }), null);
  // The slices and sinograms are not in the heap: 1614 slices of 256² and a large scan do not count against it.
  const whole = { ...plan({ size: 256, batchSize: 8, baseFilters: 16, slices: 1614, scan: { views: 2400, channels: 768 } }), processes: 1 };
  assert.is(wasmHeapProblem(whole), null);
});

test('eval counts its slices (and a detector scan), not a training step: refused only over the machine, naming --every', () => {
  const slice = 512 * 512 * 5;
  assert.is(evalMemoryProblem({ size: 512, slices: 1000 }, RUNTIME_BYTES + 1000 * slice), null);
  assert.match(
    evalMemoryProblem({ size: 512, slices: 1001 }, RUNTIME_BYTES + 1000 * slice) ?? '',
    /^1001 slices of 512×512 need about [\d.]+ GB of memory to evaluate, more than this machine's [\d.]+ GB: keep every n-th slice \(--every n\)$/,
  );
  // Unknown count (NIfTI, DICOM): nothing to refuse on.
  assert.is(evalMemoryProblem({ size: 1024 }, RUNTIME_BYTES), null);
  const scan = { views: 1000, channels: 1000 };
  assert.is(evalMemoryProblem({ size: 64, slices: 1, scan }, 8 * GB), null);
  assert.ok(evalMemoryProblem({ size: 64, slices: 1, scan }, 0.1 * GB)?.includes('and 1000 views × 1000 channels'));
});

test('the slices a run will hold are counted before anything is decoded: phantoms, a PNG folder\'s images, NIfTI header sizes, DICOM series files (every n-th); unknown for a missing folder', () => {
  const config = resolveConfig({ synthetic: { slices: 40, slicesPerVolume: 8 } });
  assert.is(slicesHeld({ kind: 'synthetic' }, config), 40);
  const dir = mkdtempSync(join(tmpdir(), 'ctquant-held-'));
  try {
    mkdirSync(join(dir, 'ct'));
    for (let i = 0; i < 7; i++) writeFileSync(join(dir, 'ct', `${i}.PNG`), '');
    writeFileSync(join(dir, 'ct', '.hidden.png'), '');
    const folder = { kind: 'folder' as const, path: dir, skipBad: false };
    assert.is(slicesHeld(folder, config), 7);
    assert.is(slicesHeld({ ...folder, every: 2 }, config), 4);
    // NIfTI: the z sizes of the headers (plain and gzip), summed; a file whose header does not parse counts nothing.
    mkdirSync(join(dir, 'nifti', 'scans'), { recursive: true });
    writeFileSync(join(dir, 'nifti', 'scans', 'v1.nii.gz'), gzipSync(encodeNifti1([4, 3, 9], new Uint8Array(4 * 3 * 9))));
    writeFileSync(join(dir, 'nifti', 'scans', 'v2.nii'), encodeNifti2([4, 3, 5], new Uint8Array(4 * 3 * 5)));
    writeFileSync(join(dir, 'nifti', 'scans', 'v3.nii.gz'), '');
    const nifti = { ...folder, path: join(dir, 'nifti'), imageDir: 'scans' };
    assert.is(slicesHeld(nifti, config), 14);
    assert.is(slicesHeld({ ...nifti, every: 4 }, config), 4);
    // A header past --max-voxels counts nothing: the loader refuses it with its own message (v1 is 108 voxels).
    assert.is(slicesHeld({ ...nifti, limits: { maxVoxels: 100 } }, config), 5);
    // DICOM: the files of each series folder.
    for (const [series, n] of [['s1', 3], ['s2', 2]] as const) {
      mkdirSync(join(dir, 'dicom', 'ct', series), { recursive: true });
      for (let i = 0; i < n; i++) writeFileSync(join(dir, 'dicom', 'ct', series, `${i}.dcm`), '');
    }
    assert.is(slicesHeld({ ...folder, path: join(dir, 'dicom') }, config), 5);
    assert.is(slicesHeld({ ...folder, path: join(dir, 'missing') }, config), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
