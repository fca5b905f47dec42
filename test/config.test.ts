/**
 * The experiment config has one source of truth, schemas/experiment-config.schema.json: DEFAULT_CONFIG
 * is read from its `default` keywords, and the hand-written ExperimentConfig interface must name
 * exactly its properties (the `satisfies` lists below fail to compile when a field is added to
 * the interface only; the tests fail when one is added to the schema only).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_CONFIG, loadConfig, resolveConfig, type ExperimentConfig } from '../src/config/experiment-config.js';
import type { ContextNetwork } from '../src/model/unet3d.js';
import type { UserError } from '../src/errors.js';
import { schemaDefaults } from '../src/config/schema-defaults.js';
import { compileSchema, schemaProblems } from '../src/util/validate.js';

interface Node {
  $id?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, Node>;
}
const schema = JSON.parse(readFileSync(new URL('../schemas/experiment-config.schema.json', import.meta.url), 'utf8')) as Node & { $id: string };
const props = schema.properties!;

type C = ExperimentConfig;
const TOP = {
  size: 1, epochs: 1, baselineEpochs: 1, batchSize: 1, learningRate: 1, layerLearningRate: 1, decayStart: 1, decayFloor: 1,
  warmupEpochs: 1, fixLayoutAt: 1, keepBestEpoch: 1, unet: 1, dice: 1, slope: 1, temperature: 1, seed: 1, seeds: 1, testFraction: 1,
  validationFraction: 1, synthetic: 1, augment: 1, normalisation: 1, fit: 1,
  layout: 1, layoutTraining: 1, context: 1,
} satisfies Record<keyof C, 1>;
const NESTED = {
  unet: { depth: 1, baseFilters: 1, normalization: 1, outputPrior: 1 } satisfies Record<keyof C['unet'], 1>,
  temperature: { start: 1, end: 1 } satisfies Record<keyof C['temperature'], 1>,
  synthetic: { slices: 1, slicesPerVolume: 1 } satisfies Record<keyof C['synthetic'], 1>,
  layoutTraining: { hardMask: 1, entropyWeight: 1, tvWeight: 1, prior: 1, priorShape: 1 } satisfies Record<keyof C['layoutTraining'], 1>,
  augment: { flip: 1, rotate90: 1, scale: 1, rotateDegrees: 1, contrast: 1, gamma: 1, windowShift: 1, noise: 1 } satisfies Record<keyof C['augment'], 1>,
  context: { slices: 1, network: 1 } satisfies Record<keyof C['context'], 1>,
};
const ENUMS = {
  dice: { perImage: 1, batch: 1 } satisfies Record<C['dice'], 1>,
  normalization: { none: 1, batch: 1, group: 1, instance: 1 } satisfies Record<C['unet']['normalization'], 1>,
  // The config's union is the model's (ContextNetwork), both ways.
  contextNetwork: { '2.5d': 1, '3d': 1 } satisfies Record<C['context']['network'], 1> & Record<ContextNetwork, 1>,
  priorShape: { ranked: 1, hard: 1 } satisfies Record<NonNullable<C['layoutTraining']['priorShape']>, 1>,
};
const keys = (o: object) => Object.keys(o).sort();

test('the interface names exactly the schema properties, nested objects included', () => {
  assert.equal(keys(TOP), keys(props).filter((k) => k !== '$schema'));
  for (const [name, fields] of Object.entries(NESTED)) assert.equal(keys(fields), keys(props[name]!.properties!), name);
});

test('the interface unions are the schema enums', () => {
  assert.equal(keys(ENUMS.dice), [...props.dice!.enum!].sort());
  assert.equal(keys(ENUMS.normalization), [...props.unet!.properties!.normalization!.enum!].sort());
  assert.equal(keys(ENUMS.contextNetwork), [...props.context!.properties!.network!.enum!].sort());
  assert.equal(keys(ENUMS.priorShape), [...props.layoutTraining!.properties!.priorShape!.enum!].sort());
});

test('every config field has a default in the schema, and DEFAULT_CONFIG is those defaults', () => {
  for (const k of keys(TOP)) {
    const p = props[k]!;
    // A union of objects (normalisation) states its default whole.
    if (p.properties && p.default === undefined) for (const f of keys(p.properties)) assert.ok(p.properties[f]!.default !== undefined, `${k}.${f} has no default`);
    else assert.ok(p.default !== undefined, `${k} has no default`);
  }
  assert.equal(DEFAULT_CONFIG, schemaDefaults(schema));
  assert.equal(schemaProblems(compileSchema(schema), DEFAULT_CONFIG), []);
});

test('the defaults are the documented recipe (unchanged by reading them from the schema)', () => {
  assert.equal(DEFAULT_CONFIG, {
    size: 64, epochs: 16, baselineEpochs: 8, batchSize: 8, learningRate: 3e-3, layerLearningRate: 3e-3, decayStart: 0.75,
    decayFloor: 0.1, warmupEpochs: 1, fixLayoutAt: 0.75, keepBestEpoch: true,
    unet: { depth: 3, baseFilters: 8, normalization: 'group', outputPrior: 0.02 },
    dice: 'perImage', slope: 5, temperature: { start: 1, end: 0.1 }, seed: 1, seeds: 3, testFraction: 0.25,
    validationFraction: 0.15, synthetic: { slices: 160, slicesPerVolume: 8 },
    augment: { flip: true, rotate90: false, scale: 0.2, rotateDegrees: 10, contrast: 0.2, gamma: 0.2, windowShift: 0.05, noise: 0.02 },
    normalisation: { kind: 'fixed' }, fit: 'stretch',
    layout: { family: 'pixel' }, layoutTraining: { hardMask: 'relaxed', entropyWeight: 0, tvWeight: 0, prior: 'auto', priorShape: 'hard' },
    context: { slices: 1, network: '2.5d' },
  });
  const c = resolveConfig({ epochs: 3, unet: { depth: 2 } });
  assert.is(c.baselineEpochs, 3);
  assert.equal(c.unet, { ...DEFAULT_CONFIG.unet, depth: 2 });
});

test('context.network: 3d loads with slices ≥ 3 and is refused with one slice, naming the field', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctquant-config-'));
  const file = (name: string, context: object) => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify({ context }));
    return path;
  };
  assert.equal(loadConfig(file('ok.json', { slices: 3, network: '3d' })).context, { slices: 3, network: '3d' });
  assert.equal(loadConfig(file('default.json', { slices: 3 })).context, { slices: 3, network: '2.5d' });
  try {
    loadConfig(file('one.json', { network: '3d' }));
    assert.unreachable('expected a UserError');
  } catch (e) {
    assert.match((e as UserError).message, /context.network 3d needs context.slices ≥ 3/);
    assert.is((e as UserError).pointer, '/context/slices');
  }
});

test('schemaDefaults: leaves, nested objects, and properties without a default left out', () => {
  assert.equal(schemaDefaults({ properties: { a: { default: 1 }, b: {}, c: { properties: { d: { default: [2] } } } } }), { a: 1, c: { d: [2] } });
});

test.run();
