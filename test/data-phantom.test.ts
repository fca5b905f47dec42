import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { generatePhantoms, generatePhantomSlice } from '../src/data/phantom.js';
import { drawVolumeAnatomy } from '../src/data/phantom-anatomy.js';
import { renderPhantomHu } from '../src/data/phantom-render.js';
import { countToHu, huToCount, huImageToCounts, displayWindowCounts } from '../src/data/hu.js';
import { Rng } from '../src/util/rng.js';

const bytesOf = (a: Float32Array | Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

test('same seed gives the same bytes; another seed differs', () => {
  const a = generatePhantoms({ n: 6, size: 32, seed: 9, nativeBits: 12 });
  const b = generatePhantoms({ n: 6, size: 32, seed: 9, nativeBits: 12 });
  const c = generatePhantoms({ n: 6, size: 32, seed: 10, nativeBits: 12 });
  a.slices.forEach((s, i) => {
    assert.ok(bytesOf(s.image).equals(bytesOf(b.slices[i]!.image)), `image ${i}`);
    assert.ok(bytesOf(s.mask).equals(bytesOf(b.slices[i]!.mask)), `mask ${i}`);
    assert.is(s.volumeId, b.slices[i]!.volumeId);
  });
  assert.not.ok(bytesOf(a.slices[0]!.image).equals(bytesOf(c.slices[0]!.image)));
  const one = generatePhantomSlice({ size: 48, seed: 3, nativeBits: 8 });
  assert.ok(bytesOf(one.image).equals(bytesOf(generatePhantomSlice({ size: 48, seed: 3, nativeBits: 8 }).image)));
});

test('values are integer counts at native depth (12 and 16 bits) and masks are 0/1', () => {
  for (const bits of [12, 16]) {
    const ds = generatePhantoms({ n: 4, size: 64, seed: 1, nativeBits: bits });
    assert.is(ds.nativeBits, bits);
    assert.is(ds.height, 64);
    let max = 0;
    for (const s of ds.slices) {
      assert.is(s.image.length, 64 * 64);
      for (const v of s.image) {
        assert.ok(Number.isInteger(v) && v >= 0 && v <= 2 ** bits - 1);
        max = Math.max(max, v);
      }
      for (const m of s.mask) assert.ok(m === 0 || m === 1);
    }
    // Bone reaches the upper part of the range, so the full depth is used.
    assert.ok(max > 0.7 * 2 ** bits, `max ${max}`);
  }
});

test('volumes group slicesPerVolume slices; lesion-free share and lesion slices are as asked', () => {
  const ds = generatePhantoms({ n: 40, size: 32, seed: 2, nativeBits: 12, slicesPerVolume: 5, lesionFreeShare: 0.3 });
  const ids = [...new Set(ds.slices.map((s) => s.volumeId))];
  assert.is(ids.length, 8);
  for (const id of ids) assert.is(ds.slices.filter((s) => s.volumeId === id).length, 5);
  const free = ds.slices.filter((s) => !s.mask.some((m) => m)).length;
  assert.ok(free >= 4 && free <= 22, `lesion-free ${free}/40`);
  const none = generatePhantoms({ n: 10, size: 32, seed: 2, nativeBits: 12, lesionFreeShare: 1 });
  assert.ok(none.slices.every((s) => !s.mask.some((m) => m)));
  const all = generatePhantoms({ n: 10, size: 32, seed: 2, nativeBits: 12, lesionFreeShare: 0 });
  assert.ok(all.slices.every((s) => s.mask.some((m) => m)), 'every slice has a lesion');
});

test('HU window: lung vs ground glass is below a 1-2 bit step but far above the noise at 12 bits', () => {
  assert.is(huToCount(-1024, 12), 0);
  assert.is(huToCount(1024, 12), 4095);
  assert.is(huToCount(-5000, 12), 0);
  assert.ok(Math.abs(countToHu(huToCount(-850, 12), 12) + 850) <= 0.5);
  assert.equal(displayWindowCounts(-500, 1500, 12), [huToCount(-1250, 12), huToCount(250, 12)]);
  // Render HU with lesions, compare lesion and lung pixels.
  let lesionPx = 0, sameLevel2 = 0, sameLevel1 = 0, lesionSum = 0, lungSum = 0, lungPx = 0;
  for (let seed = 0; seed < 6; seed++) {
    const rng = new Rng(seed);
    const r = renderPhantomHu(drawVolumeAnatomy(rng), 0.5, 96, rng, true);
    const counts = huImageToCounts(r.hu, 12);
    const lungLevel2 = Math.floor(huToCount(-850, 12) / 1024);
    for (let i = 0; i < r.hu.length; i++) {
      if (r.mask[i]) {
        lesionPx++;
        lesionSum += r.hu[i]!;
        if (Math.floor(counts[i]! / 1024) === lungLevel2) sameLevel2++;
        if (Math.floor(counts[i]! / 2048) === 0) sameLevel1++;
      } else if (r.lung[i]) {
        lungPx++;
        lungSum += r.hu[i]!;
      }
    }
  }
  const contrast = lesionSum / lesionPx - lungSum / lungPx;
  assert.ok(contrast > 150, `lesion − lung contrast ${contrast.toFixed(0)} HU`);
  assert.ok(sameLevel1 / lesionPx > 0.8, `1 bit: ${sameLevel1}/${lesionPx} lesion pixels on the lung level`);
  assert.ok(sameLevel2 / lesionPx > 0.35, `2 bits: ${sameLevel2}/${lesionPx} lesion pixels on the lung level`);
});

test('sizes 32..512 only; bad arguments throw', () => {
  assert.throws(() => generatePhantoms({ n: 1, size: 31, seed: 1, nativeBits: 12 }), /size/);
  assert.throws(() => generatePhantoms({ n: 1, size: 513, seed: 1, nativeBits: 12 }), /size/);
  assert.throws(() => generatePhantoms({ n: 1, size: 64, seed: 1, nativeBits: 17 }), /bit depth/);
  assert.throws(() => generatePhantoms({ n: 1, size: 64, seed: 1, nativeBits: 12, lesionFreeShare: 2 }), /lesionFreeShare/);
});

test.run();
