/** Train/test splits by volume (patient), never by slice, so no patient is on both sides. */
import { UserError } from '../errors.js';
import { Rng } from '../util/rng.js';
import type { CtDataset } from './types.js';

export interface Split {
  train: CtDataset;
  test: CtDataset;
  testVolumes: string[];
}

/** Volume ids in first-appearance order with their slice counts. */
export function volumeCounts(ds: CtDataset): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of ds.slices) counts.set(s.volumeId, (counts.get(s.volumeId) ?? 0) + 1);
  return counts;
}

/**
 * Splits by volume id. With a fraction, volumes are shuffled with `seed` and taken into the test
 * set while that brings its slice count closer to testFraction × slices (at least one volume on
 * each side when there are two or more and 0 < fraction < 1). With a list, exactly those volumes
 * are the test set (each must exist; `heldName` names the held-out part in that message).
 */
export function splitByVolume(ds: CtDataset, test: number | readonly string[], seed = 0, heldName = 'test'): Split {
  const counts = volumeCounts(ds);
  const ids = [...counts.keys()];
  let testIds: Set<string>;
  if (typeof test === 'number') {
    if (!(test >= 0 && test <= 1)) throw new UserError(`test fraction must be in [0, 1], got ${test}`);
    const order = new Rng(seed).shuffle(ids.slice().sort());
    const target = test * ds.slices.length;
    testIds = new Set();
    let taken = 0;
    for (const id of order) {
      const c = counts.get(id)!;
      const better = Math.abs(taken + c - target) < Math.abs(taken - target);
      const mustTakeOne = testIds.size === 0 && test > 0 && ids.length > 1;
      if (better || mustTakeOne) {
        if (testIds.size + 1 === ids.length && test < 1) break; // keep one volume for training
        testIds.add(id);
        taken += c;
      }
    }
  } else {
    const unknown = test.filter((id) => !counts.has(id));
    if (unknown.length > 0) throw new UserError(`unknown ${heldName} volume id(s): ${unknown.join(', ')} (dataset has ${ids.slice(0, 8).join(', ')}${ids.length > 8 ? ', …' : ''})`);
    testIds = new Set(test);
  }
  const part = (inTest: boolean): CtDataset => ({ ...ds, slices: ds.slices.filter((s) => testIds.has(s.volumeId) === inTest) });
  return { train: part(false), test: part(true), testVolumes: ids.filter((id) => testIds.has(id)) };
}
