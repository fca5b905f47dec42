/**
 * The counter-based noise of src/quant/noise.ts as one WGSL dispatch: element i of the output is
 * draw start + i of the stream (k0, k1), transformed. Same integer hash as the JS reference, so the
 * uniforms are bit-identical; the logarithms are WGSL's.
 */
import type { NoiseTransform } from '../kernel-names.js';
import { FlatOutputProgram, mainHeader } from './program-util.js';

const THREADS = 256;

const TRANSFORM_WGSL: Record<NoiseTransform, string> = {
  uniform: 'u',
  logistic: 'log(u) - log(1.0 - u)',
  gumbel: '-log(-log(u))',
};

export class NoiseProgram extends FlatOutputProgram {
  variableNames: string[] = [];
  shaderKey: string;
  uniforms = 'k0 : u32, k1 : u32, startLo : u32, startHi : u32,';

  constructor(shape: number[], private readonly transform: NoiseTransform) {
    super(shape, THREADS);
    this.shaderKey = `ctquantNoise_${transform}`;
  }

  getUserCode(): string {
    return `
      fn triple32(value : u32) -> u32 {
        var x = value;
        x ^= x >> 17u;
        x *= 0xed5ad4bbu;
        x ^= x >> 11u;
        x *= 0xac4c1b51u;
        x ^= x >> 15u;
        x *= 0x31848babu;
        x ^= x >> 14u;
        return x;
      }

      ${mainHeader('index')} {
        if (index < uniforms.size) {
          let lo = uniforms.startLo + u32(index);
          let hi = uniforms.startHi + select(0u, 1u, lo < uniforms.startLo);
          let h = triple32(triple32(lo ^ uniforms.k0) ^ hi ^ uniforms.k1);
          let u = f32(2u * (h >> 9u) + 1u) * (1.0 / 16777216.0);
          result[index] = ${TRANSFORM_WGSL[this.transform]};
        }
      }
    `;
  }
}
