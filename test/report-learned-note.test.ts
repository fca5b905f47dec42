/** The report's sentence on how its learned layouts were made (src/report/learned-note.ts). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { learnedLayoutNote } from '../src/report/learned-note.js';
import type { RunResult } from '../src/runs/types.js';

const run = (extra: Partial<RunResult>): RunResult => ({ id: 'x', setup: 'learned', seed: 1, ...extra }) as RunResult;

test('no learned runs: no note', () => {
  assert.is(learnedLayoutNote([run({ setup: 'random' }), run({ setup: 'baseline' })]), undefined);
});

test('each distinct way of making a learned layout is named once: cells, start, masks', () => {
  const note = learnedLayoutNote([
    run({ layoutPrior: 'content' }),
    run({ layoutPrior: 'content', seed: 2 }),
    run({ layoutFamily: { family: 'grid', granularity: 'block', block: 8 }, layoutPrior: 'content' }),
    run({ layoutFamily: { family: 'tile', tile: 16 }, straightThrough: true }),
    run({ setup: 'multilevel', layoutFamily: { family: 'grid', granularity: 'column' } }),
    run({ setup: 'multilevel', layoutPrior: 'uniform' }),
    run({ setup: 'random' }),
  ]);
  assert.is(note, 'Learned layouts: one cell per pixel, started from the content heuristic of the training split, trained with relaxed-Bernoulli masks; '
    + 'one cell per 8×8 block, started from the content heuristic of the training split, trained with relaxed-Bernoulli masks; '
    + 'one 16×16 pattern repeated over the detector, started at p ≈ ½ everywhere, trained with straight-through hardware masks; '
    + 'one cell per column, started from random level probabilities, trained with Gumbel-softmax level choices; '
    + 'one cell per pixel, started from the uniform ADC of its budget, trained with Gumbel-softmax level choices.');
});

test('multi-level runs that ended with every pixel at one depth are named as that uniform ADC', () => {
  const uniform = run({ id: 'multilevel-b4-s1', setup: 'multilevel', layoutPrior: 'uniform', bitsMap: [4, 4, 4, 4] });
  const mixed = run({ id: 'multilevel-b4-s2', setup: 'multilevel', layoutPrior: 'uniform', seed: 2, bitsMap: [8, 4, 1, 4] });
  assert.is(learnedLayoutNote([uniform, mixed]), 'Learned layouts: one cell per pixel, started from the uniform ADC of its budget, trained with Gumbel-softmax level choices. '
    + '1 of 2 multi-level runs ended with every pixel at one depth (multilevel-b4-s1: 4 bits), i.e. as a uniform ADC.');
  assert.not.match(learnedLayoutNote([mixed])!, /one depth/);
});

test('1-bit learned runs with a prior: how far they moved from their starting layout; none moved = that fixed design', () => {
  const at = (moved: number, seed = 1) => run({ layoutPrior: 'content', layoutPriorShape: 'hard', rows: 10, cols: 10, layoutMovedPixels: moved, seed });
  assert.is(learnedLayoutNote([at(0), at(0, 2)]), 'Learned layouts: one cell per pixel, started from the content heuristic of the training split, made hard at its budget, trained with relaxed-Bernoulli masks. '
    + 'Each of the 2 1-bit learned runs with a prior ended on the layout its prior started it on (no pixel moved): each is that fixed design, not a learned one.');
  assert.match(learnedLayoutNote([at(0)])!, /The 1-bit learned run with a prior ended on the layout its prior started it on \(no pixel moved\): it is that fixed design/);
  assert.match(learnedLayoutNote([at(0), at(3, 2), at(12, 3)])!, /The 1-bit learned runs with a prior moved 0\.0 % to 12\.0 % of their pixels from the layout the prior started them on \(1 of 3 moved none\)\.$/);
  assert.match(learnedLayoutNote([at(5)])!, /The 1-bit learned run with a prior moved 5\.0 % of its pixels from the layout the prior started it on\.$/);
  assert.not.match(learnedLayoutNote([run({ layoutPrior: 'content' })])!, /moved/);
});

test.run();
