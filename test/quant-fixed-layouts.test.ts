import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { bayerIndices, bayerMatrix, ditherLayout, ditherLevelLayout } from '../src/quant/dither.js';
import { blueNoiseLayout, blueNoiseLevelLayout, blueNoiseRanks } from '../src/quant/blue-noise.js';
import { contentLayout, contentLayoutForSplit, contentLevelLayout, outsideBodyShare } from '../src/quant/content.js';
import { levelsFromOrder, maskFromOrder, orderByScore } from '../src/quant/reduction-order.js';
import { lesionLayoutForSplit, lesionLevelLayoutForSplit, lesionOrder, lesionShare } from '../src/quant/lesion.js';
import { randomLayout } from '../src/quant/random.js';
import { bodyMask, internalAirMask } from '../src/data/body.js';
import { splitByVolume } from '../src/data/split.js';
import type { CtDataset, CtSlice } from '../src/data/types.js';

const count = (m: ArrayLike<number>) => Array.from(m).reduce((s, v) => s + (v ? 1 : 0), 0);
const sum = (m: ArrayLike<number>) => Array.from(m).reduce((s, v) => s + v, 0);

/** Mean distance (on the torus) from each reduced pixel to its nearest other reduced pixel. */
function meanNearestNeighbour(mask: Uint8Array, rows: number, cols: number): number {
  const pts: Array<[number, number]> = [];
  for (let i = 0; i < mask.length; i++) if (mask[i]) pts.push([Math.floor(i / cols), i % cols]);
  let total = 0;
  for (const [r, c] of pts) {
    let best = Infinity;
    for (const [r2, c2] of pts) {
      if (r === r2 && c === c2) continue;
      const dy = Math.min(Math.abs(r - r2), rows - Math.abs(r - r2));
      const dx = Math.min(Math.abs(c - c2), cols - Math.abs(c - c2));
      best = Math.min(best, Math.hypot(dy, dx));
    }
    total += best;
  }
  return total / pts.length;
}

test('Bayer matrix: the textbook 4×4 and a permutation at every order', () => {
  assert.equal(Array.from(bayerMatrix(1)), [0, 2, 3, 1]);
  assert.equal(Array.from(bayerMatrix(2)), [0, 8, 2, 10, 12, 4, 14, 6, 3, 11, 1, 9, 15, 7, 13, 5]);
  const m4 = Array.from(bayerMatrix(4)).sort((a, b) => a - b);
  assert.equal(m4, Array.from({ length: 256 }, (_, i) => i));
  // A non-power-of-two size is the crop of the covering 2^m matrix.
  const crop = bayerIndices(3, 5);
  const m3 = bayerMatrix(3);
  assert.is(crop[1 * 5 + 4], m3[1 * 8 + 4]);
});

test('dither and blue noise hold exactly round(b·n) reduced pixels and are deterministic', () => {
  for (const [rows, cols] of [[16, 16], [13, 21], [1, 7]] as const) {
    const n = rows * cols;
    for (const b of [0, 0.1, 0.25, 0.333, 0.5, 0.75, 0.9, 1]) {
      const d = ditherLayout(rows, cols, b);
      const bn = blueNoiseLayout(rows, cols, b, 3);
      assert.is(count(d), Math.round(b * n), `dither ${rows}×${cols} b=${b}`);
      assert.is(count(bn), Math.round(b * n), `blue noise ${rows}×${cols} b=${b}`);
      assert.equal(Array.from(ditherLayout(rows, cols, b)), Array.from(d));
      assert.equal(Array.from(blueNoiseLayout(rows, cols, b, 3)), Array.from(bn));
    }
  }
  // The ranks are a permutation; another seed gives another (still valid) map.
  const r = blueNoiseRanks(16, 16, 1);
  assert.equal(Array.from(r).sort((a, b) => a - b), Array.from({ length: 256 }, (_, i) => i));
  assert.not.equal(Array.from(blueNoiseRanks(16, 16, 2)), Array.from(r));
  // Nested: the pattern of a lower budget is contained in a higher one's (one threshold map).
  const lo = blueNoiseLayout(16, 16, 0.2, 1);
  const hi = blueNoiseLayout(16, 16, 0.6, 1);
  assert.ok(lo.every((v, i) => !v || hi[i]));
});

/** Power of the mean-removed mask at the nonzero torus frequencies with |f| ≤ cutoff (cycles per image side). */
function lowFrequencyPower(mask: Uint8Array, rows: number, cols: number, cutoff: number): number {
  const m = mask.reduce((s, v) => s + v, 0) / mask.length;
  let power = 0;
  for (let fy = -cutoff; fy <= cutoff; fy++) {
    for (let fx = -cutoff; fx <= cutoff; fx++) {
      if ((fy === 0 && fx === 0) || fy * fy + fx * fx > cutoff * cutoff) continue;
      let re = 0;
      let im = 0;
      for (let i = 0; i < mask.length; i++) {
        const phase = 2 * Math.PI * ((fy * Math.floor(i / cols)) / rows + (fx * (i % cols)) / cols);
        re += (mask[i]! - m) * Math.cos(phase);
        im -= (mask[i]! - m) * Math.sin(phase);
      }
      power += re * re + im * im;
    }
  }
  return power;
}

test('blue noise and dither are better spread than a random layout at the same count', () => {
  const rows = 32;
  const cols = 32;
  for (const b of [0.1, 0.25, 0.5]) {
    let randomPower = 0;
    for (let s = 0; s < 5; s++) randomPower += lowFrequencyPower(randomLayout(rows, cols, b, s), rows, cols, 4) / 5;
    const blue = lowFrequencyPower(blueNoiseLayout(rows, cols, b, 0), rows, cols, 4);
    const dither = lowFrequencyPower(ditherLayout(rows, cols, b), rows, cols, 4);
    assert.ok(blue < 0.2 * randomPower, `blue noise low-frequency power ${blue.toFixed(1)} vs random ${randomPower.toFixed(1)} at b=${b}`);
    assert.ok(dither < 0.2 * randomPower, `dither low-frequency power ${dither.toFixed(1)} vs random ${randomPower.toFixed(1)} at b=${b}`);
  }
  // Below the prototype's density (10 %), the nearest reduced neighbour is also farther than at random.
  let randomNn = 0;
  for (let s = 0; s < 5; s++) randomNn += meanNearestNeighbour(randomLayout(rows, cols, 0.1, s), rows, cols) / 5;
  const blueNn = meanNearestNeighbour(blueNoiseLayout(rows, cols, 0.1, 0), rows, cols);
  assert.ok(blueNn > 1.3 * randomNn, `blue noise NN ${blueNn.toFixed(2)} vs random ${randomNn.toFixed(2)}`);
});

test('void-and-cluster: every rank is the largest void (or, below the prototype, the tightest cluster) of the pattern before it', () => {
  // At 12×12 the 4σ window covers the whole torus, so a fresh full Gaussian energy is the module's energy.
  const R = 12;
  const n = R * R;
  const rank = blueNoiseRanks(R, R, 4);
  const energy = (on: Uint8Array, p: number) => {
    let e = 0;
    for (let q = 0; q < n; q++) {
      if (!on[q]) continue;
      const dy = Math.min(Math.abs(Math.floor(p / R) - Math.floor(q / R)), R - Math.abs(Math.floor(p / R) - Math.floor(q / R)));
      const dx = Math.min(Math.abs((p % R) - (q % R)), R - Math.abs((p % R) - (q % R)));
      e += Math.exp(-(dy * dy + dx * dx) / (2 * 1.5 * 1.5));
    }
    return e;
  };
  const initial = Math.round(0.1 * n);
  for (let m = 0; m < n; m++) {
    const on = Uint8Array.from(rank, (r) => (r < m ? 1 : 0));
    const chosen = rank.indexOf(m);
    if (m >= initial) {
      // Filling: the chosen pixel has the lowest energy among the empty ones.
      const e = energy(on, chosen);
      for (let p = 0; p < n; p++) if (!on[p]) assert.ok(energy(on, p) >= e - 1e-9, `rank ${m}: pixel ${p} is a larger void`);
    } else {
      // Removing (phase 1, ranks counted down): with rank m's pixel on, it is the tightest cluster.
      on[chosen] = 1;
      const e = energy(on, chosen);
      for (let p = 0; p < n; p++) if (on[p]) assert.ok(energy(on, p) <= e + 1e-9, `rank ${m}: pixel ${p} is a tighter cluster`);
    }
  }
});

test('ordered dither at 1/4 is every other row and column', () => {
  const m = ditherLayout(8, 8, 0.25);
  for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) assert.is(m[r * 8 + c], r % 2 === 0 && c % 2 === 0 ? 1 : 0, `(${r}, ${c})`);
});

test('orderByScore: score, then tie-break, then index; maskFromOrder takes the first round(b·n)', () => {
  assert.equal(Array.from(orderByScore([2, 1, 1, 0], [0, 5, 3, 0])), [3, 2, 1, 0]);
  assert.equal(Array.from(orderByScore([1, 1, 1])), [0, 1, 2]);
  // Several tie keys, each consulted only where the keys before it tie.
  assert.equal(Array.from(orderByScore([0, 0, 0, 0], [1, 1, 0, 1], [5, 2, 9, 2])), [2, 1, 3, 0]);
  assert.throws(() => orderByScore([0, 0], [0, 0], [0]), /tie-break has 1 values, expected 2/);
  assert.equal(Array.from(maskFromOrder([3, 2, 1, 0], 0.5)), [0, 0, 1, 1]);
  assert.throws(() => maskFromOrder([0, 0, 1], 0.5), /permutation/);
});

test('multi-level from an order: last-reduced pixels keep native bits, the budget holds', () => {
  const order = Int32Array.from([0, 1, 2, 3, 4, 5, 6, 7]); // pixel 7 is reduced last
  const bits = levelsFromOrder(order, [12, 8, 4], 8);
  assert.ok(sum(bits) <= 8 * 8 + 1e-9);
  assert.is(bits[7], 12);
  // Bits never increase along the reduction order (earlier = fewer or equal bits).
  for (let i = 1; i < 8; i++) assert.ok(bits[order[i]!]! >= bits[order[i - 1]!]!, `monotone at ${i}`);
  // Budget 8 over 8 pixels with levels 12/8/4: 4 pixels at 12, 4 at 4 (sum 64).
  assert.equal(Array.from(bits), [4, 4, 4, 4, 12, 12, 12, 12]);
  for (const budget of [4, 5.5, 7, 11.9, 12]) {
    const d = ditherLevelLayout(16, 16, [12, 8, 4], budget);
    const bn = blueNoiseLevelLayout(16, 16, 1, [12, 8, 4], budget);
    for (const m of [d, bn]) {
      assert.ok(sum(m) <= budget * 256 + 1e-9, `Σbits ≤ budget at ${budget}`);
      assert.ok(sum(m) > budget * 256 - 8, `budget used at ${budget}`); // within one native−lowest step
      assert.ok(m.every((v) => v === 12 || v === 8 || v === 4));
    }
  }
});

// ---- content heuristic ----

const ROWS = 24;
const COLS = 24;

/** A slice: air (0) with a disc body of tissue (count 2000) of radius r at (cy, cx), a lung hole and a table strip. */
function disc(cy: number, cx: number, radius: number, volumeId: string, name: string): CtSlice {
  const image = new Float32Array(ROWS * COLS);
  for (let y = 0; y < ROWS; y++) {
    for (let x = 0; x < COLS; x++) {
      const d = Math.hypot(y - cy, x - cx);
      if (d <= radius) image[y * COLS + x] = d <= radius / 3 ? 100 : 2000; // lung air inside
    }
  }
  for (let x = 0; x < 5; x++) image[(ROWS - 1) * COLS + x] = 2000; // a small "table" component
  return { image, mask: new Uint8Array(ROWS * COLS), volumeId, name };
}

function dataset(slices: CtSlice[]): CtDataset {
  return { height: ROWS, width: COLS, nativeBits: 12, slices, source: 'test' };
}

test('body mask: largest component, holes (lungs) filled, table left out; internal air is the lung rule', () => {
  const s = disc(11.5, 11.5, 8, 'v', 's');
  const body = bodyMask(s.image, ROWS, COLS, 1000);
  assert.is(body[12 * COLS + 12], 1, 'lung centre is inside the body');
  assert.is(body[0], 0, 'corner is outside');
  assert.is(body[(ROWS - 1) * COLS + 1], 0, 'table strip is not the body');
  const air = internalAirMask(s.image, body, 1000);
  assert.is(air[12 * COLS + 12], 1);
  assert.is(air[0], 0);
  assert.is(air[11 * COLS + 18], 0, 'tissue is not air');
});

test('content heuristic reduces outside-body pixels first, exact count, from the training split only', () => {
  const slices = [
    disc(11.5, 11.5, 8, 'a', 'a0'), disc(11.5, 11.5, 8, 'a', 'a1'),
    disc(10, 10, 7, 'b', 'b0'),
    disc(12, 13, 9, 'c', 'c0'), disc(12, 13, 9, 'c', 'c1'),
  ];
  const split = splitByVolume(dataset(slices), ['c']);
  const share = outsideBodyShare(split.train);
  assert.is(share[0], 1);
  assert.is(share[12 * COLS + 12], 0);
  for (const b of [0.1, 0.3, 0.5, 0.8]) {
    const m = contentLayout(split.train, b);
    assert.is(count(m), Math.round(b * ROWS * COLS));
  }
  // At 30 % every reduced pixel is outside the body of every training slice (the discs cover < 70 %).
  const m = contentLayout(split.train, 0.3);
  for (let i = 0; i < m.length; i++) if (m[i]) assert.is(share[i], 1, `pixel ${i}`);
  // Replacing the test split's images changes nothing; changing a training image does.
  const otherTest = splitByVolume(dataset([...slices.slice(0, 3), disc(5, 5, 4, 'c', 'x0'), disc(18, 18, 4, 'c', 'x1')]), ['c']);
  assert.equal(Array.from(contentLayout(otherTest.train, 0.5)), Array.from(contentLayout(split.train, 0.5)));
  const otherTrain = splitByVolume(dataset([disc(6, 6, 5, 'a', 'a0'), ...slices.slice(1)]), ['c']);
  assert.not.equal(Array.from(contentLayout(otherTrain.train, 0.5)), Array.from(contentLayout(split.train, 0.5)));
  // The split-level entry reads split.train only: the same as the training images, whatever the test holds.
  assert.equal(Array.from(contentLayoutForSplit(otherTest, 0.5)), Array.from(contentLayout(split.train, 0.5)));
  assert.equal(Array.from(contentLayoutForSplit({ train: split.train }, 0.5)), Array.from(contentLayout(split.train, 0.5)));
  // Multi-level: pixels inside the body keep the most bits.
  const bits = contentLevelLayout(split.train, [12, 8, 4], 8);
  assert.is(bits[12 * COLS + 12], 12);
  assert.is(bits[0], 4);
  assert.ok(sum(bits) <= 8 * ROWS * COLS);
});

test('lesion-frequency heuristic: pixels where training lesions were rarest go first, the content order among equals, from the training split only', () => {
  /** A disc slice whose mask marks the given pixels as lesion. */
  const withLesion = (slice: CtSlice, pixels: number[]): CtSlice => {
    const mask = new Uint8Array(ROWS * COLS);
    for (const i of pixels) mask[i] = 1;
    return { ...slice, mask };
  };
  const rim = 12 * COLS + 5; // inside the body of every training disc, near its edge
  const centre = 12 * COLS + 12;
  const slices = [
    withLesion(disc(11.5, 11.5, 8, 'a', 'a0'), [rim, centre]), withLesion(disc(11.5, 11.5, 8, 'a', 'a1'), [rim]),
    disc(10, 10, 7, 'b', 'b0'),
    withLesion(disc(12, 13, 9, 'c', 'c0'), [0, 1, 2]), disc(12, 13, 9, 'c', 'c1'),
  ];
  const split = splitByVolume(dataset(slices), ['c']);
  const share = lesionShare(split.train);
  assert.is(share[rim], 2 / 3);
  assert.is(share[centre], 1 / 3);
  assert.is(share[0], 0, 'the test volume\'s lesions are not read');
  const order = Array.from(lesionOrder(split.train));
  // Every pixel without a training lesion precedes both lesion pixels; the rarer lesion pixel goes first.
  assert.equal(order.slice(-2), [centre, rim]);
  // Among the pixels without a lesion it is the content heuristic's order.
  const content = Array.from(contentLayout(split.train, 0.5));
  assert.equal(Array.from(lesionLayoutForSplit(split, 0.5)), content, 'while the lesion-free pixels pay for the budget, it is the content layout');
  for (const b of [0.1, 0.5, 0.9, 1]) assert.is(count(lesionLayoutForSplit(split, b)), Math.round(b * ROWS * COLS));
  const all = lesionLayoutForSplit(split, (ROWS * COLS - 1) / (ROWS * COLS));
  assert.equal([all[rim], all[centre]], [0, 1], 'the most frequent lesion pixel is the last one reduced');
  // Another test split changes nothing.
  const otherTest = splitByVolume(dataset([...slices.slice(0, 3), withLesion(disc(5, 5, 4, 'c', 'x0'), [rim]), disc(18, 18, 4, 'c', 'x1')]), ['c']);
  assert.equal(Array.from(lesionOrder(otherTest.train)), order);
  // Multi-level: the lesion pixels keep native bits.
  const bits = lesionLevelLayoutForSplit(split, [12, 8, 4], 8);
  assert.equal([bits[rim], bits[centre]], [12, 12]);
  assert.ok(sum(bits) <= 8 * ROWS * COLS);
  assert.throws(() => lesionShare({ ...split.train, slices: [] }), /at least one training slice/);
});

test.run();
