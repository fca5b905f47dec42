import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { skipCollector } from '../src/data/skip.js';
import { UserError } from '../src/errors.js';

test('under skipBad a UserError is listed with its file and message; the dataset field carries the list', () => {
  const skips = skipCollector(true);
  assert.equal(skips.datasetField(), { skipped: [] });
  skips.skipOrThrow(new UserError('mask without image', { file: 'covid/a.png' }));
  skips.skipOrThrow(new UserError('no file named'));
  assert.equal(skips.skipped, [
    { file: 'covid/a.png', reason: 'mask without image' },
    { file: '?', reason: 'no file named' },
  ]);
  assert.equal(skips.datasetField(), { skipped: skips.skipped });
});

test('without skipBad a UserError stops the load, and the dataset has no skipped field', () => {
  const skips = skipCollector(undefined);
  const e = new UserError('image without mask', { file: 'ct/b.png' });
  assert.throws(() => skips.skipOrThrow(e), (thrown: unknown) => thrown === e);
  assert.equal(skips.skipped, []);
  assert.equal(skips.datasetField(), {});
});

test('an error that is not a UserError is a bug: rethrown even under skipBad', () => {
  const skips = skipCollector(true);
  const bug = new TypeError('x is undefined');
  assert.throws(() => skips.skipOrThrow(bug), (thrown: unknown) => thrown === bug);
  assert.equal(skips.skipped, []);
});

test.run();
