/**
 * Copies every n-th slice of a ct/ + covid/ PNG dataset (file order) into a folder that travels to
 * the GPU machine with a device call (64 MiB in all: covid-ct-20 at 256² is 92 MB of PNG), with a
 * volumes.json that keeps each slice's patient (from --volume-starts or --preset covid-ct-20), so
 * the split by volume and the preset's held-out volumes still apply. The PNG bytes are copied, not
 * re-encoded.
 *   npx tsx bench/gpu-data.ts --data ../shared/data/covid-ct-20 --preset covid-ct-20 --every 4 --out .gpudata/covid-ct-20
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { COVID_CT_20_VOLUME_STARTS, startsVolumeName } from '../src/data/volumes.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string' },
    preset: { type: 'string' },
    'volume-starts': { type: 'string' },
    every: { type: 'string', default: '1' },
    out: { type: 'string' },
  },
});
const fail = (message: string): never => {
  console.error(`gpu-data: ${message}`);
  process.exit(2);
};
const data = values.data ?? fail('--data DIR is required');
const out = values.out ?? fail('--out DIR is required');
if (!existsSync(join(data, 'ct'))) fail(`${data}: no ct/ folder (absent? covid-ct-20 lives in ../shared/data, not in this repository)`);
const starts = values.preset === 'covid-ct-20'
  ? [...COVID_CT_20_VOLUME_STARTS]
  : values['volume-starts']?.split(',').map(Number) ?? fail('give --preset covid-ct-20 or --volume-starts');
const every = Number(values.every);
if (!(Number.isInteger(every) && every >= 1)) fail(`--every: expected a positive integer, got ${values.every}`);

const files = readdirSync(join(data, 'ct')).filter((f) => f.toLowerCase().endsWith('.png')).sort();
mkdirSync(join(out, 'ct'), { recursive: true });
mkdirSync(join(out, 'covid'), { recursive: true });
const volumes: Record<string, string> = {};
let bytes = 0;
for (let i = 0; i < files.length; i += every) {
  const f = files[i]!;
  const volume = starts.filter((s) => s <= i).length - 1;
  volumes[f.replace(/\.png$/i, '')] = startsVolumeName(volume, starts.length);
  for (const dir of ['ct', 'covid']) {
    copyFileSync(join(data, dir, f), join(out, dir, f));
    bytes += statSync(join(out, dir, f)).size;
  }
}
writeFileSync(join(out, 'volumes.json'), JSON.stringify({ source: `${data}, every ${every}th slice`, volumes }, null, 1) + '\n');
console.log(`${Object.keys(volumes).length} of ${files.length} slices, ${(bytes / 2 ** 20).toFixed(1)} MiB → ${out}`);
