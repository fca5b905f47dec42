import { join } from 'node:path';
import type { CtDataset } from '../data/types.js';
import type { DetectorProfile } from '../profile/types.js';
import { randomLayout, randomLevelLayout } from '../quant/random.js';
import { ditherLayout, ditherLevelLayout } from '../quant/dither.js';
import { blueNoiseLayout, blueNoiseLevelLayout } from '../quant/blue-noise.js';
import { contentLayoutForSplit, contentLevelLayoutForSplit, contentOrder } from '../quant/content.js';
import { lesionLayoutForSplit, lesionLevelLayoutForSplit, lesionOrder } from '../quant/lesion.js';
import { cellGeometry } from '../quant/layout-family.js';
import { hardPriorLogits, priorCellLogits, uniformLevelLogits } from '../quant/layout-prior.js';
import { UserError } from '../errors.js';
import { TrainableQuantization } from '../quant/layer.js';
import { MultiLevelQuantization } from '../quant/multilevel.js';
import { collapseReason, evaluate, evaluateSlicesAndVolumes } from '../train/evaluate.js';
import { JointModel, type InputStage } from '../train/joint.js';
import { trainModel } from '../train/trainer.js';
import type { Progress } from '../util/progress.js';
import type { ExperimentConfig, LayoutPrior } from '../config/experiment-config.js';
import { runId, type PlanPoint } from './plan.js';
import { readRunsIfAll, writeRun } from '../runs/store.js';
import { hasBudget, hasFixedLayout, trainsAsLayout, type RunResult } from '../runs/types.js';
import { DetectorReadout } from '../detector/input-stage.js';
import { detectorSpaceOf } from '../detector/profile.js';
import { DEFAULT_HU_WINDOW } from '../data/hu.js';
import { pixelsForBudget } from '../quant/budget.js';

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

/** Detectors of this process by settings: one per scan, data window and size, so their caches are shared by the points. */
const readouts = new Map<string, DetectorReadout>();

/**
 * The detector of a detector-space profile (null for image space) for data of the given depth and HU
 * window (default: the profile's depth, [−1024, 1024] HU).
 */
export function detectorReadoutFor(
  profile: DetectorProfile,
  config: ExperimentConfig,
  data?: Pick<CtDataset, 'nativeBits' | 'huWindow'>,
): DetectorReadout | null {
  const space = detectorSpaceOf(profile);
  if (!space) return null;
  const dataWindow = data?.huWindow ?? DEFAULT_HU_WINDOW;
  const dataBits = data?.nativeBits ?? profile.nativeBits;
  const key = JSON.stringify([profile.detector, profile.nativeBits, profile.rule, config.size, dataWindow, dataBits]);
  let readout = readouts.get(key);
  if (!readout) {
    readout = new DetectorReadout({ space, rows: config.size, cols: config.size, dataWindow: { ...dataWindow }, dataBits });
    readouts.set(key, readout);
  }
  return readout;
}

/** Channels a point reads at reduced precision in detector space: exactly round(budget · channels) (the hardware count). */
export function reducedChannels(channels: number, point: PlanPoint): number {
  switch (point.setup) {
    case 'baseline':
      return 0;
    case 'all-pixels-retrained':
      return channels;
    default:
      return pixelsForBudget(point.budget!, channels);
  }
}

/** Detector space: stored bits per reading averaged over the channels (views cancel). */
function bitsPerChannel(profile: DetectorProfile, point: PlanPoint, channels: number): number {
  if (point.setup === 'baseline') return profile.nativeBits;
  const reduced = reducedChannels(channels, point);
  return ((channels - reduced) * profile.nativeBits + reduced * point.keptBits!) / channels;
}

const meanOf = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / values.length;

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
    case 'lesion':
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
 * and lesion heuristics read the training split only.
 */
function fixedFamilyStage(profile: DetectorProfile, rows: number, cols: number, point: PlanPoint, train: SplitData['train'] | undefined): InputStage {
  const budget = point.budget!;
  const levels = [profile.nativeBits, ...profile.modes];
  const seed = point.seed * 7919 + 1;
  const needTrain = () => {
    if (!train) throw new Error(`the ${point.setup} layout of ${point.id} needs the training split`);
    return { train };
  };
  if (point.keptBits === undefined) {
    const bitsMap =
      point.setup === 'dither' ? ditherLevelLayout(rows, cols, levels, budget)
      : point.setup === 'blue-noise' ? blueNoiseLevelLayout(rows, cols, seed, levels, budget)
      : point.setup === 'lesion' ? lesionLevelLayoutForSplit(needTrain(), levels, budget)
      : contentLevelLayoutForSplit(needTrain(), levels, budget);
    return { kind: 'fixedBits', bitsMap };
  }
  const layout =
    point.setup === 'dither' ? ditherLayout(rows, cols, budget)
    : point.setup === 'blue-noise' ? blueNoiseLayout(rows, cols, budget, seed)
    : point.setup === 'lesion' ? lesionLayoutForSplit(needTrain(), budget)
    : contentLayoutForSplit(needTrain(), budget);
  return { kind: 'fixed', keptBits: point.keptBits, layout };
}

/**
 * The start a learned layout gets from `layoutTraining.prior`: `auto` is the content prior for a
 * 1-bit layout and the uniform prior for a multi-level one, both over image pixels, and none in
 * detector space (LAYOUT_PRIOR_RULES); `content` or `uniform` asked for where it is not defined is a
 * UserError naming the field. Absent (a config recorded before the option) = none.
 */
export function layoutPriorFor(config: ExperimentConfig, stage: 'learned' | 'multilevel', imageSpace: boolean): LayoutPrior {
  const asked = config.layoutTraining.prior ?? 'none';
  if (asked === 'none') return 'none';
  if (stage === 'multilevel') {
    if (asked === 'uniform') return 'uniform';
    if (asked === 'auto') return imageSpace ? 'uniform' : 'none';
    throw new UserError(`layoutTraining.prior: the ${asked} prior is for 1-bit learned layouts; this profile has several reduced modes (its prior is "uniform")`);
  }
  if (asked === 'uniform') throw new UserError('layoutTraining.prior: the uniform prior is for multi-level layouts; this profile has one reduced mode');
  if (imageSpace) return asked === 'lesion' ? 'lesion' : 'content';
  if (asked === 'auto') return 'none';
  throw new UserError(`layoutTraining.prior: the ${asked} prior ranks image pixels; a detector-space layout (one cell per channel) has none`);
}

/**
 * The starting cell logits of a learned layout with the content or lesion prior, or undefined (the
 * layer's own init). Without the training split (a stored run rebuilt for evaluation) the
 * checkpoint's logits replace any start, so none is made.
 */
function learnedPrior(config: ExperimentConfig, budget: number, rows: number, cols: number, slope: number, train: SplitData['train'] | undefined, channels: number | undefined): Float32Array | undefined {
  const prior = layoutPriorFor(config, 'learned', channels === undefined);
  if (prior === 'none' || !train) return undefined;
  const cells = cellGeometry(config.layout, rows, cols);
  const ranked = priorCellLogits(prior === 'lesion' ? lesionOrder(train) : contentOrder(train), cells, slope);
  return config.layoutTraining.priorShape === 'hard' ? hardPriorLogits(ranked, cells, slope, budget) : ranked;
}

/** The starting level logits of a multi-level layout with the uniform prior, or undefined (the layer's own init). */
function multiLevelPrior(config: ExperimentConfig, profile: DetectorProfile, budgetBits: number, rows: number, cols: number, slope: number, channels: number | undefined): Float32Array | undefined {
  if (layoutPriorFor(config, 'multilevel', channels === undefined) === 'none') return undefined;
  return uniformLevelLogits([profile.nativeBits, ...profile.modes], budgetBits, cellGeometry(config.layout, rows, cols), slope);
}

function inputStage(profile: DetectorProfile, config: ExperimentConfig, point: PlanPoint, train?: SplitData['train'], channels?: number): InputStage {
  const { slope, temperature } = config;
  // Detector space: the layout is one row of channels (one ADC per channel), else the size×size pixels.
  const rows = channels === undefined ? config.size : 1;
  const cols = channels ?? config.size;
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
    case 'lesion':
      return point.layoutBits ? givenLayoutStage(profile, point) : fixedFamilyStage(profile, rows, cols, point, train);
    case 'random':
      // Same seed for both kinds of control, so a rerun draws the same layout.
      return point.keptBits === undefined
        ? { kind: 'fixedBits', bitsMap: randomLevelLayout(rows, cols, [profile.nativeBits, ...profile.modes], point.budget!, point.seed * 7919 + 1) }
        : { kind: 'fixed', keptBits: point.keptBits, layout: randomLayout(rows, cols, point.budget!, point.seed * 7919 + 1) };
    case 'learned': {
      const initialLogits = learnedPrior(config, point.budget!, rows, cols, slope, train, channels);
      return {
        kind: 'learned',
        layer: new TrainableQuantization({
          rows,
          cols,
          nativeBits: profile.nativeBits,
          keptBits: point.keptBits!,
          rule: profile.rule,
          budget: point.budget!,
          slope,
          temperature: temperature.start,
          seed: point.seed * 104729 + 3,
          ...family,
          ...(initialLogits ? { initialLogits } : {}),
        }),
      };
    }
    case 'multilevel': {
      const initialLogits = multiLevelPrior(config, profile, point.budget!, rows, cols, slope, channels);
      return {
        kind: 'multilevel',
        layer: new MultiLevelQuantization({
          rows,
          cols,
          nativeBits: profile.nativeBits,
          modes: profile.modes,
          rule: profile.rule,
          budgetBits: point.budget!,
          slope,
          temperature: temperature.start,
          seed: point.seed * 104729 + 5,
          ...family,
          ...(initialLogits ? { initialLogits } : {}),
        }),
      };
    }
  }
}

/**
 * The untrained model of a point (its input stage and a seeded U-Net). A detector-space profile reads
 * the images with its detector: `data` says their depth and HU window (default: the profile's depth,
 * [−1024, 1024] HU). `train`: the training split, which a content-heuristic point needs unless its
 * layout is given (layoutBits).
 */
export function modelForPoint(
  profile: DetectorProfile,
  config: ExperimentConfig,
  point: PlanPoint,
  data?: Pick<CtDataset, 'nativeBits' | 'huWindow'>,
  train?: SplitData['train'],
): JointModel {
  const detector = detectorReadoutFor(profile, config, data);
  return new JointModel({
    height: config.size,
    width: config.size,
    nativeBits: profile.nativeBits,
    rule: profile.rule,
    stage: inputStage(profile, config, point, train, detector?.channels),
    ...(detector ? { detector } : {}),
    unet: config.unet,
    seed: point.seed,
    // Absent in configs recorded before the option existed: the default (fixed) then applies.
    ...(config.normalisation ? { normalisation: config.normalisation } : {}),
    // Absent in configs recorded before 2.5D existed: 2D then.
    ...(config.context && config.context.slices !== 1 ? { contextSlices: config.context.slices } : {}),
    ...(config.context?.network === '3d' ? { contextNetwork: '3d' as const } : {}),
  });
}

/** The plan point a stored run came from (for rebuilding its model from the checkpoint). */
export function pointOfRun(run: RunResult): PlanPoint {
  const setup = run.setup === 'all-pixels-baseline' ? 'baseline' : run.setup;
  // A fixed family's or a designer's layout is rebuilt from the run itself (the content heuristic's
  // training split is not at hand when a run is re-evaluated); the random control redraws its own.
  const given = hasFixedLayout(setup) && setup !== 'random';
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
  const model = modelForPoint(profile, config, point, data.train, data.train);
  const channels = model.options.detector?.channels;
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
      // Absent in configs recorded before the option existed: those runs ended on their last epoch.
      keepBestEpoch: config.keepBestEpoch ?? false,
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
    const { dice, diceVolume } = await evaluateSlicesAndVolumes(model, data.test, { ...evalOpts, mode: 'hardware' });
    const validationSet = data.validation.slices.length ? data.validation : data.test;
    const validationDice = await evaluate(model, validationSet, { ...evalOpts, mode: 'hardware' });
    const reason = collapseReason(validationDice, validationSet);
    const base: Omit<RunResult, 'id' | 'setup' | 'dice' | 'bitsPerPixel'> = {
      seed: point.seed,
      nativeBits: profile.nativeBits,
      collapsed: reason !== null,
      ...(reason ? { collapseReason: reason } : {}),
      history: outcome.history,
      // The layout's shape: size × size pixels, or one row of channels in detector space.
      rows: channels === undefined ? config.size : 1,
      cols: channels ?? config.size,
      trainSeconds: outcome.seconds,
      backend: ctx.backend,
      checkpoint: `checkpoints/${point.id}.ckpt`,
    };
    const main: RunResult = {
      ...base,
      id: point.id,
      setup: point.setup,
      dice,
      diceVolume,
      validationDice,
      // Only the run that trained: setup (a) below evaluates these weights but has no history of its own.
      ...(outcome.keptEpoch !== undefined ? { keptEpoch: outcome.keptEpoch } : {}),
      bitsPerPixel: channels === undefined ? bitsPerPixel(profile, point) : bitsPerChannel(profile, point, channels),
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
      const prior = layoutPriorFor(config, stage.kind, channels === undefined);
      if (prior !== 'none') main.layoutPrior = prior;
      if (prior !== 'none' && prior !== 'uniform' && config.layoutTraining.priorShape === 'hard') main.layoutPriorShape = 'hard';
    }
    // Stochastic masks at the schedule's final temperature, from the layer's evaluation noise stream (see predictMasks).
    const stochastic = { ...evalOpts, mode: 'stochastic' as const, temperature: config.temperature.end };
    if (stage.kind === 'learned') {
      main.diceStochastic = await evaluate(model, data.test, stochastic);
      main.probabilityMap = Array.from(await stage.layer.probabilityMap());
      main.hardwareLayout = Array.from(await stage.layer.hardwareLayout());
      const start = stage.layer.startingLayout();
      if (start && main.layoutPrior) main.layoutMovedPixels = main.hardwareLayout.filter((v, i) => v !== start[i]).length;
    } else if (stage.kind === 'multilevel') {
      main.diceStochastic = await evaluate(model, data.test, stochastic);
      main.bitsMap = Array.from(await stage.layer.bitsMap());
    } else if (stage.kind === 'fixed') {
      main.hardwareLayout = Array.from(stage.layout);
    } else if (stage.kind === 'fixedBits') {
      main.bitsMap = Array.from(stage.bitsMap);
    }
    // A multi-level hardware layout spends its budget to within one level step of one pixel: what is
    // stored is the layout's own mean, not the budget it was asked for.
    if (main.bitsMap && channels === undefined) main.bitsPerPixel = meanOf(main.bitsMap);
    const results = [main];
    for (const keptBits of point.evaluateAllPixelsAt ?? []) {
      const fed = new JointModel({ ...model.options, stage: { kind: 'all', keptBits } }, model.unet);
      const { dice: d, diceVolume: dVolume } = await evaluateSlicesAndVolumes(fed, data.test, { ...evalOpts, mode: 'hardware' });
      const dv = await evaluate(fed, validationSet, { ...evalOpts, mode: 'hardware' });
      results.push({
        ...base,
        id: runId('all-pixels-baseline', point.seed, { keptBits }),
        setup: 'all-pixels-baseline',
        keptBits,
        dice: d,
        diceVolume: dVolume,
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
