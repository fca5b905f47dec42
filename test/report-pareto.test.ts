import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { decide, paretoFront, seedsNoClaim, type DesignKind, type DesignRow } from '../src/report/pareto.js';
import { PARETO_PLOT_SIZE, paretoPlotSpec } from '../src/report/pareto-plot.js';
import { plotSvg, svgToPng } from '../src/report/svg-plot.js';

/** A design whose seeds 1..k have the given validation and test Dice (collapsed seeds by index). */
function design(designId: string, family: string, kind: DesignKind, bits: number, val: number[], testDice: number[], collapsed: number[] = []): DesignRow {
  return {
    family,
    designId,
    kind,
    bitsPerPixel: bits,
    savingPct: (100 * (12 - bits)) / 12,
    seeds: val.map((v, i) => ({ seed: i + 1, valDice: v, testDice: testDice[i]!, collapsed: collapsed.includes(i) })),
  };
}

const base = (val = [0.7, 0.71, 0.72], t = [0.69, 0.7, 0.71]) => design('full', 'full-precision', 'full-precision', 12, val, t);

test('front: dominated points off, ties (equal bits and equal validation Dice) both kept, collapsed runs excluded', () => {
  const rows = [
    base(),
    design('u8', 'uniform-b', 'uniform', 8, [0.7, 0.7, 0.7], [0.6, 0.6, 0.6]),
    design('u4', 'uniform-b', 'uniform', 4, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]),
    // Dominated by u8: more bits, lower validation Dice.
    design('d10', 'dither', 'mixed', 10, [0.65, 0.65, 0.65], [0.9, 0.9, 0.9]),
    // Ties: same bits, same validation mean as each other.
    design('tieA', 'blue-noise', 'mixed', 6, [0.6, 0.62, 0.64], [0.6, 0.6, 0.6]),
    design('tieB', 'content', 'mixed', 6, [0.62, 0.62, 0.62], [0.6, 0.6, 0.6]),
    // Its collapsed seed (val 0.0) would drag it below u4; excluded, it is on the front.
    design('c5', 'learned', 'mixed', 5, [0.55, 0.0, 0.55], [0.5, 0.0, 0.5], [1]),
    // Every seed collapsed: not on the front, no statistics.
    design('dead', 'random', 'mixed', 2, [0.9, 0.9], [0.9, 0.9], [0, 1]),
  ];
  const front = paretoFront(rows);
  assert.equal(front.map((p) => p.designId), ['dead', 'u4', 'c5', 'tieA', 'tieB', 'u8', 'd10', 'full']);
  const on = Object.fromEntries(front.map((p) => [p.designId, p.nonDominated]));
  assert.equal(on, { dead: false, u4: true, c5: true, tieA: true, tieB: true, u8: true, d10: false, full: true });
  const c5 = front.find((p) => p.designId === 'c5')!;
  assert.is(c5.nUsed, 2);
  assert.is(c5.nCollapsed, 1);
  assert.ok(Math.abs(c5.valMean - 0.55) < 1e-12);
  const dead = front.find((p) => p.designId === 'dead')!;
  assert.ok(Number.isNaN(dead.valMean) && Number.isNaN(dead.test.estimate));
  // The test interval across seeds is reported (t-interval over used seeds).
  const full = front.find((p) => p.designId === 'full')!;
  assert.ok(full.test.lo < 0.7 && full.test.hi > 0.7 && full.test.n === 3);
  assert.throws(() => paretoFront([base(), base()]), /appears twice/);
});

test('selection uses validation only: where validation and test disagree, validation picks', () => {
  // Within τ = 0.02 of full precision (val 0.71): only 'valGood' qualifies on validation, though
  // 'testGood' saves more and has far better test Dice.
  const rows = [
    base(),
    design('valGood', 'dither', 'mixed', 8, [0.7, 0.7, 0.7], [0.3, 0.3, 0.3]),
    design('testGood', 'blue-noise', 'mixed', 4, [0.6, 0.6, 0.6], [0.95, 0.95, 0.95]),
  ];
  const d = decide(rows, { tolerance: 0.02 });
  assert.is(d.chosen.designId, 'valGood');
  // Its test Dice is reported as it is, and the paired test difference does not support "within τ".
  assert.ok(Math.abs(d.chosen.test.estimate - 0.3) < 1e-12);
  assert.is(d.vsBaseline.claim, 'not-supported');
  assert.match(d.headline, /valGood/);
  assert.match(d.headline, /saving 33\.3 %/);
  // With a tolerance that lets both in, the larger saving wins; a tie in saving goes to higher validation Dice.
  assert.is(decide(rows, { tolerance: 0.2 }).chosen.designId, 'testGood');
  const tie = [base(), design('a', 'dither', 'mixed', 8, [0.7, 0.7, 0.7], [0.5, 0.5, 0.5]), design('b', 'content', 'mixed', 8, [0.705, 0.705, 0.705], [0.1, 0.1, 0.1])];
  assert.is(decide(tie, { tolerance: 0.02 }).chosen.designId, 'b');
  // Exactly τ below full precision (0.71 − 0.02 = 0.69 in decimal) qualifies despite float rounding.
  assert.is(decide([base(), design('edge', 'dither', 'mixed', 8, [0.69, 0.69, 0.69], [0.69, 0.69, 0.69])], { tolerance: 0.02 }).chosen.designId, 'edge');
  // Nothing qualifies but full precision: the headline says nothing saves storage.
  const none = decide([base(), design('bad', 'random', 'mixed', 6, [0.1, 0.1, 0.1], [0.1, 0.1, 0.1])], { tolerance: 0.02 });
  assert.is(none.chosen.designId, 'full');
  assert.match(none.headline, /nothing saves storage/);
});

test('fewer than 3 paired seeds: no claim; 3 seeds within τ: the claim is made', () => {
  assert.is(seedsNoClaim(1), 'one seed: no claim');
  assert.is(seedsNoClaim(2), '2 seeds: no claim');
  const one = decide([design('full', 'fp', 'full-precision', 12, [0.7], [0.7]), design('m', 'learned', 'mixed', 8, [0.7], [0.69])], { tolerance: 0.02 });
  assert.is(one.vsBaseline.claim, 'no-claim');
  assert.is(one.vsBaseline.nPairs, 1);
  assert.match(one.headline, /one seed: no claim/);
  // A collapsed seed does not pair: 3 seeds run, 2 usable → "2 seeds: no claim".
  const two = decide([base(), design('m', 'learned', 'mixed', 8, [0.7, 0.7, 0.7], [0.69, 0.7, 0.71], [2])], { tolerance: 0.02 });
  assert.is(two.vsBaseline.nPairs, 2);
  assert.match(two.headline, /2 seeds: no claim/);
  const three = decide([base(), design('m', 'learned', 'mixed', 8, [0.7, 0.71, 0.72], [0.688, 0.699, 0.709])], { tolerance: 0.02 });
  assert.is(three.vsBaseline.claim, 'supported');
  assert.match(three.headline, /3 seeds: within τ = 0\.02 of full precision/);
});

test('mixed against uniform, in plain words', () => {
  // Uniform 6 bits is within τ and saves more than every mixed layout within τ.
  const uniformWins = decide(
    [
      base(),
      design('u6', 'uniform-b', 'uniform', 6, [0.7, 0.7, 0.7], [0.69, 0.7, 0.7]),
      design('learned-0.5', 'learned', 'mixed', 7, [0.7, 0.7, 0.7], [0.69, 0.7, 0.7]),
      design('random-0.75', 'random', 'mixed', 5, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]),
    ],
    { tolerance: 0.02 },
  );
  assert.is(uniformWins.chosen.designId, 'u6');
  assert.not.ok(uniformWins.mixedBeatsUniform);
  assert.match(uniformWins.mixedSentence, /^No mixed layout beats the best uniform design at τ = 0\.02: the uniform design every pixel at 6 bits, U-Net retrained \[u6\] saves/);
  assert.is(uniformWins.bestMixed!.designId, 'learned-0.5');
  const mixedWins = decide(
    [base(), design('u8', 'uniform-b', 'uniform', 8, [0.7, 0.7, 0.7], [0.7, 0.7, 0.7]), design('m5', 'content', 'mixed', 5, [0.7, 0.7, 0.7], [0.7, 0.69, 0.7])],
    { tolerance: 0.02 },
  );
  assert.ok(mixedWins.mixedBeatsUniform);
  assert.is(mixedWins.mixedVsUniform!.nPairs, 3);
  assert.match(mixedWins.mixedSentence, /^A mixed layout beats the best uniform design/);
  const mixedOut = decide([base(), design('u8', 'uniform-b', 'uniform', 8, [0.7, 0.7, 0.7], [0.7, 0.7, 0.7]), design('m5', 'content', 'mixed', 5, [0.3, 0.3, 0.3], [0.3, 0.3, 0.3])], { tolerance: 0.02 });
  assert.match(mixedOut.mixedSentence, /^No mixed layout beats the best uniform design at τ = 0\.02: no mixed layout is within τ/);
  const noMixed = decide([base(), design('u8', 'uniform-b', 'uniform', 8, [0.7, 0.7, 0.7], [0.7, 0.7, 0.7])], { tolerance: 0.02 });
  assert.match(noMixed.mixedSentence, /No mixed layout was measured/);
  assert.throws(() => decide([design('m', 'learned', 'mixed', 8, [0.7], [0.7])], { tolerance: 0.02 }), /exactly one full-precision/);
});

test('front plot: one series per family, the non-dominated designs joined, τ band, the decision circled; renders to PNG', async () => {
  const rows = [
    base(),
    design('u8', 'uniform-b', 'uniform', 8, [0.7, 0.7, 0.7], [0.6, 0.6, 0.6]),
    design('u4', 'uniform-b', 'uniform', 4, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]),
    design('d10', 'dither', 'mixed', 10, [0.65, 0.65, 0.65], [0.9, 0.9, 0.9]),
    design('b10', 'blue-noise', 'mixed', 10, [0.66, 0.65, 0.65], [0.9, 0.9, 0.9]),
    design('dead', 'random', 'mixed', 2, [0.9, 0.9], [0.9, 0.9], [0, 1]),
  ];
  const d = decide(rows, { tolerance: 0.02 });
  const spec = paretoPlotSpec(paretoFront(rows), d, { nativeBits: 12 });
  const names = spec.series.map((s) => s.name);
  assert.equal(names, ['full precision ± τ (0.02)', 'full precision', 'uniform, retrained U-Net (b)', 'ordered dither (Bayer)', 'blue noise', 'non-dominated (validation)', 'decision: u8']);
  const band = spec.series[0]!.points[0]!;
  assert.ok(Math.abs(band.hi! - band.lo! - 0.04) < 1e-12);
  assert.is(spec.series.find((s) => s.name.startsWith('non-dominated'))!.points.length, 3); // u4, u8, full
  // Dither and blue noise at 10 bits are drawn side by side, not on top of each other.
  const xs = spec.series.filter((s) => s.name === 'ordered dither (Bayer)' || s.name === 'blue noise').map((s) => s.points[0]!.x);
  assert.ok(xs[0]! < 10 && xs[1]! > 10);
  const png = await svgToPng(plotSvg(spec, PARETO_PLOT_SIZE.width, PARETO_PLOT_SIZE.height));
  assert.equal([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
});

test.run();
