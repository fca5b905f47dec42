/**
 * Generated, seeded fuzzing of command-line arguments (issue 17): 400 random flag values against
 * the pure rules of src/cli/args.ts (each either a value that keeps the rule's contract or a
 * one-line UserError naming the flag, never another exception), then a few generated bad command
 * lines through the real CLI for commands that do not compute: exit 2, one `ctquant:` line, no
 * stack, no hang. CTQUANT_FUZZ_CASES raises the count of the first part.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { checkBudgets, parseInteger, parseIntegerList, parseNumber, parseNumberList, parseShardFlag, refuseNaN, type RawValue } from '../src/cli/args.js';
import { UserError } from '../src/errors.js';
import { studyProfile } from '../src/profile/load.js';
import type { DetectorProfile } from '../src/profile/types.js';
import { Rng } from '../src/util/rng.js';
import { runCli } from './helpers/cli.js';

const CASES = Number(process.env.CTQUANT_FUZZ_CASES ?? 400);
const rng = new Rng(17);
const pick = <T>(a: readonly T[]): T => a[rng.int(a.length)]!;

const ATOMS = ['0', '1', '-1', '0.5', '1.5', '-0.1', '2', '12', '13', 'abc', 'NaN', 'Infinity', '-Infinity', '1e309', '0x10', '1e3', '', ' ', ',', '1,', ',2', '3/2', '1/2', '0/0', '2/4', '1//2', '/', '\n', '\u001b[31m', '9007199254740993', '-0', '.5', '5.', '1_000', '٣', '½'];

/** A random raw flag value as yargs hands it over: a string, a number (maybe NaN), true, or a list. */
function randomRaw(): RawValue {
  const kind = rng.int(6);
  if (kind === 0) return pick([NaN, 0, 1, -1, 0.5, 1.5, 1e9, -0, Infinity, 2 ** 53]);
  if (kind === 1) return true;
  if (kind === 2) return Array.from({ length: 1 + rng.int(3) }, () => pick(ATOMS));
  if (kind === 3) return Array.from({ length: 1 + rng.int(4) }, () => pick(ATOMS)).join(pick([',', ' ', ', ', '']));
  if (kind === 4) return String.fromCharCode(...Array.from({ length: rng.int(8) }, () => rng.int(0x250)));
  return pick(ATOMS);
}

const multi: DetectorProfile = { ...studyProfile(32), name: 'multi', nativeBits: 12, modes: [4, 2], budget: { kind: 'bitsPerPixel', value: 6 }, sweep: [] };

/** Each rule and the contract a value it returns must keep. */
const RULES: { name: string; run: (raw: RawValue) => unknown; holds: (v: unknown) => boolean }[] = [
  { name: 'number', run: (r) => parseNumber('budget', r), holds: (v) => Number.isFinite(v) },
  { name: 'positive integer', run: (r) => parseInteger('epochs', r, 1), holds: (v) => Number.isInteger(v) && (v as number) >= 1 },
  { name: 'seed', run: (r) => parseInteger('seed', r, 0, 2 ** 32 - 1), holds: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) < 2 ** 32 },
  { name: 'number list', run: (r) => parseNumberList('budgets', r), holds: (v) => Array.isArray(v) && v.length > 0 && v.every(Number.isFinite) },
  { name: 'index list', run: (r) => parseIntegerList('volume-starts', r), holds: (v) => Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0) },
  { name: 'shard', run: (r) => parseShardFlag(r), holds: (v) => { const s = v as { index: number; count: number }; return s.index >= 0 && s.index < s.count; } },
  {
    name: 'fraction budgets',
    run: (r) => checkBudgets('budgets', parseNumberList('budgets', r), studyProfile(32)),
    holds: (v) => (v as number[]).every((b) => b >= 0 && b <= 1),
  },
  {
    name: 'bits-per-pixel budgets',
    run: (r) => checkBudgets('budget', parseNumberList('budget', r), multi),
    holds: (v) => (v as number[]).every((b) => b >= 2 && b <= 12),
  },
  { name: 'NaN from yargs', run: (r) => refuseNaN({ _: [], epochs: typeof r === 'number' ? r : NaN }, ['x', '--epochs', String(r)]), holds: () => true },
];

test(`${CASES} generated flag values: a value keeping the rule, or a one-line UserError naming the flag`, () => {
  let refused = 0;
  for (let i = 0; i < CASES; i++) {
    const rule = RULES[i % RULES.length]!;
    const raw = randomRaw();
    const label = `case ${i} ${rule.name} ${JSON.stringify(raw)}`;
    try {
      const v = rule.run(raw);
      assert.ok(rule.holds(v), `${label} returned ${JSON.stringify(v)}`);
    } catch (e) {
      if (!(e instanceof UserError)) throw new Error(`${label}: not a UserError: ${(e as Error).stack}`);
      assert.match(e.message, /^--[a-z-]+: /, label);
      assert.not.match(e.message, /[\n\r\u001b]/, `${label}: raw control characters in ${JSON.stringify(e.message)}`);
      refused++;
    }
  }
  // Most random values are bad; some are fine: both branches ran.
  assert.ok(refused > CASES / 4 && refused < CASES, `refused ${refused} of ${CASES}`);
});

test('generated bad command lines through the CLI: exit 2, one line, no stack, no hang', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctquant-fuzz-'));
  const profile = join(dir, 'p.json');
  writeFileSync(profile, JSON.stringify({ name: 'p', geometry: { rows: 16, cols: 16 }, adc: { nativeBits: 8, modes: [1] }, budget: { fraction: 0.5 } }));
  const badBudget = () => pick(['1.5', '-0.1', 'abc', '0.5,x', ',', 'NaN', '1e309']);
  const badInt = () => pick(['0', '-3', '2.5', 'abc', '1e309', '']);
  const makers: (() => string[])[] = [
    () => ['storage', '--profile', profile, '--budget', badBudget()],
    () => ['storage', '--profile', profile, `--${pick(['budgte', 'budgets', 'profiel', 'zzz'])}`, '1'],
    () => ['sweep', '--profile', profile, '--budgets', badBudget(), '--out', join(dir, 'never')],
    () => ['train', '--profile', profile, `--${pick(['epochs', 'size', 'seeds', 'every', 'workers', 'threads'])}`, badInt(), '--out', join(dir, 'never')],
    () => ['study', '--profile', profile, '--shard', pick(['3/2', '0/1', 'a', '1/2/3', '']), '--out', join(dir, 'never')],
    () => ['train', '--profile', profile, '--budgets', '0.5'],
    () => [pick(['trian', 'sweap', 'storag', 'mrege', 'xyz'])],
    () => ['data', 'synth', '--out', join(dir, 'never'), `--${pick(['n', 'size', 'seed'])}`, pick(['abc', '-1', '0.5'])],
    () => ['profile', 'validate', join(dir, 'missing\n\u001b[2J.json')],
  ];
  for (let i = 0; i < 12; i++) {
    const args = makers[i % makers.length]!();
    const r = runCli(args, { timeoutMs: 60_000 });
    const label = JSON.stringify(args);
    assert.ok(r.code !== -1, `${label}: hung or killed`);
    assert.is(r.code, 2, `${label}: exit ${r.code}\n${r.stderr}`);
    const lines = r.stderr.trimEnd().split('\n');
    assert.is(lines.length, 1, `${label}: ${r.stderr}`);
    assert.match(lines[0]!, /^ctquant: /, label);
    assert.not.match(r.stderr, /\u001b|\n\s+at /, label);
  }
});

test.run();
