/**
 * Copies every n-th slice of a ct/ + covid/ PNG dataset (file order) into a folder that travels to
 * the GPU machine with a device call (64 MiB in all, the runtime included: covid-ct-20 at 256² is
 * 92 MB of PNG), with a volumes.json that keeps each slice's patient (from --volume-starts or
 * --preset covid-ct-20), so the split by volume and the preset's held-out volumes still apply. The
 * PNG bytes are copied, not re-encoded.
 *
 * `--parts-mib 20,58` splits the copy into folders <out>-1, <out>-2, … of at most 20 MiB, then 58
 * MiB each (the last size repeats), for device calls in a row on one warm machine (ignored files
 * stay there between calls); the GPU command then copies them into one folder. volumes.json, for
 * all slices, goes into part 1.
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
    'parts-mib': { type: 'string' },
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
const partLimits = values['parts-mib']?.split(',').map((v) => Number(v) * 2 ** 20);
if (partLimits?.some((v) => !(v > 0))) fail(`--parts-mib: expected sizes in MiB, got ${values['parts-mib']}`);

const files = readdirSync(join(data, 'ct')).filter((f) => f.toLowerCase().endsWith('.png')).sort();
const volumes: Record<string, string> = {};
const partDir = (k: number) => (partLimits ? `${out}-${k + 1}` : out);
let part = 0;
let partBytes = 0;
const partSizes: number[] = [];
for (let i = 0; i < files.length; i += every) {
  const f = files[i]!;
  const volume = starts.filter((s) => s <= i).length - 1;
  volumes[f.replace(/\.png$/i, '')] = startsVolumeName(volume, starts.length);
  const bytes = ['ct', 'covid'].reduce((a, dir) => a + statSync(join(data, dir, f)).size, 0);
  const limit = partLimits?.[Math.min(part, partLimits.length - 1)] ?? Infinity;
  if (partBytes > 0 && partBytes + bytes > limit) {
    partSizes.push(partBytes);
    part += 1;
    partBytes = 0;
  }
  for (const dir of ['ct', 'covid']) {
    mkdirSync(join(partDir(part), dir), { recursive: true });
    copyFileSync(join(data, dir, f), join(partDir(part), dir, f));
  }
  partBytes += bytes;
}
partSizes.push(partBytes);
writeFileSync(join(partDir(0), 'volumes.json'), JSON.stringify({ source: `${data}, every ${every}th slice`, volumes }, null, 1) + '\n');
const mib = (b: number) => (b / 2 ** 20).toFixed(1);
console.log(`${Object.keys(volumes).length} of ${files.length} slices, ${mib(partSizes.reduce((a, b) => a + b, 0))} MiB → ` +
  partSizes.map((b, k) => `${partDir(k)} (${mib(b)} MiB)`).join(', '));
