import type { Fit } from '../data/resize.js';
import { UserError } from '../errors.js';
import type { InputNormalisation } from '../model/input-normalisation.js';
import { NO_AUGMENTATION, type AugmentConfig } from '../train/augment.js';
import { compileSchema, schemaProblems } from '../profile/validate.js';
import { readJsonFile, readShippedSchema } from '../util/json-file.js';

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
  seed: 1,
  seeds: 3,
  testFraction: 0.25,
  validationFraction: 0.15,
  synthetic: { slices: 160, slicesPerVolume: 8 },
  augment: NO_AUGMENTATION,
  normalisation: { kind: 'fixed' },
  fit: 'stretch',
};

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Defaults overlaid with a partial config (one level of nesting, as the schema has). */
export function resolveConfig(partial: DeepPartial<ExperimentConfig> = {}): ExperimentConfig {
  const out = { ...DEFAULT_CONFIG, ...partial } as ExperimentConfig;
  out.unet = { ...DEFAULT_CONFIG.unet, ...(partial.unet ?? {}) };
  out.temperature = { ...DEFAULT_CONFIG.temperature, ...(partial.temperature ?? {}) };
  out.synthetic = { ...DEFAULT_CONFIG.synthetic, ...(partial.synthetic ?? {}) };
  out.augment = { ...DEFAULT_CONFIG.augment, ...(partial.augment ?? {}) };
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
  const n = config.normalisation;
  if (n.kind === 'window' && !(n.high > n.low))
    throw new UserError(`normalisation window needs low < high, got [${n.low}, ${n.high}]`, { file: path, pointer: '/normalisation' });
  return config;
}
