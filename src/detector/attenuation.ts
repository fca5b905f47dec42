/**
 * HU ↔ linear attenuation μ (1/mm). μ_water default 0.0192 /mm: NIST XCOM water, total attenuation
 * with coherent scattering, 0.1929 cm²/g at 70 keV × 1.0 g/cm³ = 0.01929 /mm, the usual effective energy
 * of a 120 kVp spectrum.
 */
export const WATER_MU_70KEV_PER_MM = 0.0192;

/** hu [any length], HU → μ [same length], 1/mm: μ = μ_water·(1 + HU/1000), clipped at 0 (below air). */
export function huToMu(hu: Float32Array, waterMu: number): Float32Array {
  const out = new Float32Array(hu.length);
  for (let i = 0; i < hu.length; i++) out[i] = Math.max(0, waterMu * (1 + hu[i]! / 1000));
  return out;
}

/** mu [any length], 1/mm → HU [same length]: 1000·(μ/μ_water − 1) (no clipping: FBP undershoots are kept). */
export function muToHu(mu: Float32Array, waterMu: number): Float32Array {
  const out = new Float32Array(mu.length);
  for (let i = 0; i < mu.length; i++) out[i] = 1000 * (mu[i]! / waterMu - 1);
  return out;
}
