/**
 * bench/compare-runs.ts's pooled mode: one design minus another, paired by seed within each
 * setting, on validation and on test; unmatched seeds and collapsed runs left out.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { settingDifferences } from '../bench/compare-runs.js';
import type { DiceSummary, RunResult } from '../src/runs/types.js';

const dice = (mean: number): DiceSummary => ({ perImage: [mean], mean, pooled: mean, emptyPredictionShare: 0 });

function run(seed: number, validation: number, testDice: number, collapsed = false): RunResult {
  return {
    id: `learned-s${seed}`, setup: 'learned', seed, bitsPerPixel: 4.5, nativeBits: 8, dice: dice(testDice),
    validationDice: dice(validation), collapsed, history: [], rows: 4, cols: 4, trainSeconds: 1, backend: 'wasm',
  };
}

test('differences are paired by seed, validation and test separately', () => {
  const a = [run(3, 0.5, 0.6), run(1, 0.4, 0.5), run(2, 0.45, 0.55)];
  const b = [run(1, 0.3, 0.45), run(2, 0.5, 0.5), run(3, 0.5, 0.4)];
  const d = settingDifferences(a, b);
  assert.equal(d.seeds, [1, 2, 3]);
  assert.ok(d.validation.every((v, i) => Math.abs(v - [0.1, -0.05, 0][i]!) < 1e-12));
  assert.ok(d.test.every((v, i) => Math.abs(v - [0.05, 0.05, 0.2][i]!) < 1e-12));
});

test('a seed missing on one side or collapsed is not paired', () => {
  const d = settingDifferences([run(1, 0.4, 0.5), run(2, 0.4, 0.5, true), run(4, 0.1, 0.1)], [run(1, 0.3, 0.3), run(2, 0.3, 0.3)]);
  assert.equal(d.seeds, [1]);
  assert.equal(d.validation.length, 1);
  assert.equal(d.test.length, 1);
});

test.run();
