/** Progress lines (src/util/progress.ts): plain lines when not on a terminal, and silence for work that ends before the delay. */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createProgress, lazyProgress } from '../src/util/progress.js';

function fakeStream(): { stream: NodeJS.WriteStream; text: () => string } {
  let written = '';
  const stream = { isTTY: false, write: (s: string) => ((written += s), true) } as unknown as NodeJS.WriteStream;
  return { stream, text: () => written };
}

test('plain mode: the first update and the last are lines, those between are throttled; finish says done', () => {
  const { stream, text } = fakeStream();
  const p = createProgress({ label: 'reading d', total: 4, stream });
  for (let k = 1; k <= 4; k++) p.update(k);
  p.finish('4 slices');
  const lines = text().trim().split('\n');
  assert.equal(lines.map((l) => l.replace(/eta \S+/, 'eta T').trim()), ['reading d: 1/4 eta T', 'reading d: 4/4 eta T', 'reading d: done in 0:00 4 slices']);
});

test('delaySeconds: work that ends before the delay writes nothing at all, not even the closing line', () => {
  const { stream, text } = fakeStream();
  const p = createProgress({ label: 'reading d', total: 3, stream, delaySeconds: 60 });
  for (let k = 1; k <= 3; k++) p.update(k);
  p.finish();
  assert.is(text(), '');
});

test('lazyProgress starts on its first update with the total it gives, and a finish without any update writes nothing', () => {
  const { stream, text } = fakeStream();
  const p = lazyProgress({ label: 'reading d', stream });
  p.update(1, 7);
  assert.match(text(), /^reading d: 1\/7 eta /);
  const idle = fakeStream();
  lazyProgress({ label: 'x', stream: idle.stream }).finish();
  assert.is(idle.text(), '');
});

test.run();
