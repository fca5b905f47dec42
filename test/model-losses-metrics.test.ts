/** Losses (src/model/losses.ts) and the discrete Dice metric (src/model/metrics.ts). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { binaryCrossEntropy, diceBceLoss, softDice } from '../src/model/losses.js';
import { binarize, diceOverSet, diceScore } from '../src/model/metrics.js';

await tf.setBackend('cpu');

const close = (a: number, b: number, tol = 1e-5) => assert.ok(Math.abs(a - b) < tol, `${a} vs ${b}`);
const t4 = (v: number[][]) => tf.tensor4d(v.flat(), [v.length, 1, v[0]!.length, 1]);

test('soft Dice: hand-computed per image and over the batch', () => {
  const yTrue = t4([[1, 1, 0, 0], [0, 0, 0, 0]]);
  const yPred = t4([[0.5, 1, 0.5, 0], [0, 0, 0, 0]]);
  // Image 1: (2·1.5 + eps) / (2 + 2 + eps); image 2 empty-empty: eps/eps = 1.
  close(softDice(yTrue, yPred, { perImage: true, eps: 1e-6 }).dataSync()[0]!, (3 / 4 + 1) / 2);
  close(softDice(yTrue, yPred, { perImage: false, eps: 1e-6 }).dataSync()[0]!, 3 / 4);
  close(softDice(yTrue, yTrue, { perImage: true }).dataSync()[0]!, 1);
});

test('binary cross-entropy matches the formula and stays finite at 0 and 1', () => {
  const yTrue = t4([[1, 0, 1, 0]]);
  const yPred = t4([[0.9, 0.2, 0, 1]]);
  const eps = 1e-7;
  // The upper clip 1 − eps is rounded to float32, so log(1 − p) there is log(1 − fround(1 − eps)).
  const want = -(Math.log(0.9) + Math.log(0.8) + Math.log(eps) + Math.log(1 - Math.fround(1 - eps))) / 4;
  close(binaryCrossEntropy(yTrue, yPred).dataSync()[0]!, want, 1e-3);
  close(diceBceLoss(yTrue, yTrue, { perImage: true }).dataSync()[0]!, 0, 1e-5);
  assert.throws(() => softDice(yTrue, tf.zeros([1, 1, 3, 1]), { perImage: true }), /\[B, H, W, 1\]/);
});

test('discrete Dice: 2TP/(2TP+FP+FN), empty-empty = 1, one side empty = 0, pooled over a set', () => {
  assert.is(diceScore([1, 1, 0, 0], [1, 0, 1, 0]), 0.5);
  assert.is(diceScore([0, 0, 0], [0, 0, 0]), 1);
  assert.is(diceScore([0, 0, 0], [0, 1, 0]), 0);
  assert.is(diceScore([0, 1, 0], [0, 0, 0]), 0);
  assert.equal(Array.from(binarize([0.2, 0.5, 0.51, 0.49])), [0, 1, 1, 0]);
  const set = diceOverSet([[1, 1, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0]], [[1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 0]]);
  assert.equal(set.perImage, [0.5, 1, 0]);
  close(set.mean, 0.5);
  // Pooled: TP 1, FP 1, FN 2 → 2/5.
  close(set.pooled, 0.4);
  close(set.emptyPredictionShare, 2 / 3);
});

test.run();
