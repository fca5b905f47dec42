import type { Fit } from '../data/resize.js';
import { UserError } from '../errors.js';
import { compileSchema, schemaProblems, type SchemaProblem } from '../util/validate.js';
import { readJsonFile, readShippedSchema } from '../util/json-file.js';
import { schemaDefaults, type SchemaNode } from './schema-defaults.js';

/** Training-data augmentation before the readout (train/augment.ts applies it; schema: `augment`). */
export interface AugmentConfig {
  /** Random horizontal and vertical flips (each with probability 1/2). */
  flip: boolean;
  /** Random multiple of 90° (square images; non-square images get 0° or 180°). */
  rotate90: boolean;
  /** Zoom factor drawn log-uniformly in [1/(1+scale), 1+scale] with a random shift that keeps the centre inside; 0 = off. */
  scale: number;
  /** Small rotation drawn uniformly in ±rotateDegrees; 0 = off. */
  rotateDegrees: number;
  /** Contrast factor drawn log-uniformly in [1/(1+contrast), 1+contrast] around the image mean; 0 = off. */
  contrast: number;
  /** Gamma drawn log-uniformly in [1/(1+gamma), 1+gamma], applied to counts / full scale; 0 = off. */
  gamma: number;
  /** Offset drawn uniformly in ±windowShift × full scale (a shifted window / calibration); 0 = off. */
  windowShift: number;
  /** Standard deviation of additive Gaussian noise, as a share of full scale; 0 = off. */
  noise: number;
}

/** Scaling of the readout before the U-Net (model/input-normalisation.ts applies it; schema: `normalisation`). */
export type InputNormalisation =
  | { kind: 'fixed' }
  | { kind: 'window'; low: number; high: number }
  | { kind: 'standardise' };

/** Learned layout families (quant/layout-family.ts builds them; schema: `layout`). */
export type LayoutFamilyName = 'pixel' | 'tile' | 'grid';
export type GridGranularity = 'column' | 'row' | 'block';

/** The `layout` config of a learned run: which pixels share one logit. */
export interface LayoutFamily {
  family: LayoutFamilyName;
  /** `tile`: side K of the repeated pattern, 2..32 and at most the detector's rows and cols. */
  tile?: number;
  /** `grid`: one cell per column, per row or per block (default `block`). */
  granularity?: GridGranularity;
  /** `grid` `block`: side T of a block, ≥ 2. */
  block?: number;
}

/** Where a learned layout's logits start (layoutTraining.prior once `auto` is resolved). */
export type LayoutPrior = 'none' | 'content' | 'lesion' | 'uniform';

/**
 * Which rules resolve `prior: auto` (experiment.json records it): 1 = content for 1-bit layouts
 * over image pixels, none elsewhere; 2 (2026-12-02) = the same, and the uniform prior for
 * multi-level layouts over image pixels. A folder made under 1 trained its multi-level runs
 * without a prior (experiments/out-folder.ts compares it so).
 */
export const LAYOUT_PRIOR_RULES = 2;

/** How a learned layout trains (issue 18); every option off by default. */
export interface LayoutTrainingConfig {
  /** `relaxed`: sampled masks; `ste`: straight-through hardware mask in the forward pass. */
  hardMask: 'relaxed' | 'ste';
  /** λ of the mean-entropy penalty on the probability map (polarisation); 0 = off. */
  entropyWeight: number;
  /** λ of the total variation of the logits (spatial smoothness); 0 = off. */
  tvWeight: number;
  /**
   * Where the logits start: `none` = the layer's own init; `content` = ranked by the content
   * heuristic over the training split (1-bit layouts over image pixels only); `lesion` = the same
   * with the lesion-frequency heuristic (quant/lesion.ts); `uniform` = the
   * uniform ADC of the budget (multi-level layouts only); both quant/layout-prior.ts. `auto` =
   * content or uniform over image pixels, none in detector space (LAYOUT_PRIOR_RULES). Absent in
   * configs recorded before it existed (= none).
   */
  prior?: LayoutPrior | 'auto';
  /**
   * How a content or lesion prior's probabilities are spread: `ranked` (p by rank over (0.01,
   * 0.99)) or `hard` (the fixed design's layout at the run's budget near 0.99, the rest near 0.01;
   * quant/layout-prior.ts hardPriorLogits). Absent in configs recorded before it existed (= ranked).
   */
  priorShape?: 'ranked' | 'hard';
}

/**
 * What the schema cannot say about a layout family at image size `size`: the field each family
 * needs and that a tile fits the image. null when the layout is sound.
 */
export function layoutFamilyProblem(layout: LayoutFamily, size: number): string | null {
  if (layout.family === 'tile') {
    if (layout.tile === undefined) return 'layout.tile is missing: the tile family needs its side K (2..32)';
    if (layout.tile > size) return `layout.tile ${layout.tile} is larger than the ${size}×${size} image`;
  }
  if (layout.family === 'grid' && (layout.granularity ?? 'block') === 'block') {
    if (layout.block === undefined) return 'layout.block is missing: the grid family with block granularity needs its side T (≥ 2)';
    // Training upsamples each cell by the block side: a block of 10^9 would never finish.
    if (layout.block > size) return `layout.block ${layout.block} is larger than the ${size}×${size} image`;
  }
  return null;
}

/** Training settings (not hardware); the fields of schemas/experiment-config.schema.json, which holds their defaults. */
export interface ExperimentConfig {
  size: number;
  epochs: number;
  baselineEpochs: number;
  batchSize: number;
  learningRate: number;
  /** Learning rate of the quantization layer's logits. */
  layerLearningRate: number;
  decayStart: number;
  decayFloor: number;
  warmupEpochs: number;
  /** Fraction of the epochs after which a learned layout is fixed and the U-Net trains on it alone (1 = never). */
  fixLayoutAt: number;
  /**
   * End on the epoch with the best validation Dice (early stopping) instead of the last. Optional:
   * configs recorded before the option existed lack it, and their runs ended on the last epoch.
   */
  keepBestEpoch?: boolean;
  unet: { depth: number; baseFilters: number; normalization: 'none' | 'batch' | 'group' | 'instance'; outputPrior: number };
  dice: 'perImage' | 'batch';
  slope: number;
  temperature: { start: number; end: number };
  /** Which pixels of a learned layout share one logit (pixel, tile, grid). */
  layout: LayoutFamily;
  layoutTraining: LayoutTrainingConfig;
  seed: number;
  seeds: number;
  testFraction: number;
  validationFraction: number;
  synthetic: { slices: number; slicesPerVolume: number };
  /** Training-data augmentation before the readout (all off by default). */
  augment: AugmentConfig;
  /** Scaling of the readout after the input stage, before the U-Net (default `fixed`: counts / full scale). */
  normalisation: InputNormalisation;
  /** How images of another aspect ratio reach size×size (default `stretch`). */
  fit: Fit;
  /** 2.5D context: adjacent slices of a volume as input channels (default 1 = 2D); one layout reads them all. */
  context: ContextConfig;
}

/** The `context` config (train/batches.ts builds the k-slice input; data/context.ts picks the neighbours). */
export interface ContextConfig {
  /** Slices per input: 1, 3, 5, 7 or 9, the centre one predicted. */
  slices: number;
  /** The network over them: `2.5d` (slices as input channels of the 2D U-Net) or `3d` (3D U-Net, slices ≥ 3). */
  network: '2.5d' | '3d';
}

const SCHEMA_FILE = 'experiment-config.schema.json';
const schema = readShippedSchema(SCHEMA_FILE) as { $id: string } & SchemaNode;

/**
 * Defaults: a recipe sized for the demo on 2 CPU cores (documented in the README). They are the
 * schema's `default` keywords, so schema and code cannot disagree; test/config.test.ts checks that
 * every interface field has one.
 */
export const DEFAULT_CONFIG = schemaDefaults(schema) as ExperimentConfig;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Defaults overlaid with a partial config (one level of nesting, as the schema has). */
export function resolveConfig(partial: DeepPartial<ExperimentConfig> = {}): ExperimentConfig {
  const out = { ...DEFAULT_CONFIG, ...partial } as ExperimentConfig;
  out.unet = { ...DEFAULT_CONFIG.unet, ...(partial.unet ?? {}) };
  out.temperature = { ...DEFAULT_CONFIG.temperature, ...(partial.temperature ?? {}) };
  out.synthetic = { ...DEFAULT_CONFIG.synthetic, ...(partial.synthetic ?? {}) };
  // A given layout replaces the default whole (its fields depend on the family).
  out.layout = { ...(partial.layout ?? DEFAULT_CONFIG.layout) } as LayoutFamily;
  out.layoutTraining = { ...DEFAULT_CONFIG.layoutTraining, ...(partial.layoutTraining ?? {}) };
  out.augment = { ...DEFAULT_CONFIG.augment, ...(partial.augment ?? {}) };
  out.context = { ...DEFAULT_CONFIG.context, ...(partial.context ?? {}) };
  if (partial.baselineEpochs === undefined && partial.epochs !== undefined) out.baselineEpochs = partial.epochs;
  return out;
}

/** Loads an experiment config file; unknown keys and wrong types are UserErrors naming the pointer. */
export function loadConfig(path: string): ExperimentConfig {
  const doc = readJsonFile(path, 'experiment config');
  const problems = schemaProblems(compileSchema(schema), doc);
  if (problems.length) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem(s))` : '';
    throw new UserError(`${problems[0]!.message}${more}`, { file: path, pointer: problems[0]!.pointer });
  }
  const config = resolveConfig(doc as DeepPartial<ExperimentConfig>);
  const n = config.normalisation;
  if (n.kind === 'window' && !(n.high > n.low))
    throw new UserError(`normalisation window needs low < high, got [${n.low}, ${n.high}]`, { file: path, pointer: '/normalisation' });
  const layoutProblem = layoutFamilyProblem(config.layout, config.size);
  if (layoutProblem) throw new UserError(layoutProblem, { file: path, pointer: '/layout' });
  if (config.context.network === '3d' && config.context.slices < 3)
    throw new UserError(`context.network 3d needs context.slices ≥ 3 (got ${config.context.slices}); one slice is the 2D U-Net`, { file: path, pointer: '/context/slices' });
  return config;
}

/**
 * The schema a recorded config (experiment.json `config`, a resolved ExperimentConfig) is held to
 * when eval, merge and workers rebuild models from it: the config schema with `size` as --size
 * allowed it until 2026-12-03 (1..65536; now 1..1024), and the fields every recorded config has had required (later ones stay
 * optional: older folders lack them). The schema only ever gained fields, so old records pass.
 */
const recordedSchema = (() => {
  const s = structuredClone(schema) as { $id: string; properties: Record<string, Record<string, unknown>>; required?: string[] };
  s.$id = 'https://ctquant.dev/schemas/experiment-config.recorded.json';
  s.properties.size = { type: 'integer', minimum: 1, maximum: 65536 };
  s.required = ['size', 'epochs', 'baselineEpochs', 'batchSize', 'learningRate', 'decayStart', 'decayFloor', 'warmupEpochs', 'unet', 'dice', 'slope', 'temperature', 'seed', 'seeds', 'testFraction', 'validationFraction', 'synthetic'];
  s.properties.unet!.required = ['depth', 'baseFilters', 'normalization'];
  s.properties.temperature!.required = ['start', 'end'];
  s.properties.synthetic!.required = ['slices', 'slicesPerVolume'];
  return s;
})();

/** Problems of a recorded config (see recordedSchema); empty when it can rebuild the run's models. */
export function recordedConfigProblems(value: unknown): SchemaProblem[] {
  return schemaProblems(compileSchema(recordedSchema), value);
}
