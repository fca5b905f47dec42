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

test('diceBceLoss: value and hand-written gradient equal autodiff of (1 − softDice) + BCE, incl. clipped and empty cases', () => {
  // Batch of 3: random masks and predictions, an empty mask, and predictions exactly 0 and 1 (clip active).
  let seed = 7;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  const shape: [number, number, number, number] = [3, 5, 6, 1];
  const yTrue = tf.tensor4d(Array.from({ length: 90 }, (_, i) => (i >= 30 && i < 60 ? 0 : rand() < 0.4 ? 1 : 0)), shape);
  const yPred = tf.tensor4d(Array.from({ length: 90 }, (_, i) => (i % 17 === 0 ? 0 : i % 19 === 0 ? 1 : rand())), shape);
  for (const perImage of [true, false]) {
    for (const eps of [1, 1e-3]) {
      const reference = (p: tf.Tensor) => tf.add(tf.sub(1, softDice(yTrue, p, { perImage, eps })), binaryCrossEntropy(yTrue, p)) as tf.Scalar;
      const ours = (p: tf.Tensor) => diceBceLoss(yTrue, p, { perImage, eps });
      close(ours(yPred).dataSync()[0]!, reference(yPred).dataSync()[0]!, 1e-6);
      const want = tf.grad(reference)(yPred).dataSync();
      const got = tf.grad(ours)(yPred).dataSync();
      const scale = Math.max(...Array.from(want, Math.abs));
      for (let i = 0; i < want.length; i++) {
        if (Math.abs(got[i]! - want[i]!) > 1e-5 * scale) assert.unreachable(`perImage ${perImage} eps ${eps}: dL/dp[${i}] ${got[i]} vs autodiff ${want[i]}`);
      }
    }
  }
  // The case is exercised: at p = 0 and p = 1 the clip is active and BCE passes no gradient.
  const bceGrad = tf.grad((p: tf.Tensor) => binaryCrossEntropy(yTrue, p))(yPred).dataSync();
  assert.is(bceGrad[17], 0);
  assert.is(bceGrad[19], 0);
  assert.ok(bceGrad[1] !== 0);
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
