/** Backend choice (src/backend/index.ts): the software-adapter predicate, auto's fallbacks, clear errors. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import * as tf from '@tensorflow/tfjs';
import { isSoftwareAdapter, startBackend, type BackendName } from '../src/backend/index.js';
import { UserError } from '../src/errors.js';

test('software adapters are recognised (auto never picks them), hardware ones are not', () => {
  assert.ok(isSoftwareAdapter({ vendor: 'google', architecture: 'swiftshader' }));
  assert.ok(isSoftwareAdapter({ vendor: 'Google', architecture: '', device: 'SwiftShader Device (Subzero)' }));
  assert.ok(isSoftwareAdapter({ vendor: 'mesa', architecture: '', device: 'llvmpipe (LLVM 15.0.6, 256 bits)' }));
  assert.ok(isSoftwareAdapter({ vendor: 'mesa', description: 'lavapipe' }));
  assert.ok(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', isFallbackAdapter: true }));
  assert.not.ok(isSoftwareAdapter({ vendor: 'nvidia', architecture: 'hopper', device: 'NVIDIA H100 80GB HBM3' }));
  assert.not.ok(isSoftwareAdapter({ vendor: 'amd', architecture: 'rdna-3' }));
  assert.not.ok(isSoftwareAdapter(null));
});

test('a requested tensorflow backend that is not installed is a UserError naming the package', async () => {
  try {
    await startBackend('tensorflow');
    assert.unreachable('tfjs-node is not installed here');
  } catch (e) {
    assert.instance(e, UserError);
    assert.match((e as Error).message, /backend tensorflow: .*@tensorflow\/tfjs-node.* is not installed/);
  }
});

test('an unknown backend name is a UserError', async () => {
  try {
    await startBackend('cuda' as BackendName);
    assert.unreachable();
  } catch (e) {
    assert.instance(e, UserError);
    assert.match((e as Error).message, /unknown backend "cuda"/);
  }
});

test('auto logs why each faster backend was skipped and never settles on a software adapter', async () => {
  const lines: string[] = [];
  const started = await startBackend('auto', (l) => lines.push(l));
  assert.is(tf.getBackend(), started.name);
  assert.ok(lines.some((l) => l.startsWith('tensorflow: ')), lines.join('\n'));
  if (started.name === 'webgpu') {
    assert.not.ok(isSoftwareAdapter({ device: started.detail }), started.detail);
  } else {
    assert.ok(lines.some((l) => l.startsWith('webgpu: ')), lines.join('\n'));
    assert.is(started.name, 'wasm');
  }
  // The wasm path can run a conv filter gradient (stock wasm cannot: tfjs issue 8474).
  const g = tf.grad((f: tf.Tensor) => tf.sum(tf.conv2d(tf.ones([1, 4, 4, 1]) as tf.Tensor4D, f as tf.Tensor4D, 1, 'same')));
  assert.equal(Array.from(g(tf.zeros([3, 3, 1, 1])).dataSync()), [9, 12, 9, 12, 16, 12, 9, 12, 9]);
});

test.run();
