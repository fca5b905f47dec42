/**
 * Smooth value noise on an integer lattice hashed from a seed (no stored grid, any domain): the
 * texture of the synthetic phantom's tissues and lesion borders.
 */

function hash2(i: number, j: number, seed: number): number {
  let h = Math.imul(i, 0x27d4eb2d) ^ Math.imul(j, 0x165667b1) ^ seed;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return ((h >>> 0) / 4294967296) * 2 - 1;
}

/** Value noise in [−1, 1] at (x, y) in lattice units, smoothstep-interpolated. */
function valueNoise(x: number, y: number, seed: number): number {
  const i = Math.floor(x);
  const j = Math.floor(y);
  const fx = x - i;
  const fy = y - j;
  const sx = fx * fx * (3 - 2 * fx);
  const sy = fy * fy * (3 - 2 * fy);
  const a = hash2(i, j, seed);
  const b = hash2(i + 1, j, seed);
  const c = hash2(i, j + 1, seed);
  const d = hash2(i + 1, j + 1, seed);
  return a + (b - a) * sx + (c - a) * sy + (a - b - c + d) * sx * sy;
}

/** Two-octave noise, roughly in [−1, 1]; `freq` cycles per normalised unit. */
export function fbm(u: number, v: number, freq: number, seed: number): number {
  return 0.67 * valueNoise(u * freq, v * freq, seed) + 0.33 * valueNoise(u * freq * 2.1 + 17.3, v * freq * 2.1 - 5.1, seed ^ 0x5bd1e995);
}

