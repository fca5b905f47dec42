/**
 * One ctquant training (baseline or random control, which have no sampling noise) on a PNG folder, with its
 * initial U-Net weights, per-epoch loss and validation Dice and the final test Dice as JSON, so
 * bench/reference/trajectory.py can train the PyTorch mirror from the same weights on the same batches and compare
 * the two trajectories. Uses ctquant's own data split, model, trainer and evaluation (run-point.ts's path).
 *
 *   node --import tsx bench/reference/trajectory-dump.ts OUT.json DATA CONFIG.json SEED baseline|random BACKEND VOL...
 */
import * as tf from '@tensorflow/tfjs';
import { writeFileSync } from 'node:fs';
import { startBackend, type BackendName } from '../../src/backend/index.js';
import { loadConfig } from '../../src/config/experiment-config.js';
import { prepareData } from '../../src/experiments/data.js';
import { modelForPoint } from '../../src/experiments/run-point.js';
import { runId, type PlanPoint } from '../../src/experiments/plan.js';
import { loadProfile } from '../../src/profile/load.js';
import { evaluate } from '../../src/train/evaluate.js';
import { trainModel } from '../../src/train/trainer.js';

const [outPath, dataDir, configPath, seedArg, setupArg, backendArg, ...testVolumes] = process.argv.slice(2);
if (!outPath || !dataDir || !configPath || !seedArg || !setupArg || !backendArg)
  throw new Error('usage: trajectory-dump.ts OUT.json DATA CONFIG.json SEED baseline|random BACKEND VOL...');
const setup = setupArg === 'random' ? 'random' : 'baseline';
const seed = Number(seedArg);
await startBackend(backendArg as BackendName);
const profile = loadProfile('detector-profiles/study-8bit-1bit.json');
const config = { ...loadConfig(configPath), seed: 1 };
const { split } = await prepareData({ kind: 'folder', path: dataDir, skipBad: false, testVolumes }, profile, config);
const point: PlanPoint = setup === 'baseline'
  ? { id: runId('baseline', seed), setup, seed }
  : { id: runId('random', seed, { keptBits: 1, budget: 0.5 }), setup, seed, keptBits: 1, budget: 0.5 };
const model = modelForPoint(profile, config, point);
const weights: Record<string, { shape: number[]; values: number[] }> = {};
for (const w of model.unet.weights) weights[w.originalName] = { shape: w.shape as number[], values: Array.from(w.read().dataSync()) };
const epochs = setup === 'random' ? config.epochs : config.baselineEpochs;
const outcome = await trainModel(model, split.train, {
  epochs, batchSize: config.batchSize, learningRate: config.learningRate, layerLearningRate: config.layerLearningRate,
  decayStart: config.decayStart, decayFloor: config.decayFloor, warmupEpochs: config.warmupEpochs, dice: config.dice,
  temperature: config.temperature, seed, validation: split.validation,
});
const dice = await evaluate(model, split.test, { mode: 'hardware', batchSize: config.batchSize });
writeFileSync(outPath, JSON.stringify({ setup, seed, epochs, backend: tf.getBackend(), weights, history: outcome.history, dice }));
model.dispose();
