/** Settings and read-outs shared by the trainer tests (train, train-augment, train-context). */
import type { JointModel } from '../../src/train/joint.js';
import type { TrainOptions } from '../../src/train/trainer.js';

/** Two epochs of batch 4 with warm-up, decay and a temperature anneal, seed 11; `extra` overrides any field. */
export const shortTrainOptions = (extra: Partial<TrainOptions> = {}): TrainOptions => ({
  epochs: 2,
  batchSize: 4,
  learningRate: 1e-3,
  decayStart: 0.5,
  decayFloor: 0.1,
  warmupEpochs: 0.5,
  dice: 'perImage',
  temperature: { start: 1, end: 0.2 },
  seed: 11,
  ...extra,
});

/** Every state variable's values, in the model's order: models trained alike must match exactly. */
export const weightsOf = (m: JointModel): number[][] => m.stateVariables().map((s) => Array.from(s.variable.dataSync()));
