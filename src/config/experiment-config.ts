import { UserError } from '../errors.js';
import { compileSchema, schemaProblems } from '../util/validate.js';
import { readJsonFile, readShippedSchema } from '../util/json-file.js';
import { schemaDefaults, type SchemaNode } from './schema-defaults.js';

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
  unet: { depth: number; baseFilters: number; normalization: 'none' | 'batch' | 'group' | 'instance'; outputPrior: number };
  dice: 'perImage' | 'batch';
  slope: number;
  temperature: { start: number; end: number };
  seed: number;
  seeds: number;
  testFraction: number;
  validationFraction: number;
  synthetic: { slices: number; slicesPerVolume: number };
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
  return resolveConfig(doc as DeepPartial<ExperimentConfig>);
}
