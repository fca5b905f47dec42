import { UserError } from '../errors.js';
import { compileSchema, schemaProblems } from '../profile/validate.js';
import { readJsonFile, readShippedSchema } from '../util/json-file.js';
import { cellGeometry, type LayoutFamily } from '../quant/layout-family.js';

/** How a learned layout trains (issue 18); every option off by default. */
export interface LayoutTrainingConfig {
  /** `relaxed`: sampled masks (today); `ste`: straight-through hardware mask in the forward pass. */
  hardMask: 'relaxed' | 'ste';
  /** λ of the mean-entropy penalty on the probability map (polarisation); 0 = off. */
  entropyWeight: number;
  /** λ of the total variation of the logits (spatial smoothness); 0 = off. */
  tvWeight: number;
}

/** Training settings (not hardware); see schemas/experiment-config.schema.json. */
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
}

/** Defaults: a recipe sized for the demo on 2 CPU cores (documented in the README). */
export const DEFAULT_CONFIG: ExperimentConfig = {
  size: 64,
  epochs: 16,
  baselineEpochs: 8,
  batchSize: 8,
  learningRate: 3e-3,
  layerLearningRate: 3e-3,
  decayStart: 0.75,
  decayFloor: 0.1,
  warmupEpochs: 1,
  fixLayoutAt: 0.75,
  unet: { depth: 3, baseFilters: 8, normalization: 'group', outputPrior: 0.02 },
  dice: 'perImage',
  slope: 5,
  temperature: { start: 1, end: 0.1 },
  layout: { family: 'pixel' },
  layoutTraining: { hardMask: 'relaxed', entropyWeight: 0, tvWeight: 0 },
  seed: 1,
  seeds: 3,
  testFraction: 0.25,
  validationFraction: 0.15,
  synthetic: { slices: 160, slicesPerVolume: 8 },
};

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
  if (partial.baselineEpochs === undefined && partial.epochs !== undefined) out.baselineEpochs = partial.epochs;
  return out;
}

/** Loads an experiment config file; unknown keys and wrong types are UserErrors naming the pointer. */
export function loadConfig(path: string): ExperimentConfig {
  const doc = readJsonFile(path, 'experiment config');
  const problems = schemaProblems(compileSchema(readShippedSchema('experiment-config.schema.json')), doc);
  if (problems.length) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem(s))` : '';
    throw new UserError(`${problems[0]!.message}${more}`, { file: path, pointer: problems[0]!.pointer });
  }
  const config = resolveConfig(doc as DeepPartial<ExperimentConfig>);
  try {
    // The fields a family needs (tile, block) and that a tile fits the image.
    cellGeometry(config.layout, config.size, config.size);
  } catch (e) {
    if (e instanceof RangeError) throw new UserError(e.message, { file: path, pointer: '/layout' });
    throw e;
  }
  return config;
}
