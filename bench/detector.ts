/**
 * Detector space on wasm: what projection and FBP add to a training step at 128², batch 8.
 * Times, per batch of 8 images: the projection (once per image in training: the clean sinograms are
 * cached), and the per-step work (noise + ADC of both digitisations, the mask-mixed log and FBP
 * forward, FBPᵀ in the backward pass) against the U-Net training step of bench/step-lib.ts (trainable
 * layer + U-Net base 16 depth 4 + Dice+BCE + Adam) on the same backend, alternating in one loop, and
 * prints the ratios; the last line is one JSON object.
 *   node --import tsx bench/detector.ts --steps 3 --warmup 1 [--profile detector-profiles/detector-fan-16bit.json]
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../src/backend/index.js';
import { huToMu } from '../src/detector/attenuation.js';
import { makeFbpPlan } from '../src/detector/fbp.js';
import { channelsToCover, type ScanGeometry } from '../src/detector/geometry.js';
import { MixedReconstruction, nativeAndReduced } from '../src/detector/op.js';
import { loadDetectorSpace, scanGeometry } from '../src/detector/profile.js';
import { project } from '../src/detector/projector.js';
import { defaultFloorCounts, expectedCounts, noisyCounts } from '../src/detector/readout.js';
import { sheppLoganHu } from '../src/detector/shepp-logan.js';
import { prepareTrainingStep } from './step-lib.js';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    batch: { type: 'string', default: '8' },
    size: { type: 'string', default: '128' },
    profile: { type: 'string', default: 'detector-profiles/detector-fan-16bit.json' },
  },
});
const steps = Number(values.steps);
const warmup = Number(values.warmup);
const batch = Number(values.batch);
const size = Number(values.size);
const started = await startBackend('wasm');
console.log(`wasm: ${started.detail}; ${size}², batch ${batch}; median of ${steps} after ${warmup} warm-up`);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const elapsed = (run: () => void): number => {
  const t0 = performance.now();
  run();
  return performance.now() - t0;
};

const space = loadDetectorSpace(values.profile!);
const keptBits = space.profile.modes[space.profile.modes.length - 1]!;
const parallel: ScanGeometry = {
  beam: 'parallel', channels: channelsToCover(size, size, 1, 1), views: 180, coverageDeg: 180, channelMm: 1,
  sourceToIsoMm: 0, sourceToDetectorMm: 0, rows: size, cols: size, pixelMm: 1,
};
const geometries: Array<[string, ScanGeometry]> = [
  ['parallel, 180 views over 180°', parallel],
  [`${space.profile.name}: fan, ${space.section.views} views over 360°`, scanGeometry(space.section, size, size)],
];

/** One design's per-step work, ready to run: noise + ADC (native and reduced) + log + FBP, and FBPᵀ for the mask gradient. */
function prepareDetectorStep(g: ScanGeometry) {
  const images = Array.from({ length: batch }, () => huToMu(sheppLoganHu(size, 1, 2), space.waterMu));
  const plan = makeFbpPlan(g, space.apodisation);
  const sino = g.views * g.channels;
  let clean: Float32Array[] = [];
  const projectMs = elapsed(() => (clean = images.map((mu) => project(g, mu))));
  const op = new MixedReconstruction(plan, { waterMu: space.waterMu, i0: space.i0, floorCounts: defaultFloorCounts(space.adc) });
  const mask = tf.variable(tf.fill([g.channels], 0.5) as tf.Tensor1D);
  const weights = tf.randomUniform([batch, size, size], -1, 1, 'float32', 1);
  let stepIndex = 0;
  const step = () => {
    const analog = new Float32Array(batch * sino);
    clean.forEach((p, b) => analog.set(noisyCounts(expectedCounts(p, space.i0), g.channels, space.sigmaE, stepIndex, b), b * sino));
    stepIndex++;
    const readings = nativeAndReduced(analog, batch, g.channels, space.adc, keptBits);
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(weights, op.reconstruct(readings, mask))) as tf.Scalar, [mask]);
    grads[mask.name]!.dataSync();
    tf.dispose([value, ...Object.values(grads)]);
  };
  const dispose = () => {
    op.dispose();
    tf.dispose([mask, weights]);
  };
  return { step, projectMs, dispose };
}

// The reference (bench/step-lib.ts's training step) and the designs' steps alternate in one loop,
// so a change of machine load during the run hits both sides of each ratio alike.
const unet = prepareTrainingStep({ size, batch, steps, warmup });
const unetStep = () => {
  const loss = unet.step();
  loss.dataSync();
  loss.dispose();
};
const designs = geometries.map(([label, g]) => ({ label, g, ...prepareDetectorStep(g) }));
const unetTimes: number[] = [];
const designTimes = designs.map(() => [] as number[]);
for (let i = 0; i < warmup + steps; i++) {
  const u = elapsed(unetStep);
  const d = designs.map((design) => elapsed(design.step));
  if (i < warmup) continue;
  unetTimes.push(u);
  d.forEach((ms, k) => designTimes[k]!.push(ms));
}
const unetMs = median(unetTimes);
console.log(`U-Net training step (trainable layer + U-Net base 16 depth 4 + Dice+BCE + Adam): ${unetMs.toFixed(0)} ms`);
const rows = designs.map((design, k) => {
  const stepMs = median(designTimes[k]!);
  console.log(
    `${design.label}: ${design.g.channels} channels; projection ${design.projectMs.toFixed(0)} ms per batch (once per image, cached);` +
      ` per step ${stepMs.toFixed(0)} ms = ${((100 * stepMs) / unetMs).toFixed(1)} % of the U-Net step` +
      ` (${((100 * (stepMs + design.projectMs)) / unetMs).toFixed(1)} % if the projection were redone every step)`,
  );
  design.dispose();
  return { design: design.label, channels: design.g.channels, views: design.g.views, projectMs: design.projectMs, stepMs, ratio: stepMs / unetMs };
});
unet.dispose();
console.log(JSON.stringify({ backend: 'wasm', size, batch, steps, unetMs, rows }));
