import * as tf from '@tensorflow/tfjs';
import type { CtDataset } from '../data/types.js';
import { UserError } from '../errors.js';
import type { EpochRecord } from '../runs/types.js';
import { diceBceLoss } from '../model/losses.js';
import type { Progress } from '../util/progress.js';
import { Adam } from './adam.js';
import type { AugmentConfig } from './augment.js';
import { batchIndices, makeBatch, stepsPerEpoch } from './batches.js';
import { loadCheckpoint, saveCheckpoint, type NamedArray } from './checkpoint.js';
import { evaluate } from './evaluate.js';
import { hasTrainableLayer, type JointModel } from './joint.js';
import { learningRateAt, temperatureAt } from './schedule.js';
import type { LayoutPenaltyWeights } from '../quant/readout-layer.js';

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Learning rate of the quantization layer's logits (default: learningRate). */
  layerLearningRate?: number;
  /** Fraction of epochs after which the rate decays linearly to decayFloor·rate. */
  decayStart: number;
  decayFloor: number;
  warmupEpochs: number;
  dice: 'perImage' | 'batch';
  temperature: { start: number; end: number };
  /**
   * Fraction of the epochs after which a trainable layer's layout is fixed: from then on the
   * U-Net alone trains, on the hardware layout (the one a detector is built with, the one it is
   * evaluated on) instead of sampled masks. 1 (the default) never fixes it.
   */
  fixLayoutAt?: number;
  /**
   * Penalties on a trainable layer's map added to the loss while the layout learns (entropy:
   * polarisation; totalVariation: smoothness of the logits). Absent or 0: off.
   */
  layoutPenalty?: LayoutPenaltyWeights;
  /**
   * Ends on the weights (U-Net and layout logits together) of the epoch with the best validation
   * Dice instead of the last epoch's: early stopping chosen on validation, so a run whose last epoch
   * collapses keeps its best one. Needs `validation`; off: the last epoch.
   */
  keepBestEpoch?: boolean;
  seed: number;
  /** Training-data augmentation (none when absent); its stream depends only on (seed, epoch, slice), so resuming repeats it. */
  augment?: AugmentConfig;
  /** Where to keep the checkpoint (one file); none means no checkpointing. */
  checkpointPath?: string;
  /** Continue from checkpointPath when it exists. */
  resume?: boolean;
  /** Validation set for the per-epoch Dice (curves, collapse detection). */
  validation?: CtDataset;
  progress?: Progress;
  /** Polled after every step; true stops the run after a checkpoint (Ctrl-C). */
  shouldStop?: () => boolean;
  /**
   * Read the losses back every this many steps (default: 8 on webgpu, 1 elsewhere). A read-back
   * waits for the GPU to finish, so the CPU cannot queue the next step meanwhile; the losses in
   * between stay on the device and are read together, so the epoch loss and the NaN check still
   * see every step.
   */
  lossReadEvery?: number;
  /** For tests: throw as if interrupted after this global step. */
  stopAfterStep?: number;
}

export interface TrainOutcome {
  history: EpochRecord[];
  /** True when stopped early (Ctrl-C); the checkpoint holds the state to resume from. */
  stopped: boolean;
  seconds: number;
  steps: number;
  /** The epoch (1-based) whose weights the model ends with, when keepBestEpoch chose one. */
  keptEpoch?: number;
}

interface CheckpointState {
  epoch: number;
  stepInEpoch: number;
  globalStep: number;
  adamStep: number;
  history: EpochRecord[];
  seconds: number;
  variableNames: string[];
  /** Running loss of the current epoch, so an epoch interrupted mid-way reports the same mean. */
  epochLossSum: number;
  epochLossCount: number;
  /** keepBestEpoch: the best epoch so far (1-based) and its validation Dice; its weights are the `best:` arrays. */
  best?: { epoch: number; valDice: number };
}

/** Prefix of a checkpoint's copies of the best epoch's weights (keepBestEpoch). */
const BEST = 'best:';

/** The noise seed of one training step: masks depend only on (seed, step), so a resumed run samples the same ones. */
function stepNoiseSeed(seed: number, step: number): number {
  return (Math.imul(seed + 1, 0x9e3779b1) ^ Math.imul(step + 1, 0x85ebca6b)) >>> 0;
}

/** Trains `model` on `train`; checkpoints every epoch and on stop; a NaN loss is a UserError (exit 3) and keeps the last good checkpoint. */
export async function trainModel(model: JointModel, train: CtDataset, opts: TrainOptions): Promise<TrainOutcome> {
  const trainable = model.trainableVariables();
  const state = model.stateVariables();
  const layerVariables = new Set(hasTrainableLayer(model.stage) ? model.stage.layer.trainableWeights.map((w) => w.read().id) : []);
  const layerScale = (opts.layerLearningRate ?? opts.learningRate) / opts.learningRate;
  const adam = new Adam(trainable, 0.9, 0.999, 1e-7, trainable.map((v) => (layerVariables.has(v.id) ? layerScale : 1)));
  const perEpoch = stepsPerEpoch(train.slices.length, opts.batchSize);
  const totalSteps = perEpoch * opts.epochs;
  const schedule = {
    base: opts.learningRate,
    warmupSteps: Math.round(opts.warmupEpochs * perEpoch),
    decayStartStep: Math.round(opts.decayStart * totalSteps),
    totalSteps,
    floor: opts.decayFloor,
  };
  const layer = hasTrainableLayer(model.stage) ? model.stage.layer : null;
  const fixedFromEpoch = layer ? fixedLayoutEpoch(opts.fixLayoutAt ?? 1, opts.epochs) : opts.epochs;
  const unetOnly = trainable.filter((v) => !layerVariables.has(v.id));
  /** Whether the layer's hardware layout is read back for this epoch (evaluation unpins it). */
  let layoutPinned = false;
  const readEvery = Math.max(1, opts.lossReadEvery ?? defaultLossReadEvery(tf.getBackend()));
  const penalty = opts.layoutPenalty && (opts.layoutPenalty.entropy || opts.layoutPenalty.totalVariation) ? opts.layoutPenalty : null;

  let epoch = 0;
  let stepInEpoch = 0;
  let globalStep = 0;
  let history: EpochRecord[] = [];
  let priorSeconds = 0;
  let epochLossSum = 0;
  let epochLossCount = 0;
  /** Step losses not read back yet (see lossReadEvery). */
  const pending: PendingLoss[] = [];
  const keepBest = opts.keepBestEpoch === true && (opts.validation?.slices.length ?? 0) > 0;
  /** keepBestEpoch: the best epoch so far and a copy of its weights, in the order of `state`. */
  let best: { epoch: number; valDice: number; values: Float32Array[] } | null = null;

  if (opts.resume && opts.checkpointPath) {
    const ckpt = loadCheckpoint<CheckpointState>(opts.checkpointPath);
    if (ckpt) {
      checkState(ckpt.state, opts.checkpointPath);
      if (ckpt.state.epoch > opts.epochs || ckpt.state.stepInEpoch > perEpoch)
        throw new UserError(`checkpoint is at epoch ${ckpt.state.epoch + 1}, step ${ckpt.state.stepInEpoch + 1}, past this training's ${opts.epochs} epochs of ${perEpoch} steps; delete it or use the same settings`, { file: opts.checkpointPath });
      restore(ckpt.state, ckpt.arrays, state, adam, opts.checkpointPath);
      ({ epoch, stepInEpoch, globalStep, history, epochLossSum, epochLossCount } = ckpt.state);
      if (ckpt.state.best) best = { ...ckpt.state.best, values: bestArrays(ckpt.arrays, state, opts.checkpointPath).map((a) => a.values) };
      priorSeconds = ckpt.state.seconds;
      opts.progress?.log(`resumed from ${opts.checkpointPath} at epoch ${epoch + 1}, step ${stepInEpoch + 1}`);
    }
  }

  const t0 = Date.now();
  const elapsed = () => priorSeconds + (Date.now() - t0) / 1000;
  // Read back asynchronously: webgpu in Node has no synchronous read.
  const checkpoint = async () => {
    if (!opts.checkpointPath) return;
    const arrays: NamedArray[] = [
      ...(await Promise.all(state.map(async (s) => ({ name: s.name, shape: s.variable.shape, values: (await s.variable.data()) as Float32Array })))),
      ...(await Promise.all(adam.state().moments.map(async (m, i) => ({ name: `adam:${i}`, shape: m.shape, values: (await m.data()) as Float32Array })))),
      ...(best ? state.map((s, i) => ({ name: BEST + s.name, shape: s.variable.shape, values: best!.values[i]! })) : []),
    ];
    saveCheckpoint<CheckpointState>(opts.checkpointPath, {
      state: {
        epoch,
        stepInEpoch,
        globalStep,
        adamStep: adam.step,
        history,
        seconds: elapsed(),
        variableNames: state.map((s) => s.name),
        epochLossSum,
        epochLossCount,
        ...(best ? { best: { epoch: best.epoch, valDice: best.valDice } } : {}),
      },
      arrays,
    });
  };

  let epochStart = Date.now();
  try {
    while (epoch < opts.epochs) {
      const layoutFixed = epoch >= fixedFromEpoch;
      if (layoutFixed && !layoutPinned) {
        // The logits no longer change: read the layout once per epoch, not once per step.
        await layer!.pinHardware();
        layoutPinned = true;
      }
      while (stepInEpoch < perEpoch) {
        const lr = learningRateAt(schedule, globalStep);
        const temperature = temperatureAt(opts.temperature.start, opts.temperature.end, globalStep, totalSteps);
        if (layer) {
          layer.setTemperature(temperature);
          layer.resetNoise(stepNoiseSeed(opts.seed, globalStep));
        }
        const idx = batchIndices(train.slices.length, opts.batchSize, opts.seed, epoch, stepInEpoch);
        const { counts, masks } = makeBatch(train, idx, opts.augment && { config: opts.augment, seed: opts.seed, epoch }, model.contextSlices);
        const mode = layoutFixed ? 'hardware' : 'stochastic';
        // Straight-through: this step's forward pass uses the hardware layout of the current
        // logits, read back here once (asynchronously, so every backend can).
        const steThisStep = !layoutFixed && layer?.straightThrough === true;
        if (steThisStep) await layer!.pinHardware();
        const { value, grads } = tf.variableGrads(() => {
          const loss = diceBceLoss(masks, model.forward(counts, { training: true, mode, readout: { epoch, indices: idx } }), { perImage: opts.dice === 'perImage' }) as tf.Scalar;
          return penalty && !layoutFixed ? (tf.add(loss, layer!.layoutPenalty(penalty)) as tf.Scalar) : loss;
        }, layoutFixed ? unetOnly : trainable);
        if (steThisStep) layer!.unpinHardware();
        adam.apply(trainable.map((v) => grads[v.name] ?? null), lr);
        tf.dispose([counts, masks, ...Object.values(grads)]);
        pending.push({ loss: value, epoch, stepInEpoch });
        const stopNow = opts.shouldStop?.() || opts.stopAfterStep === globalStep + 1;
        if ((globalStep + 1) % readEvery === 0 || stepInEpoch === perEpoch - 1 || stopNow) {
          const losses = await readLosses(pending.splice(0), opts.checkpointPath);
          for (const loss of losses) {
            epochLossSum += loss;
            epochLossCount += 1;
          }
          opts.progress?.update(globalStep + 1, `epoch ${epoch + 1}/${opts.epochs} loss ${losses.at(-1)!.toFixed(4)}`);
        }
        stepInEpoch += 1;
        globalStep += 1;
        if (stopNow) {
          await checkpoint();
          return { history, stopped: true, seconds: elapsed(), steps: globalStep };
        }
        await tf.nextFrame?.();
      }
      const record: EpochRecord = {
        epoch: epoch + 1,
        loss: epochLossCount ? epochLossSum / epochLossCount : NaN,
        learningRate: learningRateAt(schedule, Math.max(0, globalStep - 1)),
        seconds: (Date.now() - epochStart) / 1000,
      };
      if (layer) record.temperature = layer.temperature;
      if (layoutFixed) record.layoutFixed = true;
      if (opts.validation && opts.validation.slices.length) {
        record.valDice = (await evaluate(model, opts.validation, { mode: 'hardware', batchSize: opts.batchSize })).mean;
        layoutPinned = false;
        // Ties go to the later epoch: it has trained longer (and a run that never scores keeps its last).
        if (keepBest && (best === null || record.valDice >= best.valDice)) {
          best = { epoch: record.epoch, valDice: record.valDice, values: await Promise.all(state.map(async (s) => (await s.variable.data()) as Float32Array)) };
        }
      }
      history = [...history, record];
      opts.progress?.log(
        `epoch ${record.epoch}/${opts.epochs} loss ${record.loss.toFixed(4)}` +
          (record.valDice !== undefined ? ` val Dice ${record.valDice.toFixed(3)}` : '') +
          ` lr ${record.learningRate.toExponential(2)}` +
          (layoutFixed ? ' (layout fixed)' : ''),
      );
      epoch += 1;
      stepInEpoch = 0;
      epochLossSum = 0;
      epochLossCount = 0;
      epochStart = Date.now();
      await checkpoint();
    }
  } finally {
    tf.dispose(pending.map((p) => p.loss));
    adam.dispose();
    if (layoutPinned) layer?.unpinHardware();
  }
  if (!best) return { history, stopped: false, seconds: elapsed(), steps: globalStep };
  if (best.epoch !== opts.epochs) {
    for (const [i, { variable }] of state.entries()) variable.assign(tf.tensor(best.values[i]!, variable.shape));
    opts.progress?.log(`kept epoch ${best.epoch}/${opts.epochs}: the best validation Dice (${best.valDice.toFixed(3)})`);
  }
  return { history, stopped: false, seconds: elapsed(), steps: globalStep, keptEpoch: best.epoch };
}

/** The first epoch (0-based) trained on the fixed layout: round(fraction · epochs), never before the first. */
export function fixedLayoutEpoch(fraction: number, epochs: number): number {
  if (!(fraction >= 0)) throw new RangeError(`fixLayoutAt must be >= 0, got ${fraction}`);
  return fraction >= 1 ? epochs : Math.max(1, Math.min(epochs, Math.round(fraction * epochs)));
}

/** Steps between loss read-backs when the caller does not say: only a GPU gains from waiting. */
export function defaultLossReadEvery(backend: string): number {
  return backend === 'webgpu' ? 8 : 1;
}

interface PendingLoss {
  loss: tf.Tensor;
  epoch: number;
  stepInEpoch: number;
}

/**
 * Reads the queued step losses with one read-back, in step order, and disposes them; the first
 * non-finite one is a UserError (exit 3) naming its step.
 */
async function readLosses(pending: PendingLoss[], checkpointPath: string | undefined): Promise<number[]> {
  let values: Float32Array;
  try {
    values = await readScalars(pending.map((p) => p.loss));
  } finally {
    tf.dispose(pending.map((p) => p.loss));
  }
  const losses = Array.from(values);
  const bad = losses.findIndex((loss) => !Number.isFinite(loss));
  if (bad >= 0) {
    const { epoch, stepInEpoch } = pending[bad]!;
    throw new UserError(
      `training diverged: the loss is ${losses[bad]} at epoch ${epoch + 1}, step ${stepInEpoch + 1}` +
        (checkpointPath ? `; the last good checkpoint is kept at ${checkpointPath}` : '') +
        ' (lower the learning rate or enable normalisation)',
      { exitCode: 3 },
    );
  }
  return losses;
}

async function readScalars(scalars: tf.Tensor[]): Promise<Float32Array> {
  if (scalars.length === 1) return (await scalars[0]!.data()) as Float32Array;
  const stacked = tf.stack(scalars);
  try {
    return (await stacked.data()) as Float32Array;
  } finally {
    stacked.dispose();
  }
}

function restore(
  s: CheckpointState,
  arrays: NamedArray[],
  state: { name: string; variable: tf.Variable }[],
  adam: Adam,
  file: string,
): void {
  assignState(arrays, state, file);
  const moments = arrays.filter((a) => a.name.startsWith('adam:'));
  // Adam.restore would throw a plain Error on a moment list of another length or size.
  const expected = adam.state().moments;
  if (moments.length !== expected.length || moments.some((m, i) => m.values.length !== expected[i]!.size))
    throw new UserError('checkpoint does not match this model (optimiser moments); delete it or use the same settings', { file });
  adam.restore(s.adamStep, moments.map((a) => a.values));
}

/**
 * The header state of a checkpoint as the trainer reads it back: counters that are integers ≥ 0,
 * finite sums and times, a history of numeric epochs and losses. A damaged or hand-edited one
 * would resume at epoch "1" + 1 = "11", or at epoch −4, and train a garbage run.
 */
function checkState(s: CheckpointState, file: string): void {
  const bad = (what: string): never => {
    throw new UserError(`checkpoint header is corrupt (state.${what})`, { file });
  };
  const u = s as unknown as Record<string, unknown>;
  for (const k of ['epoch', 'stepInEpoch', 'globalStep', 'adamStep', 'epochLossCount'] as const) {
    if (!(Number.isInteger(u[k]) && (u[k] as number) >= 0)) bad(`${k} must be an integer ≥ 0`);
  }
  for (const k of ['seconds', 'epochLossSum'] as const) if (!Number.isFinite(u[k])) bad(`${k} must be a number`);
  if (!Array.isArray(u.variableNames) || !u.variableNames.every((n) => typeof n === 'string')) bad('variableNames must be a list of names');
  if (!Array.isArray(u.history)) return bad('history must be a list');
  u.history.forEach((h: unknown, i) => {
    const e = h as Record<string, unknown> | null;
    if (typeof e !== 'object' || e === null || !Number.isFinite(e.epoch) || typeof e.loss !== 'number') bad(`history[${i}] needs numeric epoch and loss`);
  });
  const b = u.best as Record<string, unknown> | null | undefined;
  if (b !== undefined && (typeof b !== 'object' || b === null || !Number.isInteger(b.epoch) || (b.epoch as number) < 1 || !Number.isFinite(b.valDice))) {
    bad('best must be { epoch ≥ 1, valDice }');
  }
}

function assignState(arrays: NamedArray[], state: { name: string; variable: tf.Variable }[], file: string): void {
  const byName = new Map(arrays.map((a) => [a.name, a]));
  for (const { name, variable } of state) {
    const a = byName.get(name);
    if (!a || a.values.length !== variable.size)
      throw new UserError(`checkpoint does not match this model (variable ${name}); delete it or use the same settings`, { file });
    variable.assign(tf.tensor(a.values, variable.shape));
  }
}

/** The `best:` copies of the state variables, renamed to them (keepBestEpoch). */
function bestArrays(arrays: NamedArray[], state: { name: string; variable: tf.Variable }[], file: string): NamedArray[] {
  const byName = new Map(arrays.filter((a) => a.name.startsWith(BEST)).map((a) => [a.name.slice(BEST.length), a]));
  return state.map(({ name, variable }) => {
    const a = byName.get(name);
    if (!a || a.values.length !== variable.size) throw new UserError(`checkpoint does not match this model (best-epoch copy of ${name}); delete it or use the same settings`, { file });
    return { ...a, name };
  });
}

/**
 * Loads a trained model's weights (not the optimiser) from a checkpoint written by trainModel: the
 * kept epoch's where keepBestEpoch chose one (the weights the run was evaluated with), else the last.
 */
export function restoreModelState(model: JointModel, checkpointPath: string): void {
  const ckpt = loadCheckpoint<CheckpointState>(checkpointPath);
  if (!ckpt) throw new UserError('checkpoint not found', { file: checkpointPath });
  checkState(ckpt.state, checkpointPath);
  const variables = model.stateVariables();
  assignState(ckpt.state.best ? bestArrays(ckpt.arrays, variables, checkpointPath) : ckpt.arrays, variables, checkpointPath);
}
