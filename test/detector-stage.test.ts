/**
 * Detector space as the joint model's input stage (src/detector/input-stage.ts, the `detector`
 * option of src/train/joint.ts): the stage's forward equals the plain-array pipeline (projection →
 * noise → per-channel ADC → −log → FBP); training resumes bit-exact; a channel layout has exactly
 * round(b·C) reduced channels and exports as .ctql; storage per frame; the study's plan; the
 * display-to-HU flag.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { startBackend } from '../src/backend/index.js';
import { parseHuWindow } from '../src/cli/args.js';
import { resolveConfig } from '../src/config/experiment-config.js';
import { countToHu } from '../src/data/hu.js';
import { generatePhantoms } from '../src/data/phantom.js';
import { huToMu, muToHu } from '../src/detector/attenuation.js';
import { fbp, makeFbpPlan } from '../src/detector/fbp.js';
import { DetectorReadout, EVALUATION_EPOCH, readoutNoiseSeed, scaleHuForUnet } from '../src/detector/input-stage.js';
import { detectorSpaceOf, loadDetectorSpace } from '../src/detector/profile.js';
import { project } from '../src/detector/projector.js';
import { defaultFloorCounts, digitise, expectedCounts, logNormalise, noisyCounts } from '../src/detector/readout.js';
import { UserError } from '../src/errors.js';
import { detectorRetrainLevels, planStudy } from '../src/experiments/plan.js';
import { detectorReadoutFor, modelForPoint, reducedChannels } from '../src/experiments/run-point.js';
import { planFor } from '../src/experiments/session.js';
import { decodeLayout, encodeLayout, layoutFromMask, readLayoutFile } from '../src/layout-io/layout-file.js';
import { writeDetectorOutputs } from '../src/pipeline/detector-outputs.js';
import type { RunResult } from '../src/runs/types.js';
import { loadProfile } from '../src/profile/load.js';
import { detectorStorageRow } from '../src/profile/storage.js';
import { TrainableQuantization } from '../src/quant/layer.js';
import { JointModel } from '../src/train/joint.js';
import { trainModel } from '../src/train/trainer.js';
import { shortTrainOptions, weightsOf } from './helpers/train.js';

await startBackend('wasm');
const dir = mkdtempSync(join(tmpdir(), 'ctquant-detector-stage-'));
const SIZE = 32;
const NATIVE = 12;

/** A tiny parallel-beam detector profile on disk: 48 channels of 2 mm, 18 views, 32² grid of 2 mm. */
function tinyProfilePath(): string {
  const path = join(dir, 'tiny.json');
  writeFileSync(
    path,
    JSON.stringify({
      name: 'tiny-detector',
      geometry: { rows: SIZE, cols: SIZE },
      adc: { nativeBits: NATIVE, modes: [3], quantizer: 'midrise' },
      budget: { fraction: 0.5, sweep: [0.25, 0.5, 0.75] },
      detector: { beam: 'parallel', channels: 48, views: 18, coverageDeg: 180, channelMm: 2, pixelMm: 2, i0: 20000, sigmaE: 5, fullScaleCounts: 32768 },
    }),
  );
  return path;
}

const profile = loadProfile(tinyProfilePath());
const space = detectorSpaceOf(profile)!;
const data = generatePhantoms({ n: 8, size: SIZE, seed: 5, nativeBits: NATIVE, slicesPerVolume: 2 });
const readout = new DetectorReadout({ space, rows: SIZE, cols: SIZE, dataWindow: { lowHu: -1024, highHu: 1024 }, dataBits: NATIVE });
const C = readout.channels;

test('the stage forward equals the plain-array pipeline: counts → HU → μ → project → noise → ADC per channel → −log → FBP → scale', () => {
  const images = [0, 1].map((i) => data.slices[i]!.image);
  const layout = Uint8Array.from({ length: C }, (_, c) => (c % 3 === 0 ? 1 : 0));
  const keys = { seed: 4, epoch: 2, indices: [5, 6] };
  const expected = images.map((image, b) => {
    const hu = Float32Array.from(image, (c) => countToHu(c, NATIVE));
    const analog = noisyCounts(expectedCounts(project(readout.geometry, huToMu(hu, space.waterMu)), space.i0), C, space.sigmaE, readoutNoiseSeed(4, 2), keys.indices[b]!);
    const bits = Array.from(layout, (m) => (m ? 3 : NATIVE));
    const p = logNormalise(digitise(analog, bits, space.adc), space.i0, defaultFloorCounts(space.adc));
    const mu = fbp(makeFbpPlan(readout.geometry, space.apodisation), p);
    return Array.from(muToHu(mu, space.waterMu), (h) => Math.min(1.5, Math.max(-0.5, (h + 1024) / 2048)));
  });
  const batch = tf.tensor4d(Float32Array.from([...images[0]!, ...images[1]!]), [2, SIZE, SIZE, 1]);
  const mask = tf.tensor1d(Float32Array.from(layout));
  const out = readout.unetInput(batch, { kind: 'mask', keptBits: 3, mask }, keys);
  assert.equal(out.shape, [2, SIZE, SIZE, 1]);
  const got = out.dataSync();
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i]! - expected[Math.floor(i / (SIZE * SIZE))]![i % (SIZE * SIZE)]!));
  // float32 filter product vs the JS filter: a few HU at most (2048 HU per unit).
  assert.ok(worst < 2e-3, `largest difference ${worst} (${(worst * 2048).toFixed(2)} HU)`);
  // The cached projection is reused (same content, same result), and different keys draw different noise.
  const again = readout.unetInput(batch, { kind: 'mask', keptBits: 3, mask }, keys).dataSync();
  assert.equal(Array.from(again), Array.from(got));
  const other = readout.unetInput(batch, { kind: 'mask', keptBits: 3, mask }, { ...keys, epoch: 3 }).dataSync();
  assert.not.equal(Array.from(other), Array.from(got));
  tf.dispose([batch, mask, out]);
});

test('native, all-at-k and a mask of ones agree where they must; scaleHuForUnet maps [−1024, 1024] HU to [0, 1]', () => {
  const batch = tf.tensor4d(data.slices[2]!.image, [1, SIZE, SIZE, 1]);
  const keys = { seed: 1, epoch: EVALUATION_EPOCH, indices: [2] };
  const native = readout.unetInput(batch, { kind: 'native' }, keys).dataSync();
  const zeros = tf.zeros([C]) as tf.Tensor1D;
  const ones = tf.ones([C]) as tf.Tensor1D;
  assert.equal(Array.from(readout.unetInput(batch, { kind: 'mask', keptBits: 3, mask: zeros }, keys).dataSync()), Array.from(native));
  const all = readout.unetInput(batch, { kind: 'all', keptBits: 3 }, keys).dataSync();
  assert.equal(Array.from(readout.unetInput(batch, { kind: 'mask', keptBits: 3, mask: ones }, keys).dataSync()), Array.from(all));
  assert.not.equal(Array.from(all), Array.from(native));
  assert.equal(Array.from(scaleHuForUnet(tf.tensor1d([-1024, 0, 1024, -5000, 5000])).dataSync()), [0, 0.5, 1, -0.5, 1.5]);
  tf.dispose([batch, zeros, ones]);
});

const config = resolveConfig({ size: SIZE, unet: { depth: 2, baseFilters: 4, normalization: 'group' } });

function learnedDetectorModel(): JointModel {
  return modelForPoint(profile, config, { id: 'learned-k3-b0.5-s7', setup: 'learned', seed: 7, keptBits: 3, budget: 0.5 });
}

test('detector mode: the content prior (image pixels) is refused for a layout of channels, naming the field', () => {
  const withPrior = resolveConfig({ ...config, layoutTraining: { prior: 'content' } });
  assert.throws(
    () => modelForPoint(profile, withPrior, { id: 'learned-k3-b0.5-s7', setup: 'learned', seed: 7, keptBits: 3, budget: 0.5 }, undefined, data),
    (e: unknown) => e instanceof UserError && /layoutTraining\.prior/.test((e as Error).message),
  );
});

test('detector mode: the learned stage holds one logit per channel, trains, and resumes bit-exact', async () => {
  const full = learnedDetectorModel();
  assert.ok(full.options.detector);
  const layer = (full.stage as { layer: TrainableQuantization }).layer;
  assert.equal(layer.getWeights()[0]!.shape, [1, C]);
  const before = weightsOf(full);
  const a = await trainModel(full, data, shortTrainOptions());
  const expected = weightsOf(full);
  assert.not.equal(expected[expected.length - 1], before[before.length - 1], 'the channel logits learn');
  const layoutA = await layer.hardwareLayout();
  full.dispose();

  const ckpt = join(dir, 'detector.ckpt');
  const first = learnedDetectorModel();
  assert.is((await trainModel(first, data, shortTrainOptions({ checkpointPath: ckpt, stopAfterStep: 3 }))).stopped, true);
  first.dispose();
  const second = learnedDetectorModel();
  const c = await trainModel(second, data, shortTrainOptions({ checkpointPath: ckpt, resume: true }));
  assert.equal(weightsOf(second), expected);
  assert.equal(c.history.map((h) => h.loss), a.history.map((h) => h.loss));
  assert.equal(await (second.stage as { layer: TrainableQuantization }).layer.hardwareLayout(), layoutA);
  second.dispose();
});

test('the hardware channel layout has exactly round(b·C) reduced channels and round-trips through .ctql (rows 1 × channels)', async () => {
  for (const budget of [0.25, 0.5, 0.75, 0.3]) {
    const model = modelForPoint(profile, config, { id: 'l', setup: 'learned', seed: 3, keptBits: 3, budget });
    const layout = await (model.stage as { layer: TrainableQuantization }).layer.hardwareLayout();
    assert.is(layout.length, C);
    const reduced = layout.reduce((s, v) => s + v, 0);
    assert.is(reduced, Math.round(budget * C));
    assert.is(reducedChannels(C, { id: 'l', setup: 'learned', seed: 3, keptBits: 3, budget }), reduced);
    const decoded = decodeLayout(encodeLayout(layoutFromMask(layout, 1, C, NATIVE, 3)));
    assert.is(decoded.rows, 1);
    assert.is(decoded.cols, C);
    assert.equal(Array.from(decoded.bits), Array.from(layout, (m) => (m ? 3 : NATIVE)));
    model.dispose();
    const random = modelForPoint(profile, config, { id: 'r', setup: 'random', seed: 3, keptBits: 3, budget });
    assert.ok(random.stage.kind === 'fixed' && random.stage.layout.length === C && random.stage.layout.reduce((s, v) => s + v, 0) === Math.round(budget * C));
    random.dispose();
  }
});

test('storage per detector frame: views × channels readings, round(b·C) channels at k bits', () => {
  const shipped = loadProfile('detector-profiles/detector-parallel-12bit.json');
  const row = detectorStorageRow(shipped, 0.5);
  assert.equal(
    { channels: row.channels, views: row.views, reduced: row.reducedChannels, kept: row.keptBits, native: row.nativeBitsPerFrame, layout: row.layoutBitsPerFrame, bytes: row.layoutBytesPerFrame, perReading: row.bitsPerReadingExact },
    { channels: 96, views: 120, reduced: 48, kept: 4, native: 138240, layout: 92160, bytes: 11520, perReading: '8' },
  );
  // Tiny: 48 channels, 18 views, 12-bit, 3-bit mode; 0.3·48 = 14.4 → 14 channels: 18·(34·12 + 14·3) = 8100 bits.
  const tiny = detectorStorageRow(profile, 0.3);
  assert.is(tiny.reducedChannels, 14);
  assert.is(tiny.layoutBitsPerFrame, 8100);
  assert.is(tiny.bitsPerReadingExact, '75/8');
  assert.throws(() => detectorStorageRow(loadProfile('detector-profiles/detector16-8bit.json'), 0.5), /no detector section/);
});

test('the detector study retrains uniform designs at the budgets\' stored bits and k, and evaluates (a) at every level', () => {
  const shipped = loadProfile('detector-profiles/detector-parallel-12bit.json');
  assert.equal(detectorRetrainLevels(shipped, [0.5]), [8, 4]);
  assert.equal(detectorRetrainLevels(shipped, [0.25, 0.5, 0.75]), [10, 8, 6, 4]);
  const points = planStudy(shipped, [1], { budgets: [0.5], retrainLevels: detectorRetrainLevels(shipped, [0.5]), families: [] });
  assert.equal(points.map((p) => p.id), ['baseline-s1', 'all-pixels-retrained-k8-s1', 'all-pixels-retrained-k4-s1', 'learned-k4-b0.5-s1', 'random-k4-b0.5-s1']);
  // Over channels the spread patterns run; the content and lesion heuristics (image pixels) do not.
  const setups = planFor('study', shipped, config, [0.5]).map((p) => p.setup);
  assert.ok(setups.includes('dither') && setups.includes('blue-noise'), setups.join());
  assert.not.ok(setups.includes('content') || setups.includes('lesion'), setups.join());
  assert.equal(points[0]!.evaluateAllPixelsAt, [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1]);
});

test('an experiment on a detector profile with a bits-per-pixel budget is refused in one line at /budget/bitsPerPixel', () => {
  const fan = loadProfile('detector-profiles/detector-fan-16bit.json');
  assert.throws(() => planFor('study', fan, config), (e: unknown) => e instanceof UserError && /one reduced mode per channel/.test((e as Error).message) && (e as UserError).pointer === '/budget/bitsPerPixel');
  // Per seed: baseline, two retrained levels, learned, random, dither, blue noise.
  assert.is(planFor('study', profile, config).length, 3 * 7);
});

test('--hu-from-display: a window for detector profiles only; the readout maps the data through it', () => {
  assert.equal(parseHuWindow('hu-from-display', '-1350,150', profile), { lowHu: -1350, highHu: 150 });
  assert.throws(() => parseHuWindow('hu-from-display', '150,-1350', profile), (e: unknown) => e instanceof UserError && /low < high/.test((e as Error).message));
  assert.throws(() => parseHuWindow('hu-from-display', '-1000,400', loadProfile('detector-profiles/detector16-8bit.json')), /detector-space profiles only/);
  const display = detectorReadoutFor(profile, config, { nativeBits: 8, huWindow: { lowHu: -1350, highHu: 150 } })!;
  assert.equal(display.options.dataWindow, { lowHu: -1350, highHu: 150 });
  assert.is(display.options.dataBits, 8);
  assert.is(detectorReadoutFor(profile, config), detectorReadoutFor(profile, config), 'one detector (and cache) per settings');
  assert.is(loadDetectorSpace('detector-profiles/detector-parallel-12bit.json').section.channels, 96);
});

test('detector outputs: channel layout (.ctql, CSV per channel), bits-per-channel plot, sinogram and reconstruction previews, errors, storage', async () => {
  const layout = Array.from({ length: C }, (_, c) => (Math.abs(c - (C - 1) / 2) > C / 4 ? 1 : 0));
  const base = { seed: 1, nativeBits: NATIVE, collapsed: false, history: [], rows: 1, cols: C, dice: { mean: 0.5, perImage: [], pooled: 0.5, emptyPredictionShare: 0 } };
  const runs = [
    { ...base, id: 'learned-k3-b0.5-s1', setup: 'learned', keptBits: 3, budget: 0.5, bitsPerPixel: 7.5, hardwareLayout: layout, probabilityMap: layout.map((m) => (m ? 0.9 : 0.1)) },
    { ...base, id: 'random-k3-b0.5-s1', setup: 'random', keptBits: 3, budget: 0.5, bitsPerPixel: 7.5, hardwareLayout: Array.from({ length: C }, (_, c) => c % 2) },
  ] as unknown as RunResult[];
  const out = mkdtempSync(join(tmpdir(), 'ctquant-detector-out-'));
  const { files, report } = await writeDetectorOutputs(out, runs, profile, config, data);
  for (const f of ['channel-layout-learned-k3-b0.5-s1.ctql', 'channel-layout-learned-k3-b0.5-s1.csv', 'channel-flux.csv', 'channel-flux.json', 'bits-per-channel.png', 'sinograms.png', 'reconstructions.png', 'reconstruction-error.json', 'storage.json'])
    assert.ok(files.includes(join('detector', f)), f);
  // What report.html and manifest.json show: the three figures, a description for every file, the two tables.
  assert.equal(report!.figures.map((f) => f.file), ['detector/bits-per-channel.png', 'detector/sinograms.png', 'detector/reconstructions.png']);
  assert.equal(Object.keys(report!.descriptions).sort(), files.map((f) => f.split(/[\\/]/).join('/')).sort());
  assert.equal(report!.reconstructionError.map((d) => d.bits_per_reading), [12, 7.5, 7.5, 8, 3]);
  assert.equal(report!.channelFlux.map((r) => r.run), ['learned-k3-b0.5-s1']);
  const csv = readFileSync(join(out, 'detector', 'channel-layout-learned-k3-b0.5-s1.csv'), 'utf8').trim().split('\n');
  assert.is(csv.length, C + 1);
  assert.is(csv[1], `0,${(-(C - 1) / 2 * 2).toFixed(3)},,3,0.900000`);
  const ctql = readLayoutFile(join(out, 'detector', 'channel-layout-learned-k3-b0.5-s1.ctql'));
  assert.equal([ctql.rows, ctql.cols], [1, C]);
  const errors = JSON.parse(readFileSync(join(out, 'detector', 'reconstruction-error.json'), 'utf8')) as { designs: { design: string; rmseHu: number; bitsPerReading: number }[] };
  assert.equal(errors.designs.map((d) => d.bitsPerReading), [12, 7.5, 7.5, 8, 3]);
  // Every channel at 3 bits reads far worse than native.
  assert.ok(errors.designs[4]!.rmseHu > errors.designs[0]!.rmseHu);
});

test.after(() => readout.dispose());
test.run();
