/**
 * The design decision wired into the report: pareto.csv from a run list (families, collapsed runs
 * excluded, chosen on validation), the report opening with the decision, per-image.csv and
 * bit-placement.csv, the split in the manifest.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { designDecision, designRows } from '../src/report/designs.js';
import { perImageRows, placementRows } from '../src/report/placement.js';
import { ALL_PATIENTS, patientDesigns, patientRows } from '../src/report/patients.js';
import { writeReport } from '../src/report/write.js';
import { manifestProblems, splitPart, type Manifest } from '../src/report/manifest.js';
import type { DiceSummary, RunResult, Setup } from '../src/runs/types.js';
import type { DetectorProfile } from '../src/profile/types.js';

const profile: DetectorProfile = {
  name: 'test-8bit', description: 'An 8-bit 4×4 test detector.', rows: 4, cols: 4, nativeBits: 8, modes: [1], rule: 'floor',
  budget: { kind: 'fraction', value: 0.5 }, sweep: [0.25, 0.5, 0.75],
};

const summary = (mean: number): DiceSummary => ({ perImage: [mean - 0.01, mean + 0.01], mean, pooled: mean, emptyPredictionShare: 0 });

function run(setup: Setup, seed: number, val: number, testDice: number, extra: Partial<RunResult> = {}): RunResult {
  const tag = extra.keptBits !== undefined ? `-k${extra.keptBits}` : '';
  const b = extra.budget !== undefined ? `-b${extra.budget}` : '';
  return {
    id: `${setup}${tag}${b}-s${seed}`, setup, seed, bitsPerPixel: 8, nativeBits: 8,
    dice: summary(testDice), validationDice: summary(val), collapsed: false, history: [],
    rows: 4, cols: 4, trainSeconds: 1, backend: 'wasm', ...extra,
  };
}

const mask = (ones: number[]) => Array.from({ length: 16 }, (_, i) => (ones.includes(i) ? 1 : 0));

/** Three seeds of every family; the designer's layout is best on validation but worst on test. */
function fixture(): RunResult[] {
  const runs: RunResult[] = [];
  for (const s of [1, 2, 3]) {
    const j = 0.002 * s;
    runs.push(run('baseline', s, 0.8 + j, 0.78 + j));
    runs.push(run('all-pixels-baseline', s, 0.79 + j, 0.77 + j, { keptBits: 4, bitsPerPixel: 4 }));
    runs.push(run('all-pixels-retrained', s, 0.7 + j, 0.69 + j, { keptBits: 2, bitsPerPixel: 2 }));
    runs.push(run('learned', s, 0.795 + j, 0.79 + j, { keptBits: 1, budget: 0.5, bitsPerPixel: 4.5, hardwareLayout: mask([0, 1, 2, 3, 4, 5, 6, 7]) }));
    runs.push(run('dither', s, 0.81 + j, 0.8 + j, { keptBits: 1, budget: 0.5, bitsPerPixel: 4.5, hardwareLayout: mask([0, 2, 5, 7, 8, 10, 13, 15]),
      ...(s === 3 ? { collapsed: true, collapseReason: 'fixture', validationDice: summary(0), dice: summary(0) } : {}) }));
    runs.push(run('content', s, 0, 0, { keptBits: 1, budget: 0.75, bitsPerPixel: 2.75, collapsed: true, collapseReason: 'fixture', hardwareLayout: mask([0, 1, 2, 3, 4, 7, 8, 11, 12, 13, 14, 15]) }));
    runs.push(run('designer', s, 0.785 + j, 0.6 + j, { keptBits: 1, bitsPerPixel: 3.5, hardwareLayout: mask([0, 1, 2, 3, 4, 7, 8, 11, 12, 13]), layoutFile: 'layout.csv' }));
  }
  return runs;
}

test('design rows: one per design, every family, seeds kept with validation and test Dice', () => {
  const rows = designRows(fixture(), profile);
  assert.equal(rows.map((r) => r.designId), [
    'content-b0.75', 'designer', 'dither-b0.5', 'full-precision', 'learned-b0.5', 'uniform-a-4bit', 'uniform-b-2bit',
  ]);
  const fp = rows.find((r) => r.designId === 'full-precision')!;
  assert.is(fp.kind, 'full-precision');
  assert.is(fp.savingPct, 0);
  assert.is(rows.find((r) => r.designId === 'uniform-a-4bit')!.kind, 'uniform');
  assert.is(rows.find((r) => r.designId === 'designer')!.savingPct, 56.25);
  assert.equal(rows.find((r) => r.designId === 'learned-b0.5')!.seeds.map((s) => s.valDice), [0.797, 0.799, 0.801].map((v) => summary(v).mean));
});

test('pareto.csv rows: collapsed runs excluded, chosen on validation (not on test), the decision names it', () => {
  const d = designDecision(fixture(), profile, { tolerance: 0.02 });
  const row = (id: string) => d.rows.find((r) => r.design === id)!;
  // Every seed of content collapsed: no means, not on the front, never chosen.
  assert.is(row('content-b0.75').n_collapsed, 3);
  assert.is(row('content-b0.75').val_dice_mean, '');
  assert.is(row('content-b0.75').non_dominated, false);
  // Dither's collapsed seed is left out of its means.
  assert.is(row('dither-b0.5').n_seeds, 3);
  assert.is(row('dither-b0.5').n_collapsed, 1);
  assert.ok(Math.abs((row('dither-b0.5').val_dice_mean as number) - 0.813) < 1e-9);
  // The designer's layout is within τ on validation and saves most, though its test Dice is the lowest: chosen.
  assert.equal(d.rows.filter((r) => r.chosen).map((r) => r.design), ['designer']);
  assert.is(row('uniform-b-2bit').chosen, false);
  assert.match(d.sentences[0]!, /designer/);
  assert.match(d.sentences[0]!, /56\.3 %/);
  assert.match(d.sentences[1]!, /A mixed layout beats the best uniform design/);
  assert.is(d.sentences.length, 2); // three seeds: no "no claim" note
  // Rows sorted by bits per pixel.
  const bits = d.rows.map((r) => r.bits_per_pixel as number);
  assert.equal(bits, [...bits].sort((a, b) => a - b));
});

test('one seed: the headline says "one seed: no claim"', () => {
  const d = designDecision(fixture().filter((r) => r.seed === 1), profile);
  assert.is(d.tolerance, 0.02);
  assert.match(d.sentences.join(' '), /one seed: no claim/i);
});

test('no full-precision baseline with validation Dice: no decision, said in one sentence', () => {
  const d = designDecision(fixture().map((r) => (r.setup === 'baseline' ? { ...r, validationDice: undefined } : r)), profile);
  assert.is(d.decision, undefined);
  assert.match(d.sentences[0]!, /No design decision/);
  assert.ok(d.rows.every((r) => r.chosen === false));
});

test('per-image rows: test images × runs evaluated on them, with slice and volume ids', () => {
  const runs = fixture();
  const images = [
    { sliceId: 'v1-s0', volumeId: 'v1', lesionPixels: 3 },
    { sliceId: 'v2-s4', volumeId: 'v2', lesionPixels: 0 },
  ];
  const rows = perImageRows(runs, images);
  assert.is(rows.length, runs.length * images.length);
  assert.equal(rows[0], { run: 'all-pixels-baseline-k4-s1', setup: 'all-pixels-baseline', seed: 1, slice_id: 'v1-s0', volume_id: 'v1', dice: 0.762, lesion_pixels: 3 });
  // Runs evaluated on other images (another count) are left out rather than misaligned.
  assert.is(perImageRows(runs, images.slice(0, 1)).length, 0);
});

test('per-patient rows: each test volume and all images, full precision, the chosen and the best uniform design, collapsed seeds left out', () => {
  const runs = fixture();
  const images = [
    { sliceId: 'v1-s0', volumeId: 'v1', lesionPixels: 3 },
    { sliceId: 'v2-s4', volumeId: 'v2', lesionPixels: 0 },
  ];
  const decision = designDecision(runs, profile, { tolerance: 0.02 }).decision!;
  const ids = patientDesigns(decision);
  assert.equal(ids.slice(0, 2), ['full-precision', 'designer']);
  assert.is(ids.length, 3); // and the best uniform design
  const table = patientRows(runs, images, ids);
  assert.equal(table.rows.map((r) => r.volume_id), ['v1', 'v2', ALL_PATIENTS]);
  assert.equal(table.rows.map((r) => r.lesion_images), [1, 0, 1]);
  const near = (a: unknown, b: number, what: string) => assert.ok(Math.abs((a as number) - b) < 1e-9, `${what}: ${String(a)} ≠ ${b}`);
  // Full precision's seeds score 0.782, 0.784, 0.786 with image 1 at −0.01 and image 2 at +0.01.
  near(table.rows[0]!['dice_full-precision'], 0.774, 'v1');
  near(table.rows[1]!['dice_full-precision'], 0.794, 'v2');
  // The last row is the front's test Dice.
  const front = designDecision(runs, profile).front;
  for (const id of ids) near(table.rows[2]![`dice_${id}`], front.find((p) => p.designId === id)!.test.estimate, id);
  near(table.rows[2]!.chosen_minus_full_precision, 0.604 - 0.784, 'chosen − full precision');
  // Dither's collapsed third seed (Dice 0) is not averaged in.
  near(patientRows(runs, images, ['full-precision', 'dither-b0.5']).rows[0]!['dice_dither-b0.5'], 0.793, 'dither v1');
  // Runs evaluated on other images are left out: no seeds, no number.
  assert.is(patientRows(runs, images.slice(0, 1), ids).rows[0]!['dice_full-precision'], '');
});

test('bit placement: the layouts at the profile budget and the designer, shares from the images', () => {
  // A body of 4 central pixels (above the air threshold), the rest air.
  const image = Array.from({ length: 16 }, (_, i) => ([5, 6, 9, 10].includes(i) ? 200 : 0));
  const rows = placementRows(fixture(), profile, [image], { nativeBits: 8 });
  assert.equal(rows.map((r) => r.design), ['designer', 'dither-b0.5', 'learned-b0.5']); // content is at 0.75, not the profile's 0.5
  const learned = rows.find((r) => r.design === 'learned-b0.5')!;
  assert.is(learned.n_runs, 3);
  assert.is(learned.inside_body_pct, 25); // pixels 5 and 6 of 8
  assert.is(learned.outside_body_pct, 75);
  assert.is(rows.find((r) => r.design === 'designer')!.inside_body_pct, 0);
});

test('report.html opens with the decision; pareto.csv, plot-pareto.png, per-image.csv, bit-placement.csv, split in the manifest', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctquant-decision-'));
  try {
    const runs = fixture();
    const testImages = [
      { sliceId: 'v1-s0', volumeId: 'v1', lesionPixels: 3 },
      { sliceId: 'v2-s4', volumeId: 'v2', lesionPixels: 0 },
    ];
    const splitMembers = {
      train: splitPart([{ name: 'v3-s0', volumeId: 'v3' }, { name: 'v3-s1', volumeId: 'v3' }]),
      validation: splitPart([{ name: 'v4-s0', volumeId: 'v4' }]),
      test: splitPart([{ name: 'v1-s0', volumeId: 'v1' }, { name: 'v2-s4', volumeId: 'v2' }]),
    };
    const files = await writeReport(dir, {
      runs, profile, config: null, testImages, splitMembers,
      bitPlacement: { rows: placementRows(runs, profile, [new Array(16).fill(0)], { nativeBits: 8 }), note: 'fixture' },
      meta: { kind: 'study', createdAt: '2025-01-02T03:04:05.000Z', tolerance: 0.02 },
    });
    for (const f of ['pareto.csv', 'plot-pareto.png', 'per-image.csv', 'per-patient.csv', 'bit-placement.csv']) assert.ok(files.includes(f) && existsSync(join(dir, f)), f);
    const csv = readFileSync(join(dir, 'pareto.csv'), 'utf8').trim().split('\n');
    assert.is(csv[0], 'family,design,kind,bits_per_pixel,saving_pct,n_seeds,n_collapsed,val_dice_mean,test_dice_mean,test_dice_lo,test_dice_hi,non_dominated,chosen');
    assert.is(csv.length, 1 + 7);
    assert.is(readFileSync(join(dir, 'per-image.csv'), 'utf8').trim().split('\n').length, 1 + runs.length * testImages.length);

    const html = readFileSync(join(dir, 'report.html'), 'utf8');
    const body = html.slice(html.indexOf('<body>'));
    // The first section and the first h2 of the page are the decision; the verdict names the design.
    assert.match(body.slice(body.indexOf('<section')), /^<section id="decision"/);
    assert.match(body.slice(body.indexOf('<h2>')), /^<h2>Decision/);
    const verdict = /<p class="verdict">([^<]*)<\/p>/.exec(body)?.[1] ?? '';
    assert.match(verdict, /The most saving within ΔDice ≤ 0\.02 of full precision.*designer/);
    const at = (s: string) => body.indexOf(s);
    assert.ok(at('Rule: ') > at('class="verdict"'), 'the rule follows the decision');
    assert.ok(at('plot-pareto.png') < at('<h2>Learned layout against the random control</h2>'), 'the front comes before the learned-vs-random section');
    assert.ok(at('plot-pareto.png') < at('The decision per test patient') && at('The decision per test patient') < at('<h2>Learned layout against the random control</h2>'), 'the per-patient table is in the decision section');
    assert.ok(at('<h2>Learned layout against the random control</h2>') < at('<h2>Figures</h2>'));

    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    assert.equal(manifestProblems(manifest), []);
    assert.equal(manifest.splitMembers?.test, { volumes: ['v1', 'v2'], slices: ['v1-s0', 'v2-s4'] });
    assert.equal(manifest.splitMembers?.train.volumes, ['v3']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
