/**
 * Counter-based sampling noise for the trainable layers: draw i of a stream is a pure function of
 * the stream's key and i (a keyed integer hash), not the next state of a sequential generator.
 * So a batch of draws can be made where it is used: on WebGPU one dispatch writes the noise on the
 * GPU (at 512², batch 8 a step needs 2M draws: ~35 ms of JS and an 8 MB upload when made on the
 * CPU), and every backend gets the same uniforms, bit for bit.
 *
 * Uniform draw: h = triple32(triple32(lo ⊕ k0) ⊕ hi ⊕ k1) for the 64-bit index (hi, lo), then
 * u = (2·(h >> 9) + 1) / 2^24: an odd multiple of 2^-24, so u and 1 − u are exact in float32 and
 * lie strictly inside (0, 1) (no clipping before a logarithm). triple32 is Chris Wellons' integer
 * hash (hash-prospector), a bijection on 32 bits with low bias.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { NOISE_KERNEL, type NoiseTransform } from '../backend/kernel-names.js';

export type { NoiseTransform } from '../backend/kernel-names.js';

/** The key of one noise stream: two 32-bit words. */
export interface NoiseKey {
  k0: number;
  k1: number;
}

const TWO_POW_32 = 4294967296;

/** A stream key derived from an integer seed (different seeds, unrelated streams). */
export function noiseKeyFromSeed(seed: number): NoiseKey {
  const rng = new Rng(seed).fork(1);
  return { k0: Math.floor(rng.next() * TWO_POW_32) >>> 0, k1: Math.floor(rng.next() * TWO_POW_32) >>> 0 };
}

export function triple32(value: number): number {
  let x = value >>> 0;
  x ^= x >>> 17;
  x = Math.imul(x, 0xed5ad4bb);
  x ^= x >>> 11;
  x = Math.imul(x, 0xac4c1b51);
  x ^= x >>> 15;
  x = Math.imul(x, 0x31848bab);
  x ^= x >>> 14;
  return x >>> 0;
}

/** Uniform draw `index` (an integer in [0, 2^53)) of the stream `key`, in (0, 1). */
export function counterUniform(key: NoiseKey, index: number): number {
  const lo = index % TWO_POW_32;
  const hi = Math.floor(index / TWO_POW_32);
  const h = triple32(triple32(lo ^ key.k0) ^ hi ^ key.k1);
  return (2 * (h >>> 9) + 1) / 16777216;
}

/** Draws start … start + n − 1 of the stream as float32 (exact: every draw is a float32 value). */
export function uniformDraws(key: NoiseKey, start: number, n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = counterUniform(key, start + i);
  return out;
}

/**
 * Draws start … start + size − 1 of the stream, transformed, as a float32 tensor of `shape`
 * (row-major). Where the backend has the noise kernel (webgpu) they are made there; elsewhere the
 * uniforms come from JS and the transform from tf ops. The uniforms are the same everywhere;
 * transformed values agree to the backends' logarithm rounding.
 */
export function noiseTensor(key: NoiseKey, start: number, shape: number[], transform: NoiseTransform): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  if (!(Number.isInteger(start) && start >= 0 && start + size <= Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`noise draws must start at an integer in [0, 2^53 − size), got ${start}`);
  }
  if (tf.getKernel(NOISE_KERNEL, tf.getBackend())) return noiseKernel(key, start, shape, transform);
  return tf.tidy(() => {
    const u = tf.tensor(uniformDraws(key, start, size), shape, 'float32');
    switch (transform) {
      case 'uniform':
        return u;
      case 'logistic':
        return tf.sub(tf.log(u), tf.log(tf.sub(1, u)));
      case 'gumbel':
        return tf.neg(tf.log(tf.neg(tf.log(u))));
    }
  });
}

function noiseKernel(key: NoiseKey, start: number, shape: number[], transform: NoiseTransform): tf.Tensor {
  const attrs = { shape, transform, k0: key.k0, k1: key.k1, startLo: start % TWO_POW_32, startHi: Math.floor(start / TWO_POW_32) };
  return tf.engine().runKernel(NOISE_KERNEL, {}, attrs) as tf.Tensor;
}
