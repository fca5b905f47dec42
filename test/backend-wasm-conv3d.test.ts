/**
 * conv3d on wasm against the cpu reference backend: forward, input and filter gradients, same and
 * valid padding, stride 1. Stock tfjs-backend-wasm 4.22's Conv3DBackpropInputV2 fails this for
 * more than one input channel; ctquant's (src/backend/wasm/conv3d.ts) replaces it.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { startBackend } from '../src/backend/index.js';
import { maxRelativeError } from './helpers/arrays.js';

await startBackend('wasm');
type Shape5 = [number, number, number, number, number];
const cases: { x: Shape5; f: Shape5; pad: 'same' | 'valid' }[] = [
  { x: [2, 3, 8, 8, 16], f: [3, 3, 3, 16, 8], pad: 'same' },
  { x: [2, 5, 6, 7, 4], f: [3, 3, 3, 4, 6], pad: 'same' },
  { x: [1, 4, 7, 6, 3], f: [2, 3, 1, 3, 5], pad: 'valid' },
  { x: [3, 3, 9, 9, 1], f: [3, 3, 3, 1, 4], pad: 'same' },
];

/** y, dx, dfilter of sum(conv3d(x, f) · weight) on backend `name`. */
async function gradients(name: string, c: (typeof cases)[number]): Promise<Float32Array[]> {
  await tf.setBackend(name);
  return tf.tidy(() => {
    const x = tf.randomNormal(c.x, 0, 1, 'float32', 1);
    const f = tf.randomNormal(c.f, 0, 1, 'float32', 2);
    const y = tf.conv3d(x as tf.Tensor5D, f as tf.Tensor5D, 1, c.pad);
    const weight = tf.randomNormal(y.shape, 0, 1, 'float32', 3);
    const [dx, df] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv3d(a as tf.Tensor5D, b as tf.Tensor5D, 1, c.pad), weight)))([x, f]);
    return [y, dx!, df!].map((t) => t.dataSync() as Float32Array);
  });
}

test('conv3d forward, input and filter gradients on wasm match the cpu backend', async () => {
  for (const c of cases) {
    const want = await gradients('cpu', c);
    const got = await gradients('wasm', c);
    ['y', 'dx', 'dfilter'].forEach((what, i) => {
      const err = maxRelativeError(got[i]!, want[i]!, 1);
      assert.ok(err < 1e-4, `${what} x ${c.x} f ${c.f} ${c.pad}: relative error ${err}`);
    });
  }
});

test.run();
