/** 3D Dice (issue 21): TP / FP / FN summed over a volume's slices, not a mean of slice scores. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { diceOverSet, diceOverVolumes } from '../src/model/metrics.js';

const m = (...v: number[]) => Uint8Array.from(v);

test('3D Dice sums each volume\'s slices; volumes in first-appearance order; their mean', () => {
  // Volume a: slice 1 TP 2 FN 1, slice 2 FP 1, slice 3 empty/empty → 2·2 / (2·2 + 1 + 1) = 2/3.
  // Volume b: slice 1 TP 1, slice 2 FN 3 → 2 / (2 + 3) = 0.4.
  const ids = ['a', 'b', 'a', 'a', 'b'];
  const masks = [m(1, 1, 1, 0), m(1, 0, 0, 0), m(0, 0, 0, 0), m(0, 0, 0, 0), m(0, 1, 1, 1)];
  const preds = [m(1, 1, 0, 0), m(1, 0, 0, 0), m(0, 0, 0, 1), m(0, 0, 0, 0), m(0, 0, 0, 0)];
  const got = diceOverVolumes(ids, masks, preds);
  assert.equal(got.perVolume.map((v) => v.id), ['a', 'b']);
  assert.ok(Math.abs(got.perVolume[0]!.dice - 2 / 3) < 1e-12);
  assert.ok(Math.abs(got.perVolume[1]!.dice - 0.4) < 1e-12);
  assert.ok(Math.abs(got.mean - (2 / 3 + 0.4) / 2) < 1e-12);
  // Not the mean of slice scores: volume a's slices score 0.8, 0, 1 (mean 0.6).
  const slices = diceOverSet([masks[0]!, masks[2]!, masks[3]!], [preds[0]!, preds[2]!, preds[3]!]);
  assert.ok(Math.abs(slices.mean - 0.6) < 1e-12);
});

test('3D Dice: a volume without lesion and without prediction scores 1, with a false positive 0; lengths must agree', () => {
  assert.equal(diceOverVolumes(['x', 'x'], [m(0, 0), m(0, 0)], [m(0, 0), m(0, 0)]).perVolume, [{ id: 'x', dice: 1 }]);
  assert.equal(diceOverVolumes(['x', 'x'], [m(0, 0), m(0, 0)], [m(0, 0), m(0, 1)]).perVolume, [{ id: 'x', dice: 0 }]);
  assert.ok(Number.isNaN(diceOverVolumes([], [], []).mean));
  assert.throws(() => diceOverVolumes(['x'], [m(0)], []), /1 volume ids, 1 masks, 0 predictions/);
});

test.run();
