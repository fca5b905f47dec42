/**
 * The run store (src/runs/store.ts): one write format that reads back to the same RunResult, and
 * damaged run files (empty, truncated, wrong shape, renamed) as UserErrors that name the file,
 * also where a resumed experiment finds a point's runs (finishedPoint).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../src/errors.js';
import { finishedPoint } from '../src/experiments/run-point.js';
import { readRunFile, readRunsIfAll, readStoredRuns, runFile, runFileName, writeRun } from '../src/runs/store.js';
import { hasBudget, hasFixedLayout, learnsLayout, SETUPS, trainsAsLayout } from '../src/runs/types.js';
import { fixtureRuns } from './report-fixtures.js';

function withFolder(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'ctquant-runs-'));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const namesFile = (file: string) => (e: unknown) => e instanceof UserError && e.file === file && !e.message.includes('\n');

test('writeRun / readRunFile round-trip every field exactly, in one format', () => {
  withFolder((dir) => {
    for (const run of fixtureRuns()) {
      assert.is(writeRun(dir, run), `runs/${run.id}.json`);
      const text = readFileSync(runFile(dir, run.id), 'utf8');
      assert.is(text, `${JSON.stringify(run, null, 1)}\n`);
      assert.equal(readRunFile(runFile(dir, run.id)), run);
    }
    assert.is(readStoredRuns(dir).length, fixtureRuns().length);
  });
  withFolder((dir) => assert.equal(readStoredRuns(dir), [])); // no runs/ yet: nothing stored
});

test('a damaged run file is a one-line UserError naming it', () => {
  withFolder((dir) => {
    const run = fixtureRuns()[0]!;
    const file = join(dir, writeRun(dir, run));
    const full = readFileSync(file, 'utf8');
    for (const [what, text] of [['empty', ''], ['truncated', full.slice(0, full.length >> 1)], ['not an object', '[1, 2]']] as const) {
      writeFileSync(file, text);
      assert.throws(() => readRunFile(file), namesFile(file), what);
    }
    writeFileSync(file, JSON.stringify({ ...run, collapsed: 'no' }));
    assert.throws(() => readRunFile(file), (e: unknown) => namesFile(file)(e) && (e as UserError).pointer === '/collapsed');
    const renamed = join(dir, 'runs', 'other.json');
    writeFileSync(renamed, full);
    assert.throws(() => readRunFile(renamed), (e: unknown) => namesFile(renamed)(e) && /does not match the run id/.test((e as Error).message));
  });
});

test('run fields eval and the report rebuild from: kept bits, budget, seed, size and a checkpoint path out of the folder are UserErrors naming the pointer', () => {
  withFolder((dir) => {
    const run = fixtureRuns().find((r) => r.setup === 'learned')!;
    const file = join(dir, writeRun(dir, { ...run, checkpoint: `checkpoints/${run.id}.ckpt` }));
    assert.is(readRunFile(file).checkpoint, `checkpoints/${run.id}.ckpt`);
    const cases: [string, Record<string, unknown>, string][] = [
      ['keptBits 99 (was: RangeError from the layout writer)', { keptBits: 99 }, '/keptBits'],
      ['keptBits 1.5', { keptBits: 1.5 }, '/keptBits'],
      ['no budget on a learned run (was: TypeError in eval)', { budget: undefined }, '/budget'],
      ['seed -1', { seed: -1 }, '/seed'],
      ['cols 0.5', { cols: 0.5, probabilityMap: undefined, hardwareLayout: undefined, bitsMap: undefined }, '/cols'],
      ['nativeBits 40', { nativeBits: 40 }, '/nativeBits'],
      ['checkpoint a number (was: TypeError in the report)', { checkpoint: 5 }, '/checkpoint'],
      ['checkpoint out of the folder', { checkpoint: '../../../../dev/zero' }, '/checkpoint'],
      ['checkpoint an absolute path', { checkpoint: '/etc/passwd' }, '/checkpoint'],
    ];
    for (const [what, over, pointer] of cases) {
      writeFileSync(file, JSON.stringify({ ...run, ...over }));
      assert.throws(() => readRunFile(file), (e: unknown) => namesFile(file)(e) && (e as UserError).pointer === pointer, what);
    }
  });
});

test('a Dice record whose per-image list is empty or does not average to its mean is refused naming the pointer (was: read, the run left out of every paired interval while its mean stayed in the tables)', () => {
  withFolder((dir) => {
    const run = fixtureRuns().find((r) => r.setup === 'learned')!;
    const file = join(dir, writeRun(dir, run));
    const perImage = run.dice.perImage;
    const cases: [string, Record<string, unknown>, string][] = [
      ['empty perImage', { dice: { ...run.dice, perImage: [] } }, '/dice/perImage'],
      ['one image dropped', { dice: { ...run.dice, perImage: perImage.slice(1) } }, '/dice/mean'],
      ['mean edited', { dice: { ...run.dice, mean: run.dice.mean + 0.01 } }, '/dice/mean'],
    ];
    if (run.diceStochastic) cases.push(['stochastic perImage empty', { diceStochastic: { ...run.diceStochastic, perImage: [] } }, '/diceStochastic/perImage']);
    for (const [what, over, pointer] of cases) {
      writeFileSync(file, JSON.stringify({ ...run, ...over }));
      assert.throws(() => readRunFile(file), (e: unknown) => namesFile(file)(e) && (e as UserError).pointer === pointer, what);
    }
    // The fixtures as written, whose means are their lists' averages, read back.
    writeFileSync(file, JSON.stringify(run));
    assert.equal(readRunFile(file), run);
  });
});

test('diceVolume (3D Dice per test volume) round-trips; a malformed one names its pointer', () => {
  withFolder((dir) => {
    const run = { ...fixtureRuns()[0]!, diceVolume: { perVolume: [{ id: 'v01', dice: 0.5 }, { id: 'v06', dice: 0.25 }], mean: 0.375 } };
    const file = join(dir, writeRun(dir, run));
    assert.equal(readRunFile(file), run);
    for (const [bad, pointer] of [[{ perVolume: [], mean: 'x' }, '/diceVolume/mean'], [{ perVolume: [{ id: 1, dice: 0 }], mean: 0 }, '/diceVolume/perVolume']] as const) {
      writeFileSync(file, JSON.stringify({ ...run, diceVolume: bad }));
      assert.throws(() => readRunFile(file), (e: unknown) => namesFile(file)(e) && (e as UserError).pointer === pointer);
    }
  });
});

test('finishedPoint: null until every run of the point is stored, then the validated runs; a damaged file is a UserError', () => {
  withFolder((dir) => {
    const baseline = fixtureRuns().find((r) => r.setup === 'baseline')!;
    const point = { id: baseline.id, setup: 'baseline' as const, seed: baseline.seed };
    assert.is(finishedPoint(dir, point), null);
    writeRun(dir, baseline);
    assert.equal(finishedPoint(dir, point), [baseline]);
    assert.is(readRunsIfAll(dir, [baseline.id, 'missing-s1']), null);
    writeFileSync(runFile(dir, baseline.id), '');
    assert.throws(() => finishedPoint(dir, point), namesFile(runFile(dir, baseline.id)));
  });
});

test('run ids that are not safe file names are refused', () => {
  for (const id of ['../x', '.hidden', 'a/b', '']) assert.throws(() => runFileName(id), (e: unknown) => e instanceof UserError);
});

test('setup predicates: which setups learn a layout, which run at a budget', () => {
  assert.equal(SETUPS.filter(learnsLayout), ['learned', 'multilevel']);
  assert.equal(SETUPS.filter(hasBudget), ['learned', 'random', 'multilevel', 'dither', 'blue-noise', 'content', 'lesion']);
  assert.equal(SETUPS.filter(hasFixedLayout), ['random', 'dither', 'blue-noise', 'content', 'lesion', 'designer']);
  // Every layout arm trains as long as the learned layout; the U-Nets without a layout train baselineEpochs.
  assert.equal(SETUPS.filter(trainsAsLayout), ['learned', 'random', 'multilevel', 'dither', 'blue-noise', 'content', 'lesion', 'designer']);
});

test.run();
