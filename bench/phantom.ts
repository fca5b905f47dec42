/**
 * Speed of the synthetic phantom generator (src/data/phantom.ts), which the demo and the tests run
 * on: ms per 64² slice (12-bit) and per 512² slice (16-bit). It was a timed test; timings belong
 * here (a shared machine made the test fail under load).
 *
 *   node --import tsx bench/phantom.ts [--rounds 5]
 */
import { parseArgs } from 'node:util';
import { generatePhantoms } from '../src/data/phantom.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' } } });
const rounds = Number(values.rounds);
const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;

generatePhantoms({ n: 4, size: 64, seed: 1, nativeBits: 12 }); // warm up
const per64: number[] = [];
const per512: number[] = [];
for (let r = 0; r < rounds; r++) {
  let t = performance.now();
  generatePhantoms({ n: 50, size: 64, seed: 5 + r, nativeBits: 12 });
  per64.push((performance.now() - t) / 50);
  t = performance.now();
  generatePhantoms({ n: 1, size: 512, seed: 5 + r, nativeBits: 16 });
  per512.push(performance.now() - t);
}
console.log(`phantom generator, median of ${rounds}: ${median(per64).toFixed(2)} ms per 64² slice, ${median(per512).toFixed(0)} ms per 512² slice`);
