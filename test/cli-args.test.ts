/** The argument rules of src/cli/args.ts and the pure checks issue 17 added (no tfjs, no CLI process). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  checkBudgets,
  errorJson,
  nearest,
  parseInteger,
  parseIntegerList,
  parseList,
  parseNumber,
  parseNumberList,
  parseShardFlag,
  refuseInapplicable,
  refuseNaN,
  safeFolderName,
  terminalSafe,
  wantsJson,
  withSuggestion,
} from '../src/cli/args.js';
import { UserError } from '../src/errors.js';
import { studyProfile } from '../src/profile/load.js';
import { storageRow } from '../src/profile/storage.js';
import type { DetectorProfile } from '../src/profile/types.js';
import { toCsv, neutraliseFormula } from '../src/report/csv.js';
import { decodeCheckpoint, encodeCheckpoint } from '../src/train/checkpoint.js';
import { nestingDepth } from '../src/util/json-file.js';
import { profileProblems } from '../src/profile/load.js';
// @ts-expect-error plain JS helper of test/run.mjs, no type declarations
import { closingLine, countOutput } from './helpers/summary.mjs';

/** Runs `f`, expects a UserError; returns its one-line message. */
function userError(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.instance(e, UserError, String(e));
    const line = (e as UserError).format();
    assert.not.match(line, /\n/);
    return line;
  }
  throw new Error('expected a UserError');
}

const multi: DetectorProfile = {
  name: 'adc12-4bit-2bit',
  description: '',
  rows: 512,
  cols: 512,
  nativeBits: 12,
  modes: [4, 2],
  rule: 'midrise',
  budget: { kind: 'bitsPerPixel', value: 6 },
  sweep: [3, 4, 6, 8, 10],
};

test('numbers: NaN names the flag and the text given; a flag given twice is refused', () => {
  assert.is(parseNumber('budget', '0.5'), 0.5);
  assert.match(userError(() => parseNumber('budget', 'abc')), /^--budget: expected a number, got "abc"$/);
  assert.match(userError(() => parseNumber('epochs', NaN, 'abc')), /--epochs: expected a number, got "abc"/);
  assert.match(userError(() => parseNumber('epochs', true)), /got nothing/);
  assert.match(userError(() => parseNumber('epochs', ['2', '3'])), /given 2 times/);
  assert.match(userError(() => parseNumber('budget', 'Infinity')), /expected a number/);
});

test('integers: sizes, epochs, seeds positive (seed >= 0), with the range in the message', () => {
  assert.is(parseInteger('epochs', 3, 1), 3);
  assert.match(userError(() => parseInteger('epochs', 0, 1)), /--epochs: expected a positive integer, got 0/);
  assert.match(userError(() => parseInteger('epochs', 2.5, 1)), /positive integer, got 2.5/);
  assert.match(userError(() => parseInteger('seed', -1, 0)), /--seed: expected an integer >= 0/);
  assert.match(userError(() => parseInteger('size', 1e9, 1, 65536)), /\[1, 65536\]/);
});

test('one list syntax: commas, spaces, both; empty refused', () => {
  assert.equal(parseNumberList('budgets', ['0.25,0.5']), [0.25, 0.5]);
  assert.equal(parseNumberList('budgets', ['0.25', '0.5']), [0.25, 0.5]);
  assert.equal(parseNumberList('budgets', ['0.25, 0.5', '0.75']), [0.25, 0.5, 0.75]);
  assert.equal(parseList('test-volumes', ['a,b', 'c']), ['a', 'b', 'c']);
  assert.equal(parseIntegerList('volume-starts', '0,159 279'), [0, 159, 279]);
  assert.match(userError(() => parseNumberList('budgets', ['0.25,x'])), /--budgets: .*got "x"/);
  assert.match(userError(() => parseNumberList('budgets', [','])), /--budgets: expected a list/);
  assert.match(userError(() => parseIntegerList('volume-starts', '0,-1')), /integers >= 0/);
});

test('budgets by the profile schema rule: a fraction in [0, 1]; bits per pixel in [lowest mode, native]', () => {
  const study = studyProfile(32);
  assert.equal(checkBudgets('budgets', [0, 0.5, 1], study), [0, 0.5, 1]);
  assert.match(userError(() => checkBudgets('budgets', [1.5], study)), /--budgets: expected a fraction in \[0, 1\], got 1.5/);
  assert.match(userError(() => checkBudgets('budget', [-0.1], study)), /got -0.1/);
  // The defect: on a multi-mode profile 0.5 read as 0.5 bits per pixel, a 95.8 % saving below the lowest mode's 2 bits.
  assert.match(userError(() => checkBudgets('budget', [0.5], multi)), /bits per pixel in \[2, 12\], got 0.5/);
  assert.equal(checkBudgets('budget', [2, 6, 12], multi), [2, 6, 12]);
  assert.throws(() => storageRow(multi, 'bitsPerPixel', 0.5), /\[2, 12\]/);
  assert.throws(() => storageRow(study, 'fraction', 1.5), /\[0, 1\]/);
  assert.is(storageRow(multi, 'bitsPerPixel', 2).savingPercentExact, '250/3');
});

test('--shard i/n well-formed', () => {
  assert.equal(parseShardFlag('2/4'), { index: 1, count: 4 });
  assert.equal(parseShardFlag(' 1 / 1 '), { index: 0, count: 1 });
  for (const bad of ['3/2', '0/2', '1/0', 'a/b', '1/2/3', '', '-1/2', '99999999999/99999999999']) {
    assert.match(userError(() => parseShardFlag(bad)), /^--shard: expected i\/n/, bad);
  }
});

test('flags that do not apply are refused with one line; others pass', () => {
  assert.match(userError(() => refuseInapplicable('train', { budgets: ['0.25,0.75'] })), /--budgets does not apply to train/);
  assert.match(userError(() => refuseInapplicable('train', { seeds: 3 })), /--seeds does not apply to train/);
  refuseInapplicable('sweep', { budgets: ['0.25'], seeds: 3 });
  refuseInapplicable('train', { epochs: 2 });
});

test('did-you-mean for flags and NaN from yargs named with the raw text', () => {
  assert.is(nearest('budgte', ['budget', 'profile', 'json']), 'budget');
  assert.is(nearest('zzzzzz', ['budget', 'profile']), undefined);
  assert.match(withSuggestion('Unknown argument: epoch', ['epochs', 'seed']), /did you mean --epochs\?/);
  assert.is(withSuggestion('Missing required argument: profile', ['profile']), 'Missing required argument: profile');
  assert.match(userError(() => refuseNaN({ _: [], epochs: NaN }, ['train', '--epochs', 'abc'])), /--epochs: expected a number, got "abc"/);
  assert.match(userError(() => refuseNaN({ _: [], n: NaN }, ['data', 'synth', '--n=x1'])), /--n: .*got "x1"/);
  refuseNaN({ _: [], epochs: 3, name: 'x' }, []);
});

test('errors under --json: one JSON line with message, exit code, file and pointer', () => {
  const line = errorJson({ message: 'bad', exitCode: 2, file: 'p.json', pointer: '/budget' });
  assert.not.match(line, /\n/);
  assert.equal(JSON.parse(line), { error: { message: 'bad', exitCode: 2, file: 'p.json', pointer: '/budget' } });
  assert.ok(wantsJson(['storage', '--json']));
  assert.not.ok(wantsJson(['storage', '--jsonx']));
});

test('names reach the terminal escaped; default folder names stay inside out/', () => {
  assert.is(terminalSafe('a\nb\x1b[31mc'), 'a\\nb\\x1b[31mc');
  assert.is(terminalSafe('plain ü'), 'plain ü');
  for (const name of ['../../etc', '..', '.', 'a/b', 'x\\..\\y', '', 'a\nb', '/abs']) {
    const safe = safeFolderName(name);
    assert.ok(/^[A-Za-z0-9._-]+$/.test(safe) && !safe.startsWith('.'), `${JSON.stringify(name)} -> ${safe}`);
  }
  assert.is(safeFolderName('study-8bit-1bit'), 'study-8bit-1bit');
});

test('CSV: text cells starting with = + - @ get a leading apostrophe, numbers never', () => {
  assert.is(neutraliseFormula('=HYPERLINK("x")'), `'=HYPERLINK("x")`);
  for (const t of ['+1', '-cmd', '@SUM(A1)', '\t=1']) assert.is(neutraliseFormula(t)[0], "'", t);
  assert.is(neutraliseFormula('learned-k1'), 'learned-k1');
  const csv = toCsv([{ id: '=1+1', v: -0.5, w: -3 }], ['id', 'v', 'w']);
  assert.is(csv, "id,v,w\n'=1+1,-0.5,-3\n");
});

test('a checkpoint with header {} or a broken index is one UserError naming the file', () => {
  const good = encodeCheckpoint({ state: { step: 1 }, arrays: [{ name: 'w', shape: [2], values: new Float32Array([1, 2]) }] });
  assert.equal(Array.from(decodeCheckpoint(good, 'c.ckpt').arrays[0]!.values), [1, 2]);
  const withHeader = (header: unknown) => {
    const h = Buffer.from(JSON.stringify(header));
    const b = Buffer.alloc(12 + h.length);
    b.write('CTQCKPT1', 0, 'ascii');
    b.writeUInt32LE(h.length, 8);
    h.copy(b, 12);
    return b;
  };
  for (const h of [{}, [], null, 5, { state: {} }, { state: {}, index: [{}] }, { state: {}, index: [{ name: 'w', shape: [3], offset: 0, length: 2 }] }, { state: {}, index: [{ name: 'w', shape: [-1], offset: 0, length: -1 }] }]) {
    assert.match(userError(() => decodeCheckpoint(withHeader(h), 'c.ckpt')), /^c\.ckpt: checkpoint header is corrupt/, JSON.stringify(h));
  }
  assert.match(userError(() => decodeCheckpoint(Buffer.alloc(0), 'c.ckpt')), /c\.ckpt: not a ctquant checkpoint/);
  assert.match(userError(() => decodeCheckpoint(good.subarray(0, good.length - 2), 'c.ckpt')), /truncated/);
});

test('a deeply nested profile is refused before the validator recurses', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 200_000; i++) deep = [deep];
  assert.is(nestingDepth(deep, 64), 65);
  assert.is(nestingDepth({ a: [1, { b: 2 }] }), 3);
  const problems = profileProblems(deep);
  assert.is(problems.length, 1);
  assert.match(problems[0]!.message, /nested deeper than 64/);
});

test('test/run.mjs: skipped suites count as skipped in the closing line', () => {
  const uvu = (t: number, p: number, s: number) => `  Total:     ${t}\n  Passed:    ${p}\n  Skipped:   ${s}\n  Duration:  1ms\n`;
  const suites = ['quant-noise', 'webgpu-step', 'webgpu-adam', 'webgpu-group-norm', 'webgpu-kernels'].map((w) =>
    countOutput(`SKIPPED ${w} tests: no WebGPU adapter: run scripts/setup-swiftshader.sh\n${uvu(0, 0, 0)}`),
  );
  const chromium = countOutput(uvu(3, 3, 1));
  const all = [...suites, chromium];
  const sum = (k: 'skipped' | 'skippedSuites') => all.reduce((a, c) => a + c[k], 0);
  assert.is(sum('skippedSuites'), 5);
  assert.is(closingLine(3, 0, sum('skipped'), sum('skippedSuites')), '3 passed, 0 failed, 6 skipped (1 test, 5 suites)');
  assert.is(closingLine(3, 0, 0, 0), '3 passed, 0 failed');
});

test.run();
