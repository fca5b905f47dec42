/**
 * What each learned layout family and training option (issue 18) costs per training step, against
 * the random control (a fixed layout: no layer to train) and the default per-pixel learned layer:
 * the model a sweep builds for the point (modelForPoint), trained with trainModel as a sweep trains it,
 * on synthetic phantoms at 64², batch 8, the variants alternating within each round so that other
 * load hits them alike.
 *
 *   nice -n 10 node --import tsx bench/layout-families.ts --backend wasm --steps 12 --rounds 3
 * Prints one line per variant: ms per step (median and best of rounds; the warm-up epoch excluded) and
 * its ratio to the per-pixel learned layer; then one JSON object on the last line.
 */
import { parseArgs } from 'node:util';
import { startBackend } from '../src/backend/index.js';
import { resolveConfig } from '../src/config/experiment-config.js';
import type { ExperimentConfig } from '../src/config/experiment-config.js';
import { generatePhantoms } from '../src/data/phantom.js';
import { modelForPoint } from '../src/experiments/run-point.js';
import type { PlanPoint } from '../src/experiments/plan.js';
import { loadProfile } from '../src/profile/load.js';
import { trainModel } from '../src/train/trainer.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    size: { type: 'string', default: '64' },
    batch: { type: 'string', default: '8' },
    steps: { type: 'string', default: '12' },
    rounds: { type: 'string', default: '3' },
  },
});
const size = Number(values.size);
const batch = Number(values.batch);
const steps = Number(values.steps);
const rounds = Number(values.rounds);

/** Each variant: the config fields it changes (as in configs/covid-ct-20-64-<name>.json) and the setup it trains. */
const VARIANTS: Record<string, { setup: 'learned' | 'random'; config: Record<string, unknown> }> = {
  random: { setup: 'random', config: {} },
  pixel: { setup: 'learned', config: {} },
  tile8: { setup: 'learned', config: { layout: { family: 'tile', tile: 8 } } },
  'grid-column': { setup: 'learned', config: { layout: { family: 'grid', granularity: 'column' } } },
  'grid-block8': { setup: 'learned', config: { layout: { family: 'grid', granularity: 'block', block: 8 } } },
  'pixel-ste': { setup: 'learned', config: { layoutTraining: { hardMask: 'ste' } } },
  'pixel-tv': { setup: 'learned', config: { layoutTraining: { tvWeight: 0.1 } } },
  'pixel-entropy': { setup: 'learned', config: { layoutTraining: { entropyWeight: 0.1 } } },
};

const started = await startBackend(values.backend as 'wasm');
const profile = loadProfile('detector-profiles/study-8bit-1bit.json');
const data = generatePhantoms({ n: batch * steps, size, seed: 3, nativeBits: 8, slicesPerVolume: 8 });

async function msPerStep(name: string): Promise<number> {
  const v = VARIANTS[name]!;
  const config: ExperimentConfig = resolveConfig({ size, ...v.config });
  const point: PlanPoint = { id: name, setup: v.setup, seed: 1, keptBits: 1, budget: 0.5 };
  const model = modelForPoint(profile, config, point);
  try {
    const out = await trainModel(model, data, {
      epochs: 2,
      batchSize: batch,
      learningRate: config.learningRate,
      layerLearningRate: config.layerLearningRate,
      decayStart: config.decayStart,
      decayFloor: config.decayFloor,
      warmupEpochs: 0,
      dice: config.dice,
      temperature: config.temperature,
      layoutPenalty: { entropy: config.layoutTraining.entropyWeight, totalVariation: config.layoutTraining.tvWeight },
      seed: 2,
    });
    return (1000 * out.history[1]!.seconds) / steps;
  } finally {
    model.dispose();
  }
}

const names = Object.keys(VARIANTS);
const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
for (let r = 0; r < rounds; r++) {
  for (const name of r % 2 ? [...names].reverse() : names) times[name]!.push(await msPerStep(name));
}
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor((v.length - 1) / 2)]!;
const base = median(times.pixel!);
console.log(`backend ${started.name} (${started.detail}), ${size}², batch ${batch}, ${steps} steps per epoch, ${rounds} rounds`);
for (const name of names) {
  const t = times[name]!;
  console.log(`${name}: ${median(t).toFixed(0)} ms/step median, ${Math.min(...t).toFixed(0)} best (rounds ${t.map((v) => v.toFixed(0)).join(', ')}), ×${(median(t) / base).toFixed(2)} of pixel`);
}
console.log(JSON.stringify({ backend: started.name, detail: started.detail, size, batch, steps, rounds, times }));
