import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fitFrame, fitSlice, resizeDataset, resizeImage, resizeMask } from '../src/data/resize.js';
import type { CtDataset } from '../src/data/types.js';

/** A 419-row × 444-column slice: counts 20 + (x + y) % 200, lesion in the top-left 10×10, so its placement is visible. */
const H = 419;
const W = 444;
const image = Float32Array.from({ length: H * W }, (_, i) => 20 + ((i % W) + Math.floor(i / W)) % 200);
const mask = Uint8Array.from({ length: H * W }, (_, i) => (i % W < 10 && Math.floor(i / W) < 10 ? 1 : 0));

test('fit pad on a 444×419 image: a 444×444 frame, 12 rows above and 13 below, filled with the image minimum, mask 0', () => {
  assert.equal(fitFrame(H, W, 64, 64, 'pad'), { height: 444, width: 444, top: 12, left: 0 });
  const out = fitSlice(image, mask, H, W, 444, 444, 'pad');
  assert.is(out.image.length, 444 * 444);
  for (let y = 0; y < 444; y++) {
    const inside = y >= 12 && y < 12 + H;
    for (const x of [0, 5, 443]) {
      assert.is(out.image[y * 444 + x], inside ? image[(y - 12) * W + x] : 20, `row ${y} col ${x}`);
      assert.is(out.mask[y * 444 + x], inside ? mask[(y - 12) * W + x] : 0);
    }
  }
  // At the training size: square output, the padding rows stay background (image minimum 20).
  const small = fitSlice(image, mask, H, W, 64, 64, 'pad');
  assert.is(small.image.length, 64 * 64);
  assert.ok(small.image.slice(0, 64).every((v) => v === 20), 'first row is padding');
  assert.ok(small.image.slice(63 * 64).every((v) => v === 20), 'last row is padding');
  assert.ok(small.mask.slice(0, 64).every((v) => v === 0));
  assert.is(small.mask[2 * 64 + 0], 1, 'the lesion sits just below the top padding');
});

test('fit crop takes the centred square; a wide and a tall image are treated symmetrically', () => {
  assert.equal(fitFrame(H, W, 64, 64, 'crop'), { height: 419, width: 419, top: 0, left: -12 });
  assert.equal(fitFrame(W, H, 64, 64, 'crop'), { height: 419, width: 419, top: -12, left: 0 });
  assert.equal(fitFrame(W, H, 64, 64, 'pad'), { height: 444, width: 444, top: 0, left: 12 });
  const out = fitSlice(image, mask, H, W, 419, 419, 'crop');
  for (const [y, x] of [[0, 0], [200, 300], [418, 418]] as const) assert.is(out.image[y * 419 + x], image[y * W + x + 12]);
  // The lesion (columns 0-9) lies in the cut-off 12 columns.
  assert.is(out.mask.reduce((a, b) => a + b, 0), 0);
});

test('fit stretch (the default) is the original per-axis resampling', () => {
  const out = fitSlice(image, mask, H, W, 64, 64, 'stretch');
  assert.equal(Array.from(out.image), Array.from(resizeImage(image, H, W, 64, 64)));
  assert.equal(Array.from(out.mask), Array.from(resizeMask(mask, H, W, 64, 64)));
  const ds: CtDataset = { height: H, width: W, nativeBits: 8, slices: [{ image, mask, volumeId: 'v', name: 's' }], source: 't' };
  assert.equal(Array.from(resizeDataset(ds, 64).slices[0]!.image), Array.from(out.image));
  assert.equal(fitFrame(64, 64, 32, 32, 'pad'), { height: 64, width: 64, top: 0, left: 0 });
});

test.run();
