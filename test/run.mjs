#!/usr/bin/env node
// Runs every test/*.test.ts in its own Node process (tfjs backends keep global state), two at a
// time, then prints uvu's totals as one plain line `N passed, N failed, N skipped` so CI can count the tests.
// Skipped counts both uvu's skipped tests (test.skip) and whole suites that skip themselves with a
// `SKIPPED <what> tests: <why>` line (test/helpers/webgpu.ts: no WebGPU adapter); uvu sees no test there.
// Usage: node test/run.mjs [filter-substring ...]
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { closingLine, countOutput } from './helpers/summary.mjs';

const filters = process.argv.slice(2);
const files = readdirSync(new URL('.', import.meta.url))
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();

const jobs = Math.max(1, Math.min(2, availableParallelism()));
let passed = 0;
let failed = 0;
let skipped = 0;
let skippedSuites = 0;
const crashed = [];

function runOne(file) {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', `test/${file}`], {
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => {
      const { total, passed: p, skipped: s, skippedSuites: suites } = countOutput(out);
      if (total === null || p === null) {
        crashed.push(file);
        failed += 1;
      } else {
        passed += p;
        skipped += s;
        skippedSuites += suites;
        failed += total - p; // uvu's total leaves skipped tests out
      }
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      process.stdout.write(`\n=== ${file} (${secs}s, exit ${code})\n${out}`);
      if (code !== 0 && total !== null && total - p === 0) {
        crashed.push(file);
        failed += 1;
      }
      resolve();
    });
  });
}

const queue = [...files];
await Promise.all(
  Array.from({ length: jobs }, async () => {
    while (queue.length) await runOne(queue.shift());
  }),
);

if (crashed.length) console.log(`\nfiles that crashed or failed outside a test: ${crashed.join(', ')}`);
console.log(`\n${closingLine(passed, failed, skipped, skippedSuites)}`);
process.exit(failed > 0 || files.length === 0 ? 1 : 0);
