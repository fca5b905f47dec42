import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bitPlacement } from '../src/report/bit-placement.js';

const R = 10;
const C = 10;
const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} ≠ ${b}`);

/**
 * 10×10 slice: air (0) outside; body = rows 2..7 × cols 2..7 (36 px) of tissue (3000) with a 2×2
 * "lung" of air (50) at rows 4..5, cols 4..5 inside it. nativeBits 12 → threshold ≈ 1048 counts.
 */
function slice(): Float32Array {
  const img = new Float32Array(R * C);
  for (let r = 2; r < 8; r++) for (let c = 2; c < 8; c++) img[r * C + c] = r >= 4 && r <= 5 && c >= 4 && c <= 5 ? 50 : 3000;
  return img;
}

test('reduced pixels split into body, lungs (threshold rule) and outside', () => {
  const layout = new Uint8Array(R * C);
  // 4 px in the lung, 4 px of tissue, 2 px outside (the corner): 10 reduced pixels.
  for (const [r, c] of [[4, 4], [4, 5], [5, 4], [5, 5], [2, 2], [2, 3], [7, 7], [7, 6], [0, 0], [9, 9]]) layout[r! * C + c!] = 1;
  const p = bitPlacement(layout, R, C, [slice()], { nativeBits: 12 });
  assert.is(p.reduced, 10);
  close(p.insideBody, 0.8, 'inside body');
  close(p.insideLungs, 0.4, 'inside lungs');
  close(p.outsideBody, 0.2, 'outside');
  assert.is(p.lungRule, 'threshold');
  // Lung masks replace the threshold rule; shares average over images.
  const lungMask = new Uint8Array(R * C);
  lungMask[4 * C + 4] = 1;
  const empty = new Float32Array(R * C); // no body at all: everything outside
  const q = bitPlacement(layout, R, C, [slice(), empty], { nativeBits: 12, lungMasks: [lungMask, new Uint8Array(R * C)] });
  assert.is(q.lungRule, 'masks');
  close(q.insideBody, (0.8 + 0) / 2, 'inside body over two images');
  close(q.insideLungs, (0.1 + 0) / 2, 'inside lungs from masks');
  close(q.outsideBody, 0.6, 'outside over two images');
  // Weighted by dropped bits (native 12 − kept): the lung pixels drop 8 bits, the rest 4.
  const dropped = Float32Array.from(layout, (v, i) => (v ? ([44, 45, 54, 55].includes(i) ? 8 : 4) : 0));
  const w = bitPlacement(dropped, R, C, [slice()], { nativeBits: 12 });
  close(w.insideLungs, 32 / 56, 'dropped-bit share in lungs');
  assert.ok(Number.isNaN(bitPlacement(new Uint8Array(R * C), R, C, [slice()], { nativeBits: 12 }).insideBody));
  assert.throws(() => bitPlacement(layout, R, C, [slice()], { nativeBits: 12, lungMasks: [] }), /lung masks/);
});

test.run();
