import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTables } from '../src/report/tables.js';
import { LAYOUT_COLUMNS, RUN_COLUMNS, STORAGE_COLUMNS, STUDY_COLUMNS, TRADEOFF_COLUMNS, type TradeoffRow } from '../src/report/table-rows.js';
import { toCsv, formatCell } from '../src/report/csv.js';
import { headlineSentences } from '../src/report/html.js';
import { diceVsBitsSpec, diceVsBudgetSpec, keptEpochClause, trainingCurveSpecs } from '../src/report/plots.js';
import { mergeRuns, writeRun } from '../src/runs/store.js';
import { UserError } from '../src/errors.js';
import { Rng } from '../src/util/rng.js';
import { fixtureRuns, profile } from './report-fixtures.js';

const close = (a: number | undefined, b: number, tol = 1e-6, what = '') =>
  assert.ok(a !== undefined && Math.abs(a - b) <= tol, `${what}: ${a} ≠ ${b} (±${tol})`);
const T975_2 = 4.302653; // t quantile, 2 degrees of freedom
const T975_1 = 12.706205;

const tables = buildTables(fixtureRuns(), profile, { bootstrapSeed: 7 });
const row = (budget: number, arm: TradeoffRow['arm']) => {
  const r = tables.tradeoff.find((x) => x.budget === budget && x.arm === arm);
  assert.ok(r, `row ${arm} @ ${budget}`);
  return r!;
};

test('learned at 0.5: collapsed seed excluded and counted; mean, sd and t-interval across seeds by hand', () => {
  const r = row(0.5, 'learned');
  assert.is(r.n_runs, 4);
  assert.is(r.n_used, 3);
  assert.is(r.n_collapsed, 1);
  assert.is(r.collapsed, 'some');
  assert.is(r.collapsed_seeds, '3');
  assert.is(r.seeds, '0 1 2');
  close(r.dice_mean, 0.75); // (0.7 + 0.75 + 0.8) / 3; the collapsed 0 is not averaged in
  close(r.dice_sd, 0.05);
  close(r.dice_seed_t_lo, 0.75 - (T975_2 * 0.05) / Math.sqrt(3), 1e-5);
  close(r.dice_seed_t_hi, 0.75 + (T975_2 * 0.05) / Math.sqrt(3), 1e-5);
  // Per-image means across seeds are [0.7, 0.8]: the percentile bootstrap is exactly [0.7, 0.8].
  close(r.dice_image_boot_lo, 0.7, 1e-12);
  close(r.dice_image_boot_hi, 0.8, 1e-12);
  close(r.bits_per_pixel, 12);
  close(r.storage_saving_pct, 25);
});

test('paired differences: learned − random and learned − baseline, matched by seed', () => {
  const r = row(0.5, 'learned');
  // Seeds 0, 1, 2: 0.7 − 0.6, 0.75 − 0.6, 0.8 − 0.7.
  assert.is(r.vs_random_n_pairs, 3);
  close(r.vs_random_mean, 0.35 / 3);
  const sd = Math.sqrt(((0.1 - 0.35 / 3) ** 2 * 2 + (0.15 - 0.35 / 3) ** 2) / 2);
  close(r.vs_random_seed_t_lo, 0.35 / 3 - (T975_2 * sd) / Math.sqrt(3), 1e-5);
  close(r.vs_random_seed_t_hi, 0.35 / 3 + (T975_2 * sd) / Math.sqrt(3), 1e-5);
  // Baseline has seeds 0 and 1 only: 0.7 − 0.8 and 0.75 − 0.9.
  assert.is(r.vs_baseline_n_pairs, 2);
  close(r.vs_baseline_mean, -0.125);
  close(r.vs_baseline_seed_t_hi, -0.125 + (T975_1 * Math.sqrt(0.00125)) / Math.sqrt(2), 1e-5);
  const s = row(0.5, 'learned-stochastic');
  close(s.dice_mean, 0.7); // stochastic Dice is 0.05 below hardware in the fixture
  assert.is(s.n_collapsed, 1);
});

test('random control and baseline rows; the baseline is repeated under every budget', () => {
  const rnd = row(0.5, 'random');
  close(rnd.dice_mean, 19 / 30);
  assert.is(rnd.vs_random_n_pairs, undefined);
  assert.is(rnd.vs_baseline_n_pairs, 2);
  const b = row(0.25, 'baseline');
  close(b.dice_mean, 0.85);
  close(b.dice_sd, Math.SQRT1_2 * 0.1);
  assert.equal(row(0.5, 'baseline').dice_mean, b.dice_mean);
  assert.is(b.storage_saving_pct, 0);
});

test('one seed: no t-interval, the bootstrap over images still decides', () => {
  const r = row(0.25, 'learned');
  assert.is(r.n_used, 1);
  assert.ok(Number.isNaN(r.dice_seed_t_lo));
  assert.ok(Number.isFinite(r.dice_image_boot_lo));
  assert.is(r.vs_random_n_pairs, 1);
  close(r.vs_random_image_boot_lo, 0, 1e-12);
  close(r.vs_random_image_boot_hi, 0, 1e-12);
});

test('multilevel rows use a bits-per-pixel budget and have no random control', () => {
  const r = tables.tradeoff.find((x) => x.arm === 'multilevel');
  assert.ok(r);
  assert.is(r!.budget_kind, 'bitsPerPixel');
  assert.is(r!.budget, 10);
  close(r!.storage_saving_pct, 37.5);
  assert.is(r!.vs_random_n_pairs, undefined);
  assert.ok(tables.tradeoff.some((x) => x.arm === 'multilevel-stochastic'));
});

test('verdicts and the headline: learned beats random at 0.5, no clear difference at 0.25', () => {
  const v5 = tables.verdicts.find((v) => v.budget === 0.5 && v.arm === 'learned')!;
  assert.is(v5.outcome, 'better');
  assert.is(v5.interval, 'seed_t');
  const v25 = tables.verdicts.find((v) => v.budget === 0.25)!;
  assert.is(v25.outcome, 'no clear difference');
  assert.is(v25.interval, 'image_boot');
  const text = headlineSentences(tables, profile).join(' ');
  assert.match(text, /beats the random control at: 50% of pixels on the 8-bit ADC/);
  assert.match(text, /No clear difference .* 25% of pixels/);
  assert.match(text, /2 of 18 runs collapsed .*learned-b0.5-s3/);
});

test('study: baseline row first, then kept-bits levels descending; collapsed level marked, not averaged', () => {
  assert.equal(tables.study.map((r) => [r.row, r.kept_bits]), [['baseline', 16], ['level', 8], ['level', 4]]);
  const [base, k8, k4] = tables.study;
  close(base!.a_dice_mean as number, 0.85);
  close(base!.b_dice_mean as number, 0.85);
  close(k8!.a_dice_mean as number, 0.55);
  close(k8!.b_dice_mean as number, 0.75);
  close(k8!.storage_saving_pct, 50);
  close(k8!.a_minus_baseline_mean as number, -0.3); // (0.5 − 0.8 + 0.6 − 0.9) / 2
  assert.is(k4!.a_collapsed, 'all');
  assert.is(k4!.a_n_collapsed, 1);
  assert.ok(Number.isNaN(k4!.a_dice_mean as number), 'an all-collapsed cell has no mean');
  close(k4!.b_dice_mean as number, 0.5);
});

test('runs table marks collapsed runs; storage rows follow src/profile/storage.ts', () => {
  const collapsed = tables.runs.filter((r) => r.collapsed).map((r) => r.id);
  assert.equal(collapsed, ['all-pixels-baseline-k4-s0', 'learned-b0.5-s3']);
  assert.equal(tables.storage.map((s) => s.budget), [0.25, 0.5]);
  const half = tables.storage.find((s) => s.budget === 0.5)!;
  assert.is(half.quantized_pixels, 8);
  assert.is(half.layout_bits_per_frame, 8 * 16 + 8 * 8);
  assert.is(half.saving_pct, 25);
});

test('layout rows come from the learned run at the profile budget, lowest non-collapsed seed', () => {
  assert.is(tables.layoutRun?.id, 'learned-b0.5-s0');
  assert.is(tables.layout.length, 16);
  const reduced = tables.layout.filter((r) => r.adc_bits === 8);
  assert.is(reduced.length, 8);
  // The 8 most probable cells are the reduced ones.
  assert.ok(reduced.every((r) => (r.probability ?? 0) >= 0.5), 'top-8 probabilities are ≥ 0.5');
  assert.equal(tables.layout[0], { row: 0, col: 0, probability: 0.9, adc_bits: 8 });
  assert.throws(() => buildTables(fixtureRuns(), profile, { layoutRunId: 'nope' }), (e: unknown) => e instanceof UserError);
});

test('tables do not depend on run order (merged shards concatenate in any order)', () => {
  const shuffled = new Rng(3).shuffle(fixtureRuns());
  const again = buildTables(shuffled, profile, { bootstrapSeed: 7 });
  assert.is(toCsv(again.tradeoff, TRADEOFF_COLUMNS), toCsv(tables.tradeoff, TRADEOFF_COLUMNS));
  assert.is(toCsv(again.study, STUDY_COLUMNS as never[]), toCsv(tables.study, STUDY_COLUMNS as never[]));
  assert.throws(() => buildTables([...fixtureRuns(), fixtureRuns()[0]!], profile), /share the id/);
});

test('runs.csv has the 3D Dice column: the mean over test volumes where a run has one, empty where it has not', () => {
  const runs = fixtureRuns();
  const withVolumes = { ...runs[0]!, diceVolume: { perVolume: [{ id: 'v01', dice: 0.5 }, { id: 'v06', dice: 0.7 }], mean: 0.6 } };
  const t = buildTables([withVolumes, ...runs.slice(1)], profile, { bootstrapSeed: 7 });
  assert.is(t.runs.find((r) => r.id === withVolumes.id)!.dice_volume_mean, 0.6);
  assert.is(t.runs.find((r) => r.id !== withVolumes.id)!.dice_volume_mean, undefined);
  assert.ok(RUN_COLUMNS.includes('dice_volume_mean'));
});

test('CSV headers and cell formatting', () => {
  const firstLine = (csv: string) => csv.split('\n')[0];
  assert.is(firstLine(toCsv(tables.layout, LAYOUT_COLUMNS)), 'row,col,probability,adc_bits');
  assert.is(firstLine(toCsv(tables.tradeoff, TRADEOFF_COLUMNS)), TRADEOFF_COLUMNS.join(','));
  assert.ok(TRADEOFF_COLUMNS.includes('n_collapsed') && TRADEOFF_COLUMNS.includes('dice_image_boot_lo') && TRADEOFF_COLUMNS.includes('dice_seed_t_lo'));
  assert.match(firstLine(toCsv(tables.study, STUDY_COLUMNS as never[]))!, /^row,kept_bits,storage_saving_pct,a_n_runs,/);
  assert.match(firstLine(toCsv(tables.storage, STORAGE_COLUMNS))!, /^budget_kind,budget,pixels,quantized_pixels/);
  assert.ok(firstLine(toCsv(tables.runs, RUN_COLUMNS))!.includes('collapsed'));
  assert.is(toCsv(tables.tradeoff, TRADEOFF_COLUMNS).trimEnd().split('\n').length, tables.tradeoff.length + 1);
  assert.is(formatCell(NaN), '');
  assert.is(formatCell(0.1 + 0.2), '0.3');
  assert.is(formatCell('a,b'), 'a,b'); // quoting is the CSV writer's job
  assert.match(toCsv([{ x: 'a,b' }], ['x']), /"a,b"/);
});

test('mergeRuns: concatenates folders, keeps identical duplicates once, rejects conflicts and corrupt files', () => {
  const root = mkdtempSync(join(tmpdir(), 'ctquant-merge-'));
  try {
    const runs = fixtureRuns();
    const [a, b, c] = ['a', 'b', 'c'].map((d) => join(root, d));
    runs.slice(0, 10).forEach((r) => writeRun(a!, r));
    runs.slice(8).forEach((r) => writeRun(b!, r)); // runs 8 and 9 in both, identical
    const merged = mergeRuns([a!, b!]);
    assert.is(merged.length, runs.length);
    assert.equal(merged.map((r) => r.id), runs.map((r) => r.id).sort());
    assert.equal(buildTables(merged, profile, { bootstrapSeed: 7 }).tradeoff, tables.tradeoff);

    writeRun(c!, { ...runs[8]!, dice: { ...runs[8]!.dice, perImage: runs[8]!.dice.perImage.map((d) => d / 2), mean: runs[8]!.dice.mean / 2 } });
    assert.throws(() => mergeRuns([a!, c!]), (e: unknown) => e instanceof UserError && /different content/.test(e.message));

    const bad = join(root, 'bad');
    mkdirSync(join(bad, 'runs'), { recursive: true });
    writeFileSync(join(bad, 'runs', 'x.json'), '{"id": "x", ');
    assert.throws(() => mergeRuns([bad]), (e: unknown) => e instanceof UserError && /not valid JSON/.test(e.message) && e.file!.endsWith('x.json'));
    writeFileSync(join(bad, 'runs', 'x.json'), JSON.stringify({ ...runs[0], id: 'x', dice: { perImage: 'no' } }));
    assert.throws(() => mergeRuns([bad]), (e: unknown) => e instanceof UserError && e.pointer === '/dice/perImage');
    assert.throws(() => mergeRuns([join(root, 'missing')]), (e: unknown) => e instanceof UserError && /no runs\/ folder/.test(e.message));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});


test('the Dice plots name the images they average: test images by default, the evaluated ones in a re-evaluation', () => {
  const runs = fixtureRuns();
  for (const spec of [diceVsBudgetSpec(tables, runs, profile), diceVsBitsSpec(tables, runs, profile)]) assert.is(spec?.yLabel, 'Dice (mean over test images)');
  for (const spec of [diceVsBudgetSpec(tables, runs, profile, 'the evaluated images'), diceVsBitsSpec(tables, runs, profile, 'the evaluated images')]) {
    assert.is(spec?.yLabel, 'Dice (mean over the evaluated images)');
  }
});

test('a run that kept an earlier epoch than its last gets a dot there on the validation curve and is named in the caption', () => {
  const runs = fixtureRuns();
  assert.is(keptEpochClause(runs), '');
  const kept = runs.map((r, i) => (i === 0 ? { ...r, keptEpoch: 2 } : i === 1 ? { ...r, keptEpoch: r.history.length } : r));
  const [loss, validation] = trainingCurveSpecs(kept);
  const dots = validation!.series.filter((s) => s.name === 'kept epoch');
  assert.equal(dots.map((s) => s.points), [[{ x: 2, y: kept[0]!.history[1]!.valDice }]], 'one dot, at the kept epoch, on its curve; none for a run that kept its last');
  assert.ok(validation!.series.some((s) => s.name === 'kept epoch (best)' && !s.hideInLegend), 'the legend explains the dot');
  assert.not.ok(loss!.series.some((s) => s.name.startsWith('kept epoch')), 'the loss plot has no dots');
  assert.match(keptEpochClause(kept), new RegExp(`\\(1 of ${runs.length} runs: ${kept[0]!.id}: 2 of 3\\)$`));
});

test.run();
