/**
 * Hand-made RunResults for the report tests (no training): a 4×4 detector, 16-bit native, one
 * 8-bit mode; baseline, learned and random at budgets 0.25 and 0.5 with several seeds (one learned
 * run collapsed), the bit-depth study (a)/(b) and one multilevel run. Dice values are chosen so
 * the statistics can be checked by hand (see test/report-tables.test.ts).
 */
import type { DiceSummary, RunResult, Setup } from '../src/runs/types.js';
import type { DetectorProfile } from '../src/profile/types.js';

export const profile: DetectorProfile = {
  name: 'test-4x4',
  description: 'A 4×4 test detector.',
  rows: 4,
  cols: 4,
  nativeBits: 16,
  modes: [8],
  rule: 'floor',
  budget: { kind: 'fraction', value: 0.5 },
  sweep: [0.25, 0.5],
};

function dice(perImage: number[]): DiceSummary {
  const mean = perImage.reduce((a, b) => a + b, 0) / perImage.length;
  return { perImage, mean, pooled: mean, emptyPredictionShare: perImage.filter((d) => d === 0).length / perImage.length };
}

const PROB = [0.9, 0.8, 0.75, 0.2, 0.85, 0.6, 0.4, 0.1, 0.7, 0.5, 0.3, 0.05, 0.65, 0.35, 0.25, 0.15];

function run(setup: Setup, seed: number, perImage: number[], extra: Partial<RunResult> = {}): RunResult {
  const tag = extra.budget !== undefined ? `-b${extra.budget}` : extra.keptBits !== undefined ? `-k${extra.keptBits}` : '';
  return {
    id: `${setup}${tag}-s${seed}`,
    setup,
    seed,
    bitsPerPixel: 16,
    nativeBits: 16,
    dice: dice(perImage),
    collapsed: false,
    history: [
      { epoch: 1, loss: 0.9 - 0.01 * seed, valDice: 0.3, learningRate: 1e-3, seconds: 1 },
      { epoch: 2, loss: 0.6 - 0.01 * seed, valDice: 0.6, learningRate: 1e-3, seconds: 1 },
      { epoch: 3, loss: 0.5 - 0.01 * seed, valDice: 0.7, learningRate: 5e-4, seconds: 1 },
    ],
    rows: 4,
    cols: 4,
    trainSeconds: 3,
    backend: 'wasm',
    ...extra,
  };
}

function learned(seed: number, budget: number, perImage: number[], extra: Partial<RunResult> = {}): RunResult {
  const k = Math.round(budget * 16);
  const order = PROB.map((p, i) => ({ p, i })).sort((a, b) => b.p - a.p);
  const hardware = new Array<number>(16).fill(0);
  for (const { i } of order.slice(0, k)) hardware[i] = 1;
  return run('learned', seed, perImage, {
    budget,
    keptBits: 8,
    bitsPerPixel: 16 - 8 * budget,
    probabilityMap: PROB,
    hardwareLayout: hardware,
    diceStochastic: dice(perImage.map((d) => d - 0.05)),
    ...extra,
  });
}

function random(seed: number, budget: number, perImage: number[]): RunResult {
  return run('random', seed, perImage, { budget, keptBits: 8, bitsPerPixel: 16 - 8 * budget, hardwareLayout: new Array(16).fill(0).map((_, i) => (i % 2)) });
}

/** The full fixture; order deliberately mixed. */
export function fixtureRuns(): RunResult[] {
  return [
    learned(1, 0.5, [0.7, 0.8]),
    run('baseline', 0, [0.9, 0.7]),
    random(0, 0.5, [0.5, 0.7]),
    learned(0, 0.5, [0.6, 0.8]),
    learned(3, 0.5, [0, 0], { collapsed: true, collapseReason: 'empty validation predictions' }),
    random(1, 0.5, [0.6, 0.6]),
    learned(2, 0.5, [0.8, 0.8]),
    random(2, 0.5, [0.7, 0.7]),
    run('baseline', 1, [1.0, 0.8]),
    learned(0, 0.25, [0.9, 0.7]),
    random(0, 0.25, [0.9, 0.7]),
    run('all-pixels-baseline', 0, [0.4, 0.6], { keptBits: 8, bitsPerPixel: 8 }),
    run('all-pixels-baseline', 1, [0.6, 0.6], { keptBits: 8, bitsPerPixel: 8 }),
    run('all-pixels-baseline', 0, [0, 0], { keptBits: 4, bitsPerPixel: 4, collapsed: true, collapseReason: 'empty predictions' }),
    run('all-pixels-retrained', 0, [0.6, 0.8], { keptBits: 8, bitsPerPixel: 8 }),
    run('all-pixels-retrained', 1, [0.8, 0.8], { keptBits: 8, bitsPerPixel: 8 }),
    run('all-pixels-retrained', 0, [0.5, 0.5], { keptBits: 4, bitsPerPixel: 4 }),
    run('multilevel', 0, [0.7, 0.9], {
      budget: 10,
      bitsPerPixel: 10,
      probabilityMap: PROB,
      bitsMap: PROB.map((p) => (p > 0.6 ? 4 : p > 0.3 ? 8 : 16)),
      diceStochastic: dice([0.6, 0.8]),
    }),
  ];
}
