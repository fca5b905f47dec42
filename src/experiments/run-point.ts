import { join } from 'node:path';
import type { CtDataset } from '../data/types.js';
import type { DetectorProfile } from '../profile/types.js';
import { randomLayout, randomLevelLayout } from '../quant/random.js';
import { ditherLayout, ditherLevelLayout } from '../quant/dither.js';
import { blueNoiseLayout, blueNoiseLevelLayout } from '../quant/blue-noise.js';
import { contentLayoutForSplit, contentLevelLayoutForSplit } from '../quant/content.js';
import { TrainableQuantization } from '../quant/layer.js';
import { MultiLevelQuantization } from '../quant/multilevel.js';
import { collapseReason, evaluate } from '../train/evaluate.js';
import { JointModel, type InputStage } from '../train/joint.js';
import { trainModel } from '../train/trainer.js';
import type { Progress } from '../util/progress.js';
import type { ExperimentConfig } from '../config/experiment-config.js';
import { runId, type PlanPoint } from './plan.js';
import { readRunsIfAll, writeRun } from '../runs/store.js';
import { trainsAsLayout, type RunResult } from '../runs/types.js';

export interface SplitData {
  train: CtDataset;
  validation: CtDataset;
  test: CtDataset;
}

export interface PointContext {
  profile: DetectorProfile;
  config: ExperimentConfig;
  data: SplitData;
  outDir: string;
  backend: string;
  resume: boolean;
  progress?: (label: string, totalSteps: number) => Progress;
  shouldStop?: () => boolean;
  /** Called with the trained model before it is disposed (example predictions, saved layouts). */
  onTrained?: (point: PlanPoint, model: JointModel) => Promise<void> | void;
}

/** Results a point already wrote (a resumed sweep skips it), or null; a damaged run file is a UserError naming it. */
export function finishedPoint(outDir: string, point: PlanPoint): RunResult[] | null {
  return readRunsIfAll(outDir, resultIds(point));
}

function resultIds(point: PlanPoint): string[] {
  return [point.id, ...(point.evaluateAllPixelsAt ?? []).map((k) => runId('all-pixels-baseline', point.seed, { keptBits: k }))];
}

function bitsPerPixel(profile: DetectorProfile, point: PlanPoint): number {
  switch (point.setup) {
    case 'baseline':
      return profile.nativeBits;
    case 'all-pixels-retrained':
      return point.keptBits!;
    case 'designer':
      return point.layoutBits!.reduce((a, b) => a + b, 0) / point.layoutBits!.length;
    case 'learned':
    case 'random':
    case 'dither':
    case 'blue-noise':
    case 'content':
      return point.keptBits === undefined
        ? point.budget!
        : (1 - point.budget!) * profile.nativeBits + point.budget! * point.keptBits;
    case 'multilevel':
      return point.budget!;
  }
}

/** A given layout (ADC bits per pixel) as an input stage: a mask at keptBits when the point has one, else bits per pixel. */
function givenLayoutStage(profile: DetectorProfile, point: PlanPoint): InputStage {
  const bits = point.layoutBits!;
  return point.keptBits === undefined
    ? { kind: 'fixedBits', bitsMap: Uint8Array.from(bits) }
    : { kind: 'fixed', keptBits: point.keptBits, layout: Uint8Array.from(bits, (b) => (b < profile.nativeBits ? 1 : 0)) };
}

/**
 * The layout of a fixed family at the point's budget: a mask at keptBits (fraction budgets) or ADC
 * bits per pixel (bits-per-pixel budgets). Blue noise is seeded as the random control is; the content
 * heuristic reads the training split only.
 */
function fixedFamilyStage(profile: DetectorProfile, size: number, point: PlanPoint, train: SplitData['train'] | undefined): InputStage {
  const budget = point.budget!;
  const levels = [profile.nativeBits, ...profile.modes];
  const seed = point.seed * 7919 + 1;
  const needTrain = () => {
    if (!train) throw new Error(`the content layout of ${point.id} needs the training split`);
    return { train };
  };
  if (point.keptBits === undefined) {
    const bitsMap =
      point.setup === 'dither' ? ditherLevelLayout(size, size, levels, budget)
      : point.setup === 'blue-noise' ? blueNoiseLevelLayout(size, size, seed, levels, budget)
      : contentLevelLayoutForSplit(needTrain(), levels, budget);
    return { kind: 'fixedBits', bitsMap };
  }
  const layout =
    point.setup === 'dither' ? ditherLayout(size, size, budget)
    : point.setup === 'blue-noise' ? blueNoiseLayout(size, size, budget, seed)
    : contentLayoutForSplit(needTrain(), budget);
  return { kind: 'fixed', keptBits: point.keptBits, layout };
}

function inputStage(profile: DetectorProfile, config: ExperimentConfig, point: PlanPoint, train?: SplitData['train']): InputStage {
  const { size, slope, temperature } = config;
  // Only non-default options reach the layer, so a default layer is built exactly as before.
  const family = {
    ...(config.layout.family !== 'pixel' ? { layout: config.layout } : {}),
    ...(config.layoutTraining.hardMask === 'ste' ? { straightThrough: true } : {}),
  };
  switch (point.setup) {
    case 'baseline':
      return { kind: 'none' };
    case 'all-pixels-retrained':
      return { kind: 'all', keptBits: point.keptBits! };
    case 'designer':
      return givenLayoutStage(profile, point);
    case 'dither':
    case 'blue-noise':
    case 'content':
      return point.layoutBits ? givenLayoutStage(profile, point) : fixedFamilyStage(profile, size, point, train);
    case 'random':
      // Same seed for both kinds of control, so a rerun draws the same layout.
      return point.keptBits === undefined
        ? { kind: 'fixedBits', bitsMap: randomLevelLayout(size, size, [profile.nativeBits, ...profile.modes], point.budget!, point.seed * 7919 + 1) }
        : { kind: 'fixed', keptBits: point.keptBits, layout: randomLayout(size, size, point.budget!, point.seed * 7919 + 1) };
    case 'learned':
      return {
        kind: 'learned',
        layer: new TrainableQuantization({
          rows: size,
          cols: size,
          nativeBits: profile.nativeBits,
          keptBits: point.keptBits!,
          rule: profile.rule,
          budget: point.budget!,
          slope,
          temperature: temperature.start,
          seed: point.seed * 104729 + 3,
          ...family,
        }),
      };
    case 'multilevel':
      return {
        kind: 'multilevel',
        layer: new MultiLevelQuantization({
          rows: size,
          cols: size,
          nativeBits: profile.nativeBits,
          modes: profile.modes,
          rule: profile.rule,
          budgetBits: point.budget!,
          slope,
          temperature: temperature.start,
          seed: point.seed * 104729 + 5,
          ...family,
        }),
      };
  }
}

/**
 * The untrained model of a point (its input stage and a seeded U-Net). `train`: the training split,
 * which a content-heuristic point needs unless its layout is given (layoutBits).
 */
export function modelForPoint(profile: DetectorProfile, config: ExperimentConfig, point: PlanPoint, train?: SplitData['train']): JointModel {
  return new JointModel({
    height: config.size,
    width: config.size,
    nativeBits: profile.nativeBits,
    rule: profile.rule,
    stage: inputStage(profile, config, point, train),
    unet: config.unet,
    seed: point.seed,
    // Absent in configs recorded before the option existed: the default (fixed) then applies.
    ...(config.normalisation ? { normalisation: config.normalisation } : {}),
  });
}

/** The plan point a stored run came from (for rebuilding its model from the checkpoint). */
export function pointOfRun(run: RunResult): PlanPoint {
  const setup = run.setup === 'all-pixels-baseline' ? 'baseline' : run.setup;
  // A fixed family's or a designer's layout is rebuilt from the run itself (the content heuristic's
  // training split is not at hand when a run is re-evaluated); the random control redraws its own.
  const given = setup === 'designer' || setup === 'dither' || setup === 'blue-noise' || setup === 'content';
  const layoutBits = !given ? undefined
    : run.bitsMap ? [...run.bitsMap]
    : run.hardwareLayout?.map((v) => (v ? run.keptBits! : run.nativeBits));
  return {
    ...(layoutBits ? { layoutBits } : {}),
    ...(run.layoutFile !== undefined ? { layoutFile: run.layoutFile } : {}),
    id: setup === 'baseline' ? runId('baseline', run.seed) : run.id,
    setup,
    seed: run.seed,
    ...(run.keptBits !== undefined && setup !== 'baseline' ? { keptBits: run.keptBits } : {}),
    ...(run.budget !== undefined ? { budget: run.budget } : {}),
  };
}

/** Trains and evaluates one point; writes runs/<id>.json for each result atomically; returns them. */
export async function runPoint(ctx: PointContext, point: PlanPoint): Promise<{ results: RunResult[]; stopped: boolean }> {
  const done = ctx.resume ? finishedPoint(ctx.outDir, point) : null;
  if (done) return { results: done, stopped: false };
  const { config, profile, data } = ctx;
  const model = modelForPoint(profile, config, point, data.train);
  try {
    // The random control, the fixed families and a designer's layout train exactly as long as the learned layer they are compared with.
    const epochs = trainsAsLayout(point.setup) ? config.epochs : config.baselineEpochs;
    const steps = epochs * Math.max(1, Math.floor(data.train.slices.length / config.batchSize));
    const progress = ctx.progress?.(point.id, steps);
    const outcome = await trainModel(model, data.train, {
      epochs,
      batchSize: config.batchSize,
      learningRate: config.learningRate,
      layerLearningRate: config.layerLearningRate,
      decayStart: config.decayStart,
      fixLayoutAt: config.fixLayoutAt,
      decayFloor: config.decayFloor,
      warmupEpochs: config.warmupEpochs,
      dice: config.dice,
      temperature: config.temperature,
      layoutPenalty: { entropy: config.layoutTraining.entropyWeight, totalVariation: config.layoutTraining.tvWeight },
      seed: point.seed,
      ...(config.augment ? { augment: config.augment } : {}),
      checkpointPath: join(ctx.outDir, 'checkpoints', `${point.id}.ckpt`),
      resume: ctx.resume,
      validation: data.validation,
      progress,
      shouldStop: ctx.shouldStop,
    });
    if (outcome.stopped) return { results: [], stopped: true };
    const evalOpts = { batchSize: config.batchSize };
    const dice = await evaluate(model, data.test, { ...evalOpts, mode: 'hardware' });
    const validationSet = data.validation.slices.length ? data.validation : data.test;
    const validationDice = await evaluate(model, validationSet, { ...evalOpts, mode: 'hardware' });
    const reason = collapseReason(validationDice, validationSet);
    const base: Omit<RunResult, 'id' | 'setup' | 'dice' | 'bitsPerPixel'> = {
      seed: point.seed,
      nativeBits: profile.nativeBits,
      collapsed: reason !== null,
      ...(reason ? { collapseReason: reason } : {}),
      history: outcome.history,
      rows: config.size,
      cols: config.size,
      trainSeconds: outcome.seconds,
      backend: ctx.backend,
      checkpoint: `checkpoints/${point.id}.ckpt`,
    };
    const main: RunResult = {
      ...base,
      id: point.id,
      setup: point.setup,
      dice,
      validationDice,
      bitsPerPixel: bitsPerPixel(profile, point),
      ...(point.keptBits !== undefined ? { keptBits: point.keptBits } : {}),
      ...(point.budget !== undefined ? { budget: point.budget } : {}),
      ...(point.layoutFile !== undefined ? { layoutFile: point.layoutFile } : {}),
    };
    const stage = model.stage;
    if (stage.kind === 'learned' || stage.kind === 'multilevel') {
      if (stage.layer.layout.family !== 'pixel') {
        main.layoutFamily = { ...stage.layer.layout };
        main.layoutCells = stage.layer.cellShape;
      }
      if (stage.layer.straightThrough) main.straightThrough = true;
    }
    if (stage.kind === 'learned') {
      main.diceStochastic = await evaluate(model, data.test, { ...evalOpts, mode: 'stochastic' });
      main.probabilityMap = Array.from(await stage.layer.probabilityMap());
      main.hardwareLayout = Array.from(await stage.layer.hardwareLayout());
    } else if (stage.kind === 'multilevel') {
      main.diceStochastic = await evaluate(model, data.test, { ...evalOpts, mode: 'stochastic' });
      main.bitsMap = Array.from(await stage.layer.bitsMap());
    } else if (stage.kind === 'fixed') {
      main.hardwareLayout = Array.from(stage.layout);
    } else if (stage.kind === 'fixedBits') {
      main.bitsMap = Array.from(stage.bitsMap);
    }
    const results = [main];
    for (const keptBits of point.evaluateAllPixelsAt ?? []) {
      const fed = new JointModel({ ...model.options, stage: { kind: 'all', keptBits } }, model.unet);
      const d = await evaluate(fed, data.test, { ...evalOpts, mode: 'hardware' });
      const dv = await evaluate(fed, validationSet, { ...evalOpts, mode: 'hardware' });
      results.push({
        ...base,
        id: runId('all-pixels-baseline', point.seed, { keptBits }),
        setup: 'all-pixels-baseline',
        keptBits,
        dice: d,
        validationDice: dv,
        bitsPerPixel: keptBits,
        history: [],
      });
    }
    await ctx.onTrained?.(point, model);
    for (const r of results) writeRun(ctx.outDir, r);
    return { results, stopped: false };
  } finally {
    model.dispose();
  }
}
