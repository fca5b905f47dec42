/**
 * Detector-space mode end to end: seconds per training step of the joint model (learned layer +
 * U-Net + Dice/BCE + Adam, trainModel) in image space and in detector space, on the same phantoms,
 * config and backend. Detector space adds the per-step readout (noise, both ADC digitisations), the
 * mask-mixed log and FBP, and FBPᵀ in the backward pass; the projection is cached per image, so the
 * first epoch (which projects every image once) is timed apart from the later ones.
 *   node --import tsx bench/detector-mode.ts [--size 64] [--epochs 3] [--profile detector-profiles/detector-parallel-12bit.json]
 * The last line is one JSON object.
 */
import { parseArgs } from 'node:util';
import { startBackend } from '../src/backend/index.js';
import { resolveConfig } from '../src/config/experiment-config.js';
import { generatePhantoms } from '../src/data/phantom.js';
import { modelForPoint } from '../src/experiments/run-point.js';
import { loadProfile } from '../src/profile/load.js';
import { trainModel } from '../src/train/trainer.js';

const { values } = parseArgs({
  options: {
    size: { type: 'string', default: '64' },
    epochs: { type: 'string', default: '3' },
    slices: { type: 'string', default: '64' },
    profile: { type: 'string', default: 'detector-profiles/detector-parallel-12bit.json' },
  },
});
const size = Number(values.size);
const epochs = Number(values.epochs);
const started = await startBackend('wasm');
const detectorProfile = loadProfile(values.profile!);
const { detector: _section, ...imageProfile } = detectorProfile;
const config = resolveConfig({ size });
const data = generatePhantoms({ n: Number(values.slices), size, seed: 1, nativeBits: detectorProfile.nativeBits, slicesPerVolume: 8 });
const point = { id: 'learned', setup: 'learned' as const, seed: 1, keptBits: Math.min(...detectorProfile.modes), budget: 0.5 };

async function secondsPerStep(profile: typeof detectorProfile): Promise<{ first: number; later: number }> {
  const model = modelForPoint(profile, config, point, data);
  try {
    const outcome = await trainModel(model, data, {
      epochs, batchSize: config.batchSize, learningRate: config.learningRate, decayStart: 1, decayFloor: 1, warmupEpochs: 0,
      dice: 'perImage', temperature: config.temperature, seed: 1,
    });
    const perEpoch = outcome.steps / epochs;
    const [first, ...rest] = outcome.history.map((h) => h.seconds / perEpoch);
    return { first: first!, later: rest.reduce((a, b) => a + b, 0) / rest.length };
  } finally {
    model.dispose();
  }
}

console.log(`wasm: ${started.detail}; ${size}², batch ${config.batchSize}, U-Net depth ${config.unet.depth} base ${config.unet.baseFilters}; ${epochs} epochs of ${data.slices.length} phantoms`);
const image = await secondsPerStep(imageProfile);
const detector = await secondsPerStep(detectorProfile);
const s = detectorProfile.detector!;
console.log(`image space    ${image.later.toFixed(3)} s/step`);
console.log(`detector space ${detector.later.toFixed(3)} s/step (first epoch, projecting each image once: ${detector.first.toFixed(3)} s/step); ${s.channels} channels × ${s.views} views, ${s.beam}`);
console.log(`detector / image: ${(detector.later / image.later).toFixed(2)}`);
console.log(JSON.stringify({ size, batch: config.batchSize, channels: s.channels, views: s.views, imageSecondsPerStep: image.later, detectorSecondsPerStep: detector.later, detectorFirstEpochSecondsPerStep: detector.first, ratio: detector.later / image.later }));
