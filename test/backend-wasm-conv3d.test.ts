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
import { CONV3D_CASES, conv3dGradients } from './helpers/conv3d.js';

await startBackend('wasm');

test('conv3d forward, input and filter gradients on wasm match the cpu backend', async () => {
  for (const c of CONV3D_CASES) {
    await tf.setBackend('cpu');
    const want = await conv3dGradients(c);
    await tf.setBackend('wasm');
    const got = await conv3dGradients(c);
    ['y', 'dx', 'dfilter'].forEach((what, i) => {
      const err = maxRelativeError(got[i]!, want[i]!, 1);
      assert.ok(err < 1e-4, `${what} x ${c.x} f ${c.f} ${c.pad}: relative error ${err}`);
    });
  }
});

test.run();
