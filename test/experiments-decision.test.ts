/**
 * The design families through the CLI on a tiny synthetic run (32², one epoch): a designer's layout
 * round trip (`--layout layout.ctql` → the run's layout is the file's), the content heuristic's
 * layout is the one of the training split, `--families` / `--tolerance` reach experiment.json,
 * per-image.csv has a row per test image and run.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from './helpers/cli.js';
import { encodeLayout } from '../src/layout-io/layout-file.js';
import { loadConfig } from '../src/config/experiment-config.js';
import { loadProfile } from '../src/profile/load.js';
import { prepareData } from '../src/experiments/data.js';
import { contentLayoutForSplit } from '../src/quant/content.js';

const dir = mkdtempSync(join(tmpdir(), 'ctquant-decision-cli-'));
const profile = join(dir, 'profile.json');
writeFileSync(profile, JSON.stringify({
  name: 'tiny', geometry: { rows: 32, cols: 32 }, adc: { nativeBits: 8, modes: [1], quantizer: 'floor' }, budget: { fraction: 0.5, sweep: [0.5] },
}));
const config = join(dir, 'config.json');
writeFileSync(config, JSON.stringify({
  size: 32, epochs: 1, batchSize: 4, unet: { depth: 2, baseFilters: 4, normalization: 'batch' }, seeds: 1,
  testFraction: 0.25, validationFraction: 0.2, synthetic: { slices: 16, slicesPerVolume: 2 },
}));
const common = ['--profile', profile, '--config', config, '--backend', 'wasm'];
const readRun = (out: string, id: string) => JSON.parse(readFileSync(join(out, 'runs', `${id}.json`), 'utf8'));

test('--layout round trip: layout.ctql → train → the designer run used exactly the file\'s layout', () => {
  // A diagonal stripe pattern on the 1-bit mode: 1/3 of the pixels reduced.
  const bits = Uint8Array.from({ length: 32 * 32 }, (_, i) => ((Math.floor(i / 32) + (i % 32)) % 3 === 0 ? 1 : 8));
  const file = join(dir, 'layout.ctql');
  writeFileSync(file, encodeLayout({ rows: 32, cols: 32, nativeBits: 8, modes: [1], bits }));
  const out = join(dir, 'train');
  const r = runCli(['train', ...common, '--layout', file, '--out', out]);
  assert.is(r.code, 0, r.stderr);
  assert.equal(readdirSync(join(out, 'runs')).sort(), ['designer-s1.json', 'learned-k1-b0.5-s1.json']);
  const run = readRun(out, 'designer-s1');
  assert.is(run.setup, 'designer');
  assert.is(run.keptBits, 1);
  assert.is(run.layoutFile, file);
  assert.equal(run.hardwareLayout, Array.from(bits, (b) => (b < 8 ? 1 : 0)));
  const reduced = bits.filter((b) => b < 8).length;
  assert.ok(Math.abs(run.bitsPerPixel - (8 * (1024 - reduced) + reduced) / 1024) < 1e-12, `bits per pixel ${run.bitsPerPixel}`);
  // The designer trains as long as the learned layout (epochs), and workers read the layout from experiment.json.
  assert.is(run.history.length, 1);
  const record = JSON.parse(readFileSync(join(out, 'experiment.json'), 'utf8'));
  assert.equal(record.designer.bits, Array.from(bits));
  assert.match(readFileSync(join(out, 'pareto.csv'), 'utf8'), /\ndesigner,designer,mixed,/);
});

test('sweep --families content: the content layout is the training split\'s; --tolerance recorded; per-image rows', async () => {
  const out = join(dir, 'sweep');
  const r = runCli(['sweep', ...common, '--families', 'content', '--tolerance', '0.05', '--out', out]);
  assert.is(r.code, 0, r.stderr);
  const ids = readdirSync(join(out, 'runs')).map((f) => f.replace(/\.json$/, '')).sort();
  assert.equal(ids.filter((id) => !id.startsWith('all-pixels-baseline')), ['baseline-s1', 'content-k1-b0.5-s1', 'learned-k1-b0.5-s1', 'random-k1-b0.5-s1']);
  const record = JSON.parse(readFileSync(join(out, 'experiment.json'), 'utf8'));
  assert.equal(record.families, ['content']);
  assert.is(record.tolerance, 0.05);

  const prepared = await prepareData({ kind: 'synthetic' }, loadProfile(profile), loadConfig(config));
  const expected = contentLayoutForSplit(prepared.split, 0.5);
  assert.equal(readRun(out, 'content-k1-b0.5-s1').hardwareLayout, Array.from(expected));

  const perImage = readFileSync(join(out, 'per-image.csv'), 'utf8').trim().split('\n');
  assert.is(perImage.length, 1 + prepared.split.test.slices.length * ids.length);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /<section id="decision"/);
  assert.match(html, /τ = 0\.05/);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  assert.equal(manifest.splitMembers.test.slices, prepared.split.test.slices.map((s) => s.name));
});

test('bad --families, --tolerance and --layout: one line, exit 2', () => {
  const cases: Array<[string[], RegExp]> = [
    [['sweep', '--families', 'dither,checkers'], /--families: expected dither, blue-noise, content, lesion or none, got "checkers"/],
    [['train', '--families', 'dither'], /--families does not apply to train/],
    [['sweep', '--tolerance', '-0.1'], /--tolerance: expected a Dice difference in \[0, 1\]/],
    [['sweep', '--layout', join(dir, 'missing.csv')], /missing\.csv/],
    [['sweep', '--layout', join(dir, 'layout.txt')], /must end in \.ctql, \.csv or \.png/],
  ];
  for (const [args, message] of cases) {
    const r = runCli([...args, ...common, '--out', join(dir, 'never')]);
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test.run();
