/**
 * `ctquant eval` end to end on a tiny run that learns something (bright disks are the lesions):
 * on its own test split it gives the sweep's numbers for every arm, the stochastic one included;
 * on other data it keeps collapse as decided in training and names the data set.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { runCli } from './helpers/cli.js';
import { writePngFolder } from '../src/data/folder.js';
import { Rng } from '../src/util/rng.js';
import type { CtDataset, CtSlice } from '../src/data/types.js';

const size = 32;
const dir = mkdtempSync(join(tmpdir(), 'ctquant-eval-'));

/** `n` 8-bit slices, two per volume: noisy background, one bright disk that is the lesion (or, `inverted`, a dark one). */
function disks(n: number, seed: number, opts: { side?: number; lesionLevel?: number } = {}): CtDataset {
  const side = opts.side ?? size;
  const rng = new Rng(seed);
  const slices: CtSlice[] = [];
  for (let k = 0; k < n; k++) {
    const image = new Float32Array(side * side);
    const mask = new Uint8Array(side * side);
    const r = side * (0.12 + 0.12 * rng.next());
    const cy = r + (side - 2 * r) * rng.next();
    const cx = r + (side - 2 * r) * rng.next();
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const inside = (y - cy) ** 2 + (x - cx) ** 2 <= r * r;
        mask[y * side + x] = inside ? 1 : 0;
        const level = inside ? (opts.lesionLevel ?? 200) : 60;
        image[y * side + x] = Math.max(0, Math.min(255, Math.round(level + 20 * (rng.next() - 0.5))));
      }
    }
    slices.push({ image, mask, volumeId: `v${Math.floor(k / 2)}`, name: `s${k}` });
  }
  return { height: side, width: side, nativeBits: 8, slices, source: `disks seed ${seed}` };
}

const profile = join(dir, 'profile.json');
writeFileSync(
  profile,
  JSON.stringify({ name: 'tiny', geometry: { rows: size, cols: size }, adc: { nativeBits: 8, modes: [2], quantizer: 'floor' }, budget: { fraction: 0.5, sweep: [0.5] } }),
);
const config = join(dir, 'config.json');
writeFileSync(
  config,
  JSON.stringify({
    size,
    epochs: 10,
    batchSize: 4,
    learningRate: 0.01,
    layerLearningRate: 0.01,
    warmupEpochs: 0,
    unet: { depth: 2, baseFilters: 8, normalization: 'none', outputPrior: 0.4 },
    seeds: 1,
    testFraction: 0.25,
    validationFraction: 0.2,
  }),
);
const runsOf = (out: string) =>
  readdirSync(join(out, 'runs'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(out, 'runs', f), 'utf8')));

const sweep = join(dir, 'sweep');
const trainData = join(dir, 'train-data');
const otherData = join(dir, 'hospital-b');

test('setup: a sweep that learns something', async () => {
  await writePngFolder(disks(32, 1), trainData);
  const r = runCli(['sweep', '--profile', profile, '--config', config, '--backend', 'wasm', '--data', trainData, '--out', sweep]);
  assert.is(r.code, 0, r.stderr);
  const learned = runsOf(sweep).find((x) => x.setup === 'learned');
  assert.ok(learned && !learned.collapsed && learned.dice.mean > 0.5, 'the learned run trained');
  // Stochastic masks are not the hardware layout: the stochastic arm is a number of its own.
  assert.ok(learned.diceStochastic.perImage.some((d: number, i: number) => d !== learned.dice.perImage[i]), 'stochastic differs from hardware');
});

/** The one folder `eval` made under `run` whose name starts with `prefix`. */
function evalFolder(run: string, prefix: string): string {
  const found = readdirSync(run).filter((f) => f.startsWith(prefix));
  assert.is(found.length, 1, `one ${prefix}* folder in ${readdirSync(run).join(', ')}`);
  return join(run, found[0]!);
}

test('eval on its own test split reproduces the sweep bit for bit, every arm including the stochastic one', () => {
  const r = runCli(['eval', '--run', sweep, '--backend', 'wasm', '--json']);
  assert.is(r.code, 0, r.stderr);
  const out = evalFolder(sweep, 'eval-own-test-split-');
  assert.is(JSON.parse(r.stdout).outDir, out);
  const strip = (x: Record<string, unknown>) => ({ id: x.id, dice: x.dice, diceStochastic: x.diceStochastic, collapsed: x.collapsed });
  assert.equal(runsOf(out).map(strip), runsOf(sweep).map(strip));
  assert.ok(runsOf(out).some((x) => x.diceStochastic), 'a stochastic arm was evaluated');
  assert.is(readFileSync(join(out, 'tradeoff.csv'), 'utf8'), readFileSync(join(sweep, 'tradeoff.csv'), 'utf8'));
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /evaluated on its own test split \(\d+ slices\)/);
});

test('eval --part validation re-evaluates on the validation volumes the run recorded; --every thins them; other volumes are refused', () => {
  const manifest = JSON.parse(readFileSync(join(sweep, 'manifest.json'), 'utf8'));
  const validation = manifest.splitMembers.validation as { volumes: string[]; slices: string[] };
  assert.ok(validation.slices.length >= 2, 'the sweep has a validation split');
  const r = runCli(['eval', '--run', sweep, '--part', 'validation', '--backend', 'wasm', '--json']);
  assert.is(r.code, 0, r.stderr);
  const out = evalFolder(sweep, 'eval-own-validation-split-');
  for (const x of runsOf(out)) assert.is(x.dice.perImage.length, validation.slices.length, x.id);
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /evaluated on its own validation split \(\d+ slices\)/);
  assert.match(html, /split: by volume[^<]*; evaluated: its validation part/, 'the data line names the split and the part');

  const thinned = runCli(['eval', '--run', sweep, '--part', 'validation', '--every', '2', '--backend', 'wasm', '--out', join(dir, 'every2'), '--json']);
  assert.is(thinned.code, 0, thinned.stderr);
  for (const x of runsOf(join(dir, 'every2'))) assert.is(x.dice.perImage.length, Math.ceil(validation.slices.length / 2), x.id);

  // A run folder whose manifest names other validation volumes: the split would not be the run's.
  const moved = join(dir, 'moved-split');
  cpSync(sweep, moved, { recursive: true });
  const edited = { ...manifest, splitMembers: { ...manifest.splitMembers, validation: { ...validation, volumes: ['v99'] } } };
  writeFileSync(join(moved, 'manifest.json'), JSON.stringify(edited));
  const refused = runCli(['eval', '--run', moved, '--part', 'validation', '--backend', 'wasm', '--out', join(dir, 'moved-eval')]);
  assert.is(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /the validation volumes as loaded now \(v\d+.*\) are not the run's \(v99\)/);
  assert.not.match(refused.stderr, /\n\s+at /, 'no stack trace');

  const withData = runCli(['eval', '--run', sweep, '--part', 'validation', '--data', trainData, '--backend', 'wasm']);
  assert.is(withData.code, 2);
  assert.match(withData.stderr, /--part picks a part of the run's own split/);
  const zero = runCli(['eval', '--run', sweep, '--every', '0', '--backend', 'wasm']);
  assert.is(zero.code, 2);
  assert.match(zero.stderr, /--every/);
});

test('eval on other data: low scores mark no run collapsed, empty-prediction rates are reported, the data set is named', async () => {
  // Another "hospital": larger slices, lesions darker than the background (the model learned bright disks).
  const other = disks(6, 5, { side: 40, lesionLevel: 10 });
  await writePngFolder(other, otherData, { imageDir: 'images', maskDir: 'labels' });
  const r = runCli(['eval', '--run', sweep, '--data', otherData, '--image-dir', 'images', '--mask-dir', 'labels', '--fit', 'pad', '--backend', 'wasm', '--json']);
  assert.is(r.code, 0, r.stderr);
  const out = evalFolder(sweep, 'eval-hospital-b-');
  const reported = JSON.parse(r.stdout) as { dataset: string; runs: { id: string; dice: number; emptyPredictionShare: number; collapsedInTraining: boolean }[] };
  assert.is(reported.dataset, 'hospital-b');
  const trained = new Map(runsOf(sweep).map((x) => [x.id, x]));
  assert.is(reported.runs.length, trained.size, 'every run is kept');
  assert.ok(reported.runs.some((x) => x.dice < 0.02), `some run scores low: ${reported.runs.map((x) => x.dice.toFixed(3)).join(' ')}`);
  for (const x of runsOf(out)) {
    assert.is(x.collapsed, trained.get(x.id).collapsed, `${x.id}: collapse as decided in training`);
    assert.is(x.collapseReason, trained.get(x.id).collapseReason);
    assert.is(x.dice.perImage.length, 6);
  }
  for (const x of reported.runs) assert.ok(x.emptyPredictionShare >= 0 && x.emptyPredictionShare <= 1, x.id);
  const tradeoff = readFileSync(join(out, 'tradeoff.csv'), 'utf8').trim().split('\n');
  const header = tradeoff[0]!.split(',');
  for (const line of tradeoff.slice(1)) {
    const cells = line.split(',');
    assert.is(cells[header.indexOf('n_collapsed')], '0', line);
    assert.ok(cells[header.indexOf('dice_image_boot_lo')] !== '', `an interval: ${line}`);
  }
  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.match(html, /ctquant report: tiny — evaluated on hospital-b \(6 slices\)/);
  assert.match(html, /predicted no lesion at all/);
  assert.match(html, /Best and worst slices of hospital-b/);
  assert.match(html, /From training: loss and validation Dice/);
  assert.not.match(html, /runs collapsed/);
  assert.ok(existsSync(join(out, 'plot-examples.png')));
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  assert.match(manifest.data, /^evaluated on hospital-b \(6 slices\)/);
});

test('eval of a folder too large to hold at the run\'s size is refused in one line naming the folder, before any slice is decoded (was: the OOM killer)', () => {
  // The run's size raised to 1024 in a copy of its record: a slice then holds 5 MiB, and enough (empty) PNG names exceed this machine.
  const big = join(dir, 'big-run');
  cpSync(sweep, big, { recursive: true });
  const record = JSON.parse(readFileSync(join(big, 'experiment.json'), 'utf8'));
  writeFileSync(join(big, 'experiment.json'), JSON.stringify({ ...record, config: { ...record.config, size: 1024 } }));
  const folder = join(dir, 'many-slices');
  mkdirSync(join(folder, 'ct'), { recursive: true });
  const count = Math.ceil(totalmem() / (1024 * 1024 * 5)) + 10;
  for (let i = 0; i < count; i++) writeFileSync(join(folder, 'ct', `s${i}.png`), '');
  const r = runCli(['eval', '--run', big, '--data', folder, '--backend', 'wasm', '--out', join(dir, 'big-eval')]);
  assert.is(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`^ctquant: [^\\n]*many-slices: ${count} slices of 1024×1024 need about [\\d.]+ GB of memory to evaluate, more than this machine's [\\d.]+ GB: keep every n-th slice \\(--every n\\)\\n$`));
  assert.not.ok(existsSync(join(dir, 'big-eval')), 'no output folder');
  rmSync(folder, { recursive: true, force: true });
});

test('eval of a run whose record has no split rule takes --split slice for its own test split', () => {
  // A run from before volume ids were required: its folder has none (no volumes.json) and its record no split.
  rmSync(join(trainData, 'volumes.json'));
  const refused = runCli(['eval', '--run', sweep, '--backend', 'wasm', '--out', join(dir, 'refused')]);
  assert.is(refused.code, 2, refused.stderr);
  assert.match(refused.stderr, /--split slice/);
  const r = runCli(['eval', '--run', sweep, '--backend', 'wasm', '--split', 'slice', '--out', join(dir, 'slice-split'), '--json']);
  assert.is(r.code, 0, r.stderr);
  assert.ok(JSON.parse(r.stdout).runs.length > 0);
});

test.run();
