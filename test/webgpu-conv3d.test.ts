/**
 * conv3d on WebGPU (tfjs's own Conv3D, Conv3DBackpropInputV2, Conv3DBackpropFilterV2: the 3D
 * U-Net's convolutions) against the cpu backend, on SwiftShader (.vulkan-sw/).
 * Without an adapter: fails when CI=true (CI installs SwiftShader), is skipped otherwise.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { selectWebgpuBackend } from '../src/backend/webgpu/node-gpu.js';
import { registerWebgpuTrainingKernels } from '../src/backend/webgpu/kernels.js';
import { maxRelativeError } from './helpers/arrays.js';
import { CONV3D_CASES, conv3dGradients } from './helpers/conv3d.js';
import { reportMissingAdapter, testAdapter } from './helpers/webgpu.js';

const adapter = await testAdapter();
if (!adapter) {
  reportMissingAdapter('the WebGPU conv3d kernels');
} else {
  await tf.setBackend('cpu');
  const reference: Float32Array[][] = [];
  for (const c of CONV3D_CASES) reference.push(await conv3dGradients(c));
  await selectWebgpuBackend(tf);
  registerWebgpuTrainingKernels();

  test('conv3d forward, input and filter gradients on webgpu match the cpu backend', async () => {
    for (const [n, c] of CONV3D_CASES.entries()) {
      const got = await conv3dGradients(c);
      ['y', 'dx', 'dfilter'].forEach((what, i) => {
        const err = maxRelativeError(got[i]!, reference[n]![i]!, 1);
        assert.ok(err < 1e-4, `${what} x ${c.x} f ${c.f} ${c.pad}: relative error ${err}`);
      });
    }
  });
}

test.run();
