/** Small profile and config files for tests that run the CLI end to end (sweep, train, Slurm). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Writes `<dir>/profile.json`: a 32×32 detector, 8-bit ADC with one mode and a floor quantizer; returns its path. */
export function writeTinyProfile(dir: string, name: string, budget: { fraction: number; sweep: number[] }): string {
  const path = join(dir, 'profile.json');
  writeFileSync(
    path,
    JSON.stringify({
      name,
      geometry: { rows: 32, cols: 32 },
      adc: { nativeBits: 8, modes: [1], quantizer: 'floor' },
      budget,
    }),
  );
  return path;
}

/** Writes `<dir>/config.json`: 32-pixel slices, a depth-2 U-Net with batch norm, one seed, synthetic data; returns its path. */
export function writeTinyConfig(dir: string, o: { epochs: number; baseFilters: number; slices: number; slicesPerVolume: number }): string {
  const path = join(dir, 'config.json');
  writeFileSync(
    path,
    JSON.stringify({
      size: 32,
      epochs: o.epochs,
      batchSize: 4,
      unet: { depth: 2, baseFilters: o.baseFilters, normalization: 'batch' },
      seeds: 1,
      testFraction: 0.25,
      validationFraction: 0.2,
      synthetic: { slices: o.slices, slicesPerVolume: o.slicesPerVolume },
    }),
  );
  return path;
}
