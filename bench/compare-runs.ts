/**
 * Compares groups of stored runs that live in different output folders (a family run in its own
 * folder against the fixed controls of a sweep; one model evaluated on two data sets), with the
 * report's statistics: per group the mean Dice over seeds with a 95 % t-interval across seeds, the
 * validation Dice the choice is made on, and each group minus a reference group paired by seed
 * (t-interval across seeds and a bootstrap over test images, as in the report's tables), and the
 * mean 3D Dice over test volumes where the runs have it.
 *
 * Usage:
 *   npx tsx bench/compare-runs.ts --ref content=/work/out/runs/content-k1-b0.5-s*.json \
 *     --group learned=/work/out/runs/learned-k1-b0.5-s*.json --group tile8='/work/tile8/runs/learned-*.json'
 * Each value is label=pattern, where the pattern is a path with * in its last component (quote it)
 * or a list of files separated by commas. Prints a markdown table; writes nothing.
 *
 * Pooled over several settings (sizes, budgets): one design against another where each setting is
 * its own pair of run groups, every seed of every setting one paired difference, a t-interval
 * across all of them:
 *   npx tsx bench/compare-runs.ts --pool 'grid − pixel' \
 *     --pair 'out/g64-b0.5/runs/learned-*.json::out/p64-b0.5/runs/learned-*.json' --pair ...
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readRunFile } from '../src/runs/store.js';
import type { RunResult } from '../src/runs/types.js';
import { diceStats, diffStats, type StatContext } from '../src/report/table-stats.js';
import { pairedDifferences, tInterval } from '../src/report/stats.js';

const CTX: StatContext = { seed: 1, resamples: 2000, level: 0.95 };

/** Files of one pattern: a comma list, or a * in the file name. */
export function expandPattern(pattern: string): string[] {
  return pattern.split(',').flatMap((p) => {
    if (!basename(p).includes('*')) return [p];
    const dir = dirname(p);
    const re = new RegExp(`^${basename(p).split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
    return readdirSync(dir).filter((f) => re.test(f)).sort().map((f) => join(dir, f));
  });
}

function parseGroup(text: string): { label: string; runs: RunResult[] } {
  const eq = text.indexOf('=');
  if (eq < 1) throw new Error(`expected label=pattern, got "${text}"`);
  return { label: text.slice(0, eq), runs: loadPattern(text.slice(eq + 1)) };
}

/** The same runs with their validation Dice in place of the test Dice, for the validation columns. */
function onValidation(runs: readonly RunResult[]): RunResult[] {
  return runs.filter((r) => r.validationDice).map((r) => ({ ...r, dice: r.validationDice!, diceStochastic: undefined }));
}

/** Mean over seeds of each run's mean 3D Dice over its test volumes (NaN when the runs have none). */
function volumeDice(runs: readonly RunResult[]): number {
  const v = runs.filter((r) => !r.collapsed && r.diceVolume).map((r) => r.diceVolume!.mean);
  return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
}

const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(3) : '–');
const signed = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : '−'}${Math.abs(v).toFixed(3)}` : '–');
const interval = (lo: number, hi: number, f = fmt) => (Number.isFinite(lo) ? `[${f(lo)}, ${f(hi)}]` : '');

/** Seed-paired differences a − b of one setting, on validation and on test (seeds present in both). */
export function settingDifferences(a: readonly RunResult[], b: readonly RunResult[]): { seeds: number[]; validation: number[]; test: number[] } {
  const usable = (runs: readonly RunResult[]) => runs.filter((r) => !r.collapsed && r.validationDice);
  const bySeed = (runs: readonly RunResult[], pick: (r: RunResult) => number) => new Map(usable(runs).map((r) => [r.seed, pick(r)]));
  const validation = pairedDifferences(bySeed(a, (r) => r.validationDice!.mean), bySeed(b, (r) => r.validationDice!.mean));
  const test = pairedDifferences(bySeed(a, (r) => r.dice.mean), bySeed(b, (r) => r.dice.mean));
  return { seeds: test.keys, validation: validation.diffs, test: test.diffs };
}

function loadPattern(pattern: string): RunResult[] {
  const files = expandPattern(pattern);
  if (files.length === 0) throw new Error(`no run files match ${pattern}`);
  return files.map(readRunFile);
}

function pooled(label: string, pairs: readonly string[]): void {
  const settings = pairs.map((pair) => {
    const [a, b] = pair.split('::');
    if (!a || !b) throw new Error(`expected a::b (two run patterns), got "${pair}"`);
    return { name: a, ...settingDifferences(loadPattern(a), loadPattern(b)) };
  });
  const avg = (v: number[]) => signed(v.reduce((x, y) => x + y, 0) / v.length);
  console.log(`| setting | seeds | ${label}, validation | ${label}, test |`);
  console.log('|---|---|---|---|');
  for (const d of settings) console.log(`| ${d.name} | ${d.seeds.join(' ')} | ${avg(d.validation)} | ${avg(d.test)} |`);
  const v = tInterval(settings.flatMap((d) => d.validation));
  const t = tInterval(settings.flatMap((d) => d.test));
  console.log(`| pooled | ${t.n} pairs | ${signed(v.estimate)} ${interval(v.lo, v.hi, signed)} | ${signed(t.estimate)} ${interval(t.lo, t.hi, signed)} |`);
}

function main(): void {
  const { values } = parseArgs({
    options: { ref: { type: 'string' }, group: { type: 'string', multiple: true }, pool: { type: 'string' }, pair: { type: 'string', multiple: true } },
  });
  if (values.pool !== undefined) {
    if (!values.pair?.length) throw new Error('--pool needs at least one --pair a::b');
    pooled(values.pool, values.pair);
    return;
  }
  if (!values.ref) throw new Error('--ref label=pattern is required');
  const ref = parseGroup(values.ref);
  const groups = [ref, ...(values.group ?? []).map(parseGroup)];
  console.log(`| design | seeds | validation Dice | test Dice [95% CI across seeds] | 3D Dice (per volume) | − ${ref.label}, validation [seeds] | − ${ref.label}, test [seeds] [images] |`);
  console.log('|---|---|---|---|---|---|---|');
  for (const g of groups) {
    const test = diceStats(g.runs, false, CTX, `${g.label}:test`);
    const val = diceStats(onValidation(g.runs), false, CTX, `${g.label}:val`);
    const isRef = g === ref;
    const dTest = isRef ? undefined : diffStats(g.runs, false, ref.runs, CTX, `${g.label}-${ref.label}:test`);
    const dVal = isRef ? undefined : diffStats(onValidation(g.runs), false, onValidation(ref.runs), CTX, `${g.label}-${ref.label}:val`);
    const collapsed = test.n_collapsed ? ` (${test.n_collapsed} collapsed)` : '';
    console.log(
      `| ${g.label} | ${test.seeds}${collapsed} | ${fmt(val.dice_mean)} | ${fmt(test.dice_mean)} ${interval(test.dice_seed_t_lo, test.dice_seed_t_hi)} | ${fmt(volumeDice(g.runs))} | ` +
        `${dVal ? `${signed(dVal.mean)} ${interval(dVal.seed_t_lo, dVal.seed_t_hi, signed)}` : ''} | ${dTest ? `${signed(dTest.mean)} ${interval(dTest.seed_t_lo, dTest.seed_t_hi, signed)} ${interval(dTest.image_boot_lo, dTest.image_boot_hi, signed)}` : ''} |`,
    );
  }
}

// Run as a script, not when a test imports settingDifferences.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main();
  } catch (e) {
    process.stderr.write(`compare-runs: ${(e as Error).message}\n`);
    process.exit(2);
  }
}
