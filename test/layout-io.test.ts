import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layoutFromValueMap, parseLayoutCsv, readDesignerLayout, reducedMask, type LayoutTarget } from '../src/layout-io/designer-layout.js';
import { crc32, layoutFromMask, writeLayoutFile, type AdcLayout } from '../src/layout-io/layout-file.js';
import { encodeGreyPng, encodeRgbPng } from '../src/data/png.js';
import { blueNoiseLayout } from '../src/quant/blue-noise.js';
import { UserError } from '../src/errors.js';
import { runCli } from './helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'ctquant-layout-io-'));
const target: LayoutTarget = { rows: 16, cols: 16, nativeBits: 12, modes: [8, 4] };
const userError = (re: RegExp, file?: string) => (e: unknown) => e instanceof UserError && re.test(e.message) && (file === undefined || e.file === file);

test('round trip: write layout.ctql → read as --layout → the same layout', async () => {
  const mask = blueNoiseLayout(16, 16, 0.4, 7);
  const layout = layoutFromMask(mask, 16, 16, 12, 4);
  const file = join(dir, 'layout.ctql');
  writeLayoutFile(file, layout);
  const back = await readDesignerLayout(file, target);
  assert.equal(Array.from(back.bits), Array.from(layout.bits));
  assert.equal(Array.from(reducedMask(back)), Array.from(mask));
  // A multi-level layout survives too.
  const multi: AdcLayout = { rows: 16, cols: 16, nativeBits: 12, modes: [8, 4], bits: Uint8Array.from({ length: 256 }, (_, i) => [12, 8, 4][i % 3]!) };
  writeLayoutFile(file, multi);
  assert.equal(Array.from((await readDesignerLayout(file, target)).bits), Array.from(multi.bits));
});

test('CSV: a 0/1 mask and a kept-bits map; a half-size map is resampled by nearest neighbour', async () => {
  const maskCsv = join(dir, 'mask.csv');
  // 8×8 checkerboard of 2×2 blocks → each becomes a 4×4 block at 16×16.
  const rows8 = Array.from({ length: 8 }, (_, r) => Array.from({ length: 8 }, (_, c) => (Math.floor(r / 2) + Math.floor(c / 2)) % 2).join(','));
  writeFileSync(maskCsv, rows8.join('\n') + '\n');
  const l = await readDesignerLayout(maskCsv, target);
  assert.is(l.rows, 16);
  for (let r = 0; r < 16; r++) for (let c = 0; c < 16; c++) assert.is(l.bits[r * 16 + c], (Math.floor(r / 4) + Math.floor(c / 4)) % 2 ? 4 : 12);
  const bitsCsv = join(dir, 'bits.csv');
  writeFileSync(bitsCsv, Array.from({ length: 16 }, (_, r) => Array.from({ length: 16 }, (_, c) => (c < 4 ? 4 : c < 8 ? 8 : 12)).join(' ')).join('\n'));
  const b = await readDesignerLayout(bitsCsv, target);
  assert.equal([b.bits[0], b.bits[5], b.bits[15]], [4, 8, 12]);
});

test('PNG: 0/255 mask and grey kept bits', async () => {
  const png = join(dir, 'mask.png');
  const data = Uint8Array.from({ length: 256 }, (_, i) => (i < 64 ? 255 : 0));
  writeFileSync(png, await encodeGreyPng(data, 16, 16));
  const l = await readDesignerLayout(png, target);
  assert.is(reducedMask(l).reduce((s, v) => s + v, 0), 64);
  assert.is(l.bits[0], 4);
  const grey = join(dir, 'bits.png');
  writeFileSync(grey, await encodeGreyPng(Uint8Array.from({ length: 256 }, (_, i) => (i < 128 ? 8 : 12)), 16, 16));
  const g = await readDesignerLayout(grey, target);
  assert.equal([g.bits[0], g.bits[255]], [8, 12]);
  // The same map saved as RGB (as drawing programs do) is the same layout; a coloured one is refused.
  const rgb = (f: (i: number, c: number) => number) => encodeRgbPng(Uint8Array.from({ length: 256 * 3 }, (_, j) => f(Math.floor(j / 3), j % 3)), 16, 16);
  const asRgb = join(dir, 'bits-rgb.png');
  writeFileSync(asRgb, await rgb((i) => (i < 128 ? 8 : 12)));
  assert.equal(Array.from((await readDesignerLayout(asRgb, target)).bits), Array.from(g.bits));
  const coloured = join(dir, 'bits-red.png');
  writeFileSync(coloured, await rgb((i, c) => (i === 17 && c === 0 ? 255 : i < 128 ? 8 : 12)));
  await readDesignerLayout(coloured, target).then(() => assert.unreachable(), (e) => assert.ok(userError(/in colour \(red, green and blue differ at x 1, y 1\)/, coloured)(e), String(e)));
});

test('one-line UserErrors naming the file', async () => {
  const ragged = join(dir, 'ragged.csv');
  writeFileSync(ragged, '0,1,0\n1,0\n');
  await readDesignerLayout(ragged, target).then(() => assert.unreachable(), (e) => assert.ok(userError(/row 2 has 2 values/, ragged)(e), String(e)));
  const wrongBits = join(dir, 'wrong.csv');
  writeFileSync(wrongBits, '12,6\n8,4\n');
  await readDesignerLayout(wrongBits, target).then(() => assert.unreachable(), (e) => assert.ok(userError(/is 6: neither a 0\/1 mask nor kept bits/, wrongBits)(e), String(e)));
  const text = join(dir, 'text.csv');
  writeFileSync(text, '0,x\n');
  await readDesignerLayout(text, target).then(() => assert.unreachable(), (e) => assert.ok(userError(/"x" is not a non-negative integer/, text)(e), String(e)));
  const aspect = join(dir, 'aspect.csv');
  writeFileSync(aspect, '0,1,0,1\n1,0,1,0\n');
  await readDesignerLayout(aspect, target).then(() => assert.unreachable(), (e) => assert.ok(userError(/aspect ratio/, aspect)(e), String(e)));
  const otherNative = join(dir, 'native16.ctql');
  writeLayoutFile(otherNative, layoutFromMask(new Uint8Array(256), 16, 16, 16, 4));
  await readDesignerLayout(otherNative, target).then(() => assert.unreachable(), (e) => assert.ok(userError(/16-bit ADC/, otherNative)(e), String(e)));
  await readDesignerLayout(join(dir, 'x.txt'), target).then(() => assert.unreachable(), (e) => assert.ok(userError(/\.ctql, \.csv or \.png/)(e), String(e)));
  await readDesignerLayout(join(dir, 'missing.csv'), target).then(() => assert.unreachable(), (e) => assert.ok(userError(/cannot read/)(e), String(e)));
  assert.throws(() => layoutFromValueMap(parseLayoutCsv('3,3\n3,3', 'f.csv'), target, 'f.csv'), userError(/is 3/));
  assert.equal(Array.from(layoutFromValueMap(parseLayoutCsv('8,8\n8,8', 'f.csv'), { ...target, rows: 2, cols: 2 }, 'f.csv').bits), [8, 8, 8, 8]);
});

test('a run-length file claiming a huge size, CSV values past 32 bits and a FIFO are refused before anything is allocated or read', async () => {
  // 16385×16385, one run per row: a 147 KB file that would decode to 268 MB of pixels.
  const side = 16385;
  const rle = new Uint8Array(16 + 1 + 9 * side + 4);
  rle.set([0x43, 0x54, 0x51, 0x4c, 1, 1, 12, 1]);
  const v = new DataView(rle.buffer);
  v.setUint32(8, side, true);
  v.setUint32(12, side, true);
  rle[16] = 4;
  for (let r = 0; r < side; r++) {
    v.setUint32(17 + 9 * r, 1, true);
    v.setUint32(21 + 9 * r, side, true);
    rle[25 + 9 * r] = 12;
  }
  v.setUint32(rle.length - 4, crc32(rle.subarray(0, rle.length - 4)), true);
  const huge = join(dir, 'huge.ctql');
  writeFileSync(huge, rle);
  await readDesignerLayout(huge, target).then(() => assert.unreachable(), (e) => assert.ok(userError(/16385×16385 is larger than any detector/, huge)(e), String(e)));
  // 2^32 + 4 would wrap to 4 bits; 400 digits would become Infinity, then 0 (a mask of native pixels).
  for (const value of ['4294967300', '1'.repeat(400)]) {
    const wide = join(dir, `wide${value.length}.csv`);
    writeFileSync(wide, Array.from({ length: 16 }, (_, r) => Array.from({ length: 16 }, (_, c) => ((r + c) % 2 ? value : '12')).join(',')).join('\n'));
    await readDesignerLayout(wide, target).then(() => assert.unreachable(), (e) => assert.ok(userError(/row 1, column 2: .* is too large/, wide)(e), String(e)));
  }
  // A FIFO would block the read forever: the real CLI, so a hang is a failed test rather than a stuck one.
  for (const name of ['fifo.csv', 'fifo.ctql']) {
    const fifo = join(dir, name);
    if (spawnSync('mkfifo', [fifo]).status !== 0) return assert.unreachable('mkfifo failed');
    const r = runCli(['train', '--profile', 'detector-profiles/study-8bit-1bit.json', '--layout', fifo, '--size', '32', '--out', join(dir, 'never')], { timeoutMs: 30_000 });
    assert.is(r.code, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^ctquant: .*${name.replace('.', '\\.')}: expected a layout file, found a FIFO`));
    assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
  }
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
