import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import sharp from 'sharp';
import { join } from 'node:path';
import { generatePhantoms } from '../src/data/phantom.js';
import { loadPngFolder, writePngFolder } from '../src/data/folder.js';
import { encodeGreyPng, readGreyImage } from '../src/data/png.js';
import { loadDataset } from '../src/data/load.js';
import { fitSlice, resizeDataset } from '../src/data/resize.js';
import { UserError } from '../src/errors.js';

/** These small folders carry no volume ids: loading them needs an explicit slice split. */
const SLICE = { split: 'slice' } as const;
const root = mkdtempSync(join(tmpdir(), 'ctquant-data-folder-'));
let counter = 0;
const fresh = () => {
  const d = join(root, `d${counter++}`);
  mkdirSync(join(d, 'ct'), { recursive: true });
  mkdirSync(join(d, 'covid'), { recursive: true });
  return d;
};
const png8 = (w: number, h: number, f: (i: number) => number) => encodeGreyPng(Uint8Array.from({ length: w * h }, (_, i) => f(i)), w, h);

/** A small valid 8-bit folder: n slices 8×6, masks 0/255. */
async function smallFolder(n: number, names = Array.from({ length: n }, (_, i) => String(i).padStart(4, '0'))): Promise<string> {
  const d = fresh();
  for (const [k, name] of names.entries()) {
    writeFileSync(join(d, 'ct', `${name}.png`), await png8(8, 6, (i) => (i * 7 + k) % 256));
    writeFileSync(join(d, 'covid', `${name}.png`), await png8(8, 6, (i) => (i % 5 === 0 ? 255 : 0)));
  }
  return d;
}

async function expectUserError(p: Promise<unknown>, file: RegExp, message: RegExp): Promise<void> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, UserError);
    const u = e as UserError;
    assert.match(u.file ?? '', file, `file in "${u.format()}"`);
    assert.match(u.message, message, u.format());
    assert.is(u.exitCode, 2);
    return;
  }
  assert.unreachable('expected a UserError');
}

test('synth → PNG folder → load gives back the same dataset (12-bit in 16-bit PNG)', async () => {
  const ds = generatePhantoms({ n: 6, size: 32, seed: 4, nativeBits: 12, slicesPerVolume: 3 });
  const d = join(root, 'synth');
  await writePngFolder(ds, d);
  assert.is((await readGreyImage(join(d, 'ct', '0000.png'))).bits, 16);
  const back = await loadDataset(d);
  assert.is(back.nativeBits, 12);
  assert.is(back.height, 32);
  assert.is(back.slices.length, 6);
  back.slices.forEach((s, i) => {
    assert.equal(Array.from(s.image), Array.from(ds.slices[i]!.image), `image ${i}`);
    assert.equal(Array.from(s.mask), Array.from(ds.slices[i]!.mask), `mask ${i}`);
    assert.is(s.volumeId, ds.slices[i]!.volumeId);
  });
  assert.match(back.volumeRule!, /volumes\.json/);
});

test('16-bit PNG round trip keeps every value up to 65535; 8-bit stays 8-bit', async () => {
  const w = 7, h = 5;
  const values = Uint16Array.from({ length: w * h }, (_, i) => (i === 0 ? 65535 : i * 1871));
  const file = join(root, 'v16.png');
  writeFileSync(file, await encodeGreyPng(values, w, h));
  const g = await readGreyImage(file);
  assert.is(g.bits, 16);
  assert.equal(Array.from(g.data), Array.from(values));
  writeFileSync(join(root, 'v8.png'), await png8(w, h, (i) => i * 7));
  const g8 = await readGreyImage(join(root, 'v8.png'));
  assert.is(g8.bits, 8);
  assert.equal(Array.from(g8.data), Array.from({ length: w * h }, (_, i) => i * 7));
  // A 16-bit folder without volumes.json has native depth 16.
  const ds = generatePhantoms({ n: 2, size: 32, seed: 1, nativeBits: 16 });
  const d = join(root, 'synth16');
  await writePngFolder(ds, d);
  rmSync(join(d, 'volumes.json'));
  const back = await loadPngFolder(d, SLICE);
  assert.is(back.nativeBits, 16);
  assert.equal(Array.from(back.slices[1]!.image), Array.from(ds.slices[1]!.image));
});

test('volume ids: starts, volumes.csv, name prefix; none is refused unless split slice by slice is asked for', async () => {
  const d = await smallFolder(5);
  const byStarts = await loadPngFolder(d, { volumeStarts: [0, 2] });
  assert.equal(byStarts.slices.map((s) => s.volumeId), ['v00', 'v00', 'v01', 'v01', 'v01']);
  writeFileSync(join(d, 'volumes.json'), JSON.stringify({ starts: [0, 3] }));
  assert.equal((await loadPngFolder(d)).slices.map((s) => s.volumeId), ['v00', 'v00', 'v00', 'v01', 'v01']);
  rmSync(join(d, 'volumes.json'));
  writeFileSync(join(d, 'volumes.csv'), 'file,volume\n0000,a\n0001,a\n0002,b\n0003,b\n0004,c\n');
  assert.equal((await loadPngFolder(d)).slices.map((s) => s.volumeId), ['a', 'a', 'b', 'b', 'c']);
  const p = await smallFolder(3, ['p1_001', 'p1_002', 'p2_001']);
  const pre = await loadPngFolder(p);
  assert.equal(pre.slices.map((s) => s.volumeId), ['p1', 'p1', 'p2']);
  const noIds = await smallFolder(2);
  await expectUserError(loadPngFolder(noIds), new RegExp(`${noIds}$`), /no volume \(patient\) ids.*--volume-starts.*volumes\.json.*--preset.*--split slice/);
  const none = await loadPngFolder(noIds, SLICE);
  assert.match(none.volumeRule!, /slice by slice.*own volume/);
  assert.equal(none.slices.map((s) => s.volumeId), ['0000', '0001']);
  // --split slice wins over ids the folder has: the user asked for a slice split.
  const sliced = await loadDataset(p, SLICE);
  assert.equal(sliced.slices.map((s) => s.volumeId), ['p1_001', 'p1_002', 'p2_001']);
  await expectUserError(loadPngFolder(d, { volumeStarts: [1, 3] }), /^$/, /beginning at 0/);
});

test('bad input: mask without image, image without mask, sizes, non-image, empty, truncated, non-binary', async () => {
  let d = await smallFolder(2);
  writeFileSync(join(d, 'covid', '0009.png'), await png8(8, 6, () => 0));
  await expectUserError(loadPngFolder(d, SLICE), /covid\/0009\.png$/, /mask without image/);

  d = await smallFolder(2);
  rmSync(join(d, 'covid', '0001.png'));
  await expectUserError(loadPngFolder(d, SLICE), /ct\/0001\.png$/, /image without mask/);

  d = await smallFolder(2);
  writeFileSync(join(d, 'covid', '0001.png'), await png8(9, 6, () => 0));
  await expectUserError(loadPngFolder(d, SLICE), /covid\/0001\.png$/, /9×6.*8×6/);

  d = await smallFolder(2);
  writeFileSync(join(d, 'ct', '0001.png'), await png8(4, 4, () => 0));
  writeFileSync(join(d, 'covid', '0001.png'), await png8(4, 4, () => 0));
  await expectUserError(loadPngFolder(d, SLICE), /ct\/0001\.png$/, /others are 8×6/);

  d = await smallFolder(2);
  writeFileSync(join(d, 'ct', '0001.png'), 'just some text\n');
  await expectUserError(loadPngFolder(d, SLICE), /ct\/0001\.png$/, /not a readable image/);

  d = fresh();
  await expectUserError(loadPngFolder(d, SLICE), /ct$/, /no image files/);
  await expectUserError(loadDataset(d), /ct$/, /empty/);

  d = await smallFolder(2);
  const big = await encodeGreyPng(Uint8Array.from({ length: 64 * 64 }, (_, i) => (i * 31) % 251), 64, 64);
  writeFileSync(join(d, 'ct', '0001.png'), big.subarray(0, Math.floor(big.length * 0.6)));
  writeFileSync(join(d, 'covid', '0001.png'), await png8(64, 64, () => 0));
  await expectUserError(loadPngFolder(d, SLICE), /ct\/0001\.png$/, /truncated PNG/);

  d = await smallFolder(2);
  writeFileSync(join(d, 'covid', '0000.png'), await png8(8, 6, (i) => [0, 128, 255][i % 3]!));
  await expectUserError(loadPngFolder(d, SLICE), /covid\/0000\.png$/, /not binary/);
});

test('skipBad skips bad pairs and says how many and why', async () => {
  const d = await smallFolder(4);
  writeFileSync(join(d, 'covid', '0001.png'), await png8(8, 6, (i) => i % 3));
  writeFileSync(join(d, 'ct', '0002.png'), 'not a png');
  writeFileSync(join(d, 'covid', 'extra.png'), await png8(8, 6, () => 0));
  const ds = await loadPngFolder(d, { skipBad: true, split: 'slice' });
  assert.equal(ds.slices.map((s) => s.name), ['0000', '0003']);
  assert.is(ds.skipped!.length, 3);
  const reasons = ds.skipped!.map((s) => s.reason).join(' | ');
  assert.match(reasons, /mask without image/);
  assert.match(reasons, /not binary/);
  assert.match(reasons, /not a readable image/);
});

test('every: only every n-th image file is decoded (a bad file between them is never read), each slice as the full load gives it, volumes and positions kept; progress counts the files read', async () => {
  const d = await smallFolder(7);
  const full = await loadPngFolder(d, { volumeStarts: [0, 3] });
  writeFileSync(join(d, 'ct', '0001.png'), 'not a png'); // not among every 3rd: never decoded, so no error
  const calls: [number, number][] = [];
  const thinned = await loadPngFolder(d, { volumeStarts: [0, 3], every: 3, onProgress: (done, total) => calls.push([done, total]) });
  assert.equal(thinned.slices.map((s) => s.name), ['0000', '0003', '0006']);
  assert.equal(calls, [[1, 3], [2, 3], [3, 3]], 'progress counts the files read');
  assert.equal(thinned.slices, [0, 3, 6].map((k) => full.slices[k]));
  assert.equal(thinned.slices.map((s) => [s.volumeId, s.sliceIndex]), [['v00', 0], ['v01', 0], ['v01', 3]]);
  assert.is(thinned.thinnedFrom, 7);
  assert.is(full.thinnedFrom, undefined);
  writeFileSync(join(d, 'ct', '0003.png'), 'not a png'); // a kept one is read, and refused
  await expectUserError(loadPngFolder(d, { volumeStarts: [0, 3], every: 3 }), /0003\.png$/, /not a readable image/);
});

test('heldLimit: a load whose slices pass the limit stops in one line naming the file that went over, under skipBad too', async () => {
  const d = await smallFolder(6);
  const perSlice = 8 * 6 * 4 + 8 * 6; // float32 image, uint8 mask
  const limit = { maxBytes: 3 * perSlice, remedy: 'keep every n-th slice' };
  assert.is((await loadPngFolder(d, { split: 'slice', heldLimit: { ...limit, maxBytes: 6 * perSlice } })).slices.length, 6);
  for (const skipBad of [false, true]) {
    await expectUserError(
      loadPngFolder(d, { split: 'slice', heldLimit: limit, skipBad, concurrency: 1 }),
      /0003\.png$/,
      /^the 4 slices read up to this file hold 0\.0 GB, more than the 0\.0 GB this machine has for them: keep every n-th slice$/,
    );
  }
});

test('an 8-bit folder like covid-ct-20 loads at 8 bits with 0/255 masks as 0/1', async () => {
  const d = await smallFolder(3);
  const ds = await loadPngFolder(d, { volumeStarts: [0, 1] });
  assert.is(ds.nativeBits, 8);
  assert.is(ds.slices[0]!.image[3], (3 * 7) % 256);
  assert.is(ds.slices[0]!.mask[5], 1);
  assert.is(ds.slices[0]!.mask[1], 0);
  assert.equal(ds.slices.map((s) => s.volumeId), ['v00', 'v01', 'v01']);
});

test('grey stored as colour (RGB, RGBA, a grey palette, 16-bit RGB) loads with its stored values; true colour is refused naming the pixel', async () => {
  const w = 8;
  const h = 6;
  const grey8 = Uint8Array.from({ length: w * h }, (_, i) => (i * 37 + 5) % 256);
  const grey16 = Uint16Array.from({ length: w * h }, (_, i) => (i * 1361 + 7) % 4096);
  const interleave = <T extends Uint8Array | Uint16Array>(g: T, channels: number, make: (n: number) => T): T => {
    const out = make(g.length * channels);
    g.forEach((v, i) => {
      for (let c = 0; c < channels; c++) out[i * channels + c] = c === 3 ? (i % 2 ? 255 : 0) : v; // alpha half transparent: ignored
    });
    return out;
  };
  const asColour = {
    rgb: () => sharp(interleave(grey8, 3, (n) => new Uint8Array(n)), { raw: { width: w, height: h, channels: 3 } }).png().toBuffer(),
    rgba: () => sharp(interleave(grey8, 4, (n) => new Uint8Array(n)), { raw: { width: w, height: h, channels: 4 } }).png().toBuffer(),
    palette: () => sharp(interleave(grey8, 3, (n) => new Uint8Array(n)), { raw: { width: w, height: h, channels: 3 } }).png({ palette: true, colours: 256, dither: 0 }).toBuffer(),
    rgb16: () => sharp(interleave(grey16, 3, (n) => new Uint16Array(n)), { raw: { width: w, height: h, channels: 3, premultiplied: false } }).toColourspace('rgb16').png().toBuffer(),
  };
  for (const [kind, encode] of Object.entries(asColour)) {
    const d = fresh();
    const stored = kind === 'rgb16' ? grey16 : grey8;
    writeFileSync(join(d, 'ct', '0000.png'), await encode());
    writeFileSync(join(d, 'covid', '0000.png'), await png8(w, h, (i) => (i % 5 === 0 ? 255 : 0)));
    const png = await readGreyImage(join(d, 'ct', '0000.png'));
    assert.ok(png.channels >= 3, `${kind}: the file is colour (${png.channels} channels)`);
    const ds = await loadPngFolder(d, { ...SLICE, nativeBits: kind === 'rgb16' ? 12 : 8 });
    assert.equal(Array.from(ds.slices[0]!.image), Array.from(stored), kind);
  }
  const d = fresh();
  const colour = interleave(grey8, 3, (n) => new Uint8Array(n));
  colour[3 * (2 * w + 5) + 1] ^= 1; // green differs at x 5, y 2
  writeFileSync(join(d, 'ct', '0000.png'), await sharp(colour, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer());
  writeFileSync(join(d, 'covid', '0000.png'), await png8(w, h, () => 0));
  await expectUserError(loadPngFolder(d, SLICE), /ct\/0000\.png$/, /in colour \(red, green and blue differ at x 5, y 2\)/);
});

test('a folder of mixed slice sizes loads when each slice is fitted as it is read (fitTo), each as fitSlice alone would', async () => {
  const d = await smallFolder(2);
  // A 5×9 slice (taller than wide) beside the 8×6 ones: refused without fitTo, fitted with it.
  writeFileSync(join(d, 'ct', '0002.png'), await png8(5, 9, (i) => (i * 11) % 256));
  writeFileSync(join(d, 'covid', '0002.png'), await png8(5, 9, (i) => (i < 10 ? 255 : 0)));
  await expectUserError(loadPngFolder(d, SLICE), /ct\/0002\.png$/, /others are 8×6/);
  for (const fit of ['stretch', 'pad', 'crop'] as const) {
    const ds = await loadPngFolder(d, { ...SLICE, fitTo: { height: 4, width: 4, fit } });
    assert.is(ds.slices.length, 3);
    assert.equal([ds.height, ds.width], [4, 4]);
    const raw = await readGreyImage(join(d, 'ct', '0002.png'));
    const rawMask = await readGreyImage(join(d, 'covid', '0002.png'));
    const expected = fitSlice(Float32Array.from(raw.data), Uint8Array.from(rawMask.data, (v) => (v ? 1 : 0)), 9, 5, 4, 4, fit);
    assert.equal(Array.from(ds.slices[2]!.image), Array.from(expected.image), fit);
    assert.equal(Array.from(ds.slices[2]!.mask), Array.from(expected.mask), fit);
  }
  // Through loadDataset, and the same numbers as resizing a same-size folder after loading.
  const same = await smallFolder(2);
  const fitted = await loadDataset(same, { ...SLICE, fitTo: { height: 4, width: 4, fit: 'pad' } });
  const after = resizeDataset(await loadDataset(same, SLICE), 4, 'pad');
  assert.equal(fitted.slices.map((s) => Array.from(s.image)), after.slices.map((s) => Array.from(s.image)));
});

test.after(() => rmSync(root, { recursive: true, force: true }));
test.run();
