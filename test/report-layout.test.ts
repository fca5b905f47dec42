import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, decodeLayout, encodeLayout, layoutFromMask, readLayoutFile, writeLayoutFile, type AdcLayout } from '../src/layout-io/layout-file.js';
import { UserError } from '../src/errors.js';
import { Rng } from '../src/util/rng.js';

const isUserError = (re: RegExp) => (e: unknown) => e instanceof UserError && re.test(e.message);

function randomLayout(rows: number, cols: number, seed: number): AdcLayout {
  const rng = new Rng(seed);
  const levels = [16, 12, 8, 4];
  const bits = new Uint8Array(rows * cols).map(() => levels[rng.int(levels.length)]!);
  return { rows, cols, nativeBits: 16, modes: [12, 8, 4], bits };
}

test('CRC-32 matches the standard check value', () => {
  assert.is(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
});

test('raw, run-length and auto encodings round-trip', () => {
  const noisy = randomLayout(7, 13, 1);
  const blocky = layoutFromMask(Array.from({ length: 64 * 64 }, (_, i) => (i % 64 < 20 ? 1 : 0)), 64, 64, 16, 8);
  for (const layout of [noisy, blocky]) {
    for (const enc of ['raw', 'rle', 'auto'] as const) {
      const back = decodeLayout(encodeLayout(layout, enc));
      assert.equal(back, { ...layout, bits: back.bits });
      assert.equal(Array.from(back.bits), Array.from(layout.bits), `${enc} bits`);
    }
  }
  // Auto picks the smaller: run-length for blocky rows (2 runs/row), raw for noise.
  assert.is(encodeLayout(blocky)[5], 1);
  assert.ok(encodeLayout(blocky).length < 64 * 64 / 4);
  assert.is(encodeLayout(noisy)[5], 0);
});

test('the documented 2×3 example bytes (docs/layout-format.md)', () => {
  const layout: AdcLayout = { rows: 2, cols: 3, nativeBits: 16, modes: [8], bits: Uint8Array.from([16, 8, 8, 16, 16, 8]) };
  const bytes = encodeLayout(layout, 'raw');
  const expected = [0x43, 0x54, 0x51, 0x4c, 1, 0, 16, 1, 2, 0, 0, 0, 3, 0, 0, 0, 8, 16, 8, 8, 16, 16, 8];
  assert.equal(Array.from(bytes.subarray(0, expected.length)), expected);
  assert.is(bytes.length, expected.length + 4);
  const rle = encodeLayout(layout, 'rle');
  // Row 0: runs (1×16)(2×8); row 1: (2×16)(1×8).
  assert.equal(Array.from(rle.subarray(17, 17 + 14)), [2, 0, 0, 0, 1, 0, 0, 0, 16, 2, 0, 0, 0, 8]);
});

test('file round trip through writeLayoutFile / readLayoutFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ctquant-ctql-'));
  try {
    const layout = randomLayout(32, 20, 5);
    const path = join(dir, 'layout.ctql');
    writeLayoutFile(path, layout);
    assert.equal(Array.from(readLayoutFile(path).bits), Array.from(layout.bits));
    assert.throws(() => readLayoutFile(join(dir, 'none.ctql')), isUserError(/cannot read/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the reader rejects damaged and malformed files', () => {
  const good = encodeLayout(randomLayout(4, 5, 2), 'raw');
  const flipped = Uint8Array.from(good);
  flipped[20]! ^= 1;
  assert.throws(() => decodeLayout(flipped), isUserError(/CRC-32/));
  assert.throws(() => decodeLayout(good.subarray(0, good.length - 3)), isUserError(/CRC-32|bytes/));
  const magic = Uint8Array.from(good);
  magic[0] = 0x58;
  assert.throws(() => decodeLayout(magic), isUserError(/magic/));
  // A pixel value that is neither native nor a mode, with a recomputed CRC: caught by the content check.
  const wrongBits = Uint8Array.from(good);
  wrongBits[16 + 3] = 5;
  new DataView(wrongBits.buffer).setUint32(wrongBits.length - 4, crc32(wrongBits.subarray(0, wrongBits.length - 4)), true);
  assert.throws(() => decodeLayout(wrongBits, 'x.ctql'), (e: unknown) => e instanceof UserError && /5 bits/.test(e.message) && e.file === 'x.ctql');
  assert.throws(() => encodeLayout({ rows: 1, cols: 2, nativeBits: 16, modes: [8], bits: Uint8Array.from([16, 9]) }), /9 bits/);
  assert.throws(() => encodeLayout({ rows: 1, cols: 2, nativeBits: 16, modes: [4, 8], bits: Uint8Array.from([16, 8]) }), /descending/);
  const dir = mkdtempSync(join(tmpdir(), 'ctquant-ctql-'));
  try {
    writeFileSync(join(dir, 'empty.ctql'), '');
    assert.throws(() => readLayoutFile(join(dir, 'empty.ctql')), isUserError(/only 0 bytes/));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
