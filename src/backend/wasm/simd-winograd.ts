/**
 * 3×3 stride-1 convolutions (forward passes, and the input gradients conv2dBackpropInput turns into
 * forward passes) by Winograd F(2×2, 3×3) or F(4×4, 3×3) on ctquant's SIMD programs
 * (simd-winograd-programs.ts): the filter is transformed once, then the input streams through in
 * chunks of tile rows (transform → n² matrix products on the conv program as 1×1 convs → inverse
 * transform, bias, ReLU),
 * so a chunk's transformed input and products stay in cache and the extra memory stays bounded.
 * Each output is computed the same way at any thread count (threads take disjoint tile rows), so
 * results are deterministic; they differ from the direct program's in the last bits (other sums).
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs';
import type { WasmHeapBackend } from './heap.js';
import { address, FILTER_GRAD_CHUNK_PIXELS, padInput, programName, programsFor, stride1 } from './simd-conv.js';
import { FILTER_GRAD_INPUT_BLOCK, OUTPUT_CHANNEL_BLOCK } from './simd-conv-programs.js';
import { F2x2, F4x4, type WinogradTile } from './simd-winograd-programs.js';
import { splitRange } from './simd-workers.js';
import { WASM_WINOGRAD_F4_FLAG } from '../flags.js';

/**
 * Fewest F(4×4) tiles (over the batch) for which a pass takes F(4×4). Its transformed filter has 36
 * planes against F(2×2)'s 16. Since U's planes have a gap (below), making U costs little, and per
 * layer (bench/conv-layers.ts --against f2, 1 thread, 15 reps, thresholds forced to 0) the forward
 * pass takes F(4×4) down to the fewest tiles measured: batch 4 at 4², 256 → 256 channels (4 tiles)
 * 0.7 against 0.8 ms, at 8², 128 → 128 (16 tiles) 0.5 against 0.7, at 16², 256 → 256 7.0 against 10.9.
 * The filter gradient sums dU over the tiles, so with few tiles it is bound by reading and writing
 * 36 planes of dU: at 4 tiles 1.5 against 1.1 ms, at 8 (batch 8) 2.9 against 2.8, at 16 0.6 against 0.8.
 */
export const MIN_F4_TILES = { forward: 4, filterGradient: 16 } as const;

/**
 * The tile a pass runs with: F(4×4, 3×3) under its flag where the output's sides are multiples of 4
 * and the batch has at least MIN_F4_TILES[pass] of its tiles, otherwise F(2×2, 3×3). `f4` defaults to
 * the flag (tests pass it).
 */
export function winogradTileFor(
  info: tf.backend_util.Conv2DInfo, pass: keyof typeof MIN_F4_TILES, f4 = tf.env().getBool(WASM_WINOGRAD_F4_FLAG),
): WinogradTile {
  const { outHeight: Ho, outWidth: Wo, batchSize: N } = info;
  return f4 && Ho % 4 === 0 && Wo % 4 === 0 && (N * Ho * Wo) / 16 >= MIN_F4_TILES[pass] ? F4x4 : F2x2;
}

const tileFits = (info: tf.backend_util.Conv2DInfo, tile: WinogradTile) => info.outHeight % tile.m === 0 && info.outWidth % tile.m === 0;

/** The program of a transform for a tile: F(4×4)'s carry the suffix 4 (simd-conv.ts). */
const programFor = (name: 'winogradFilter' | 'winogradInput' | 'winogradOutput' | 'winogradOutputGradient' | 'winogradFilterGradient', tile: WinogradTile) =>
  (tile.m === 4 ? `${name}4` : name);

/**
 * Floats between the planes of V and M beyond their data: one cache line. Planes of a power-of-two
 * size put the n² values a transform reads or writes per vector into one L1 cache set; measured at
 * 256², 32 → 16 channels, the input transform took 19 ms with packed planes and 5 with this gap.
 */
const PLANE_GAP_FLOATS = 16;

/**
 * Floats of transformed input (or of products) per chunk: 1 MiB, about one core's L2 cache, so the
 * products read what the transform has just written from cache.
 */
const CHUNK_FLOATS = 1 << 18;

/**
 * Largest filter taken. Unlike the direct program (MAX_FORWARD_FILTER_BYTES, which rereads the
 * whole filter per block of pixels), a product reads one position's Ci·Co plane of U at a time,
 * which stays in L2 at these sizes: at 16², 256 → 256 channels (a 2.4 MB filter) 14.3 ms against
 * XNNPACK's 28.8. Larger filters are not measured, so they stay with XNNPACK.
 */
const MAX_FILTER_BYTES = 4 << 20;

/** Whether the Winograd programs take this convolution's shape (forward and filter gradient alike). */
function tilesCover(info: tf.backend_util.Conv2DInfo): boolean {
  const { inChannels: Ci, outChannels: Co, filterHeight: KH, filterWidth: KW, outHeight: Ho, outWidth: Wo, batchSize: N } = info;
  return stride1(info) && KH === 3 && KW === 3 && Ci % FILTER_GRAD_INPUT_BLOCK === 0 && Co % OUTPUT_CHANNEL_BLOCK === 0 &&
    Ho % 2 === 0 && Wo % 2 === 0 && N * Ho * Wo * Ci > 0;
}

/** Whether simdWinogradConv takes this convolution (shapes only; the caller checks the flag). */
export function winogradCovers(info: tf.backend_util.Conv2DInfo): boolean {
  return tilesCover(info) && 9 * info.inChannels * info.outChannels * 4 <= MAX_FILTER_BYTES;
}

/** Whether simdWinogradFilterGradient takes this convolution (no filter limit: dU is summed plane by plane). */
export function winogradFilterGradientCovers(info: tf.backend_util.Conv2DInfo): boolean {
  return tilesCover(info);
}

/** The tiles of a convolution and the chunks they stream through in. */
interface Tiling {
  tile: WinogradTile;
  /** Matrix products per tile: n² positions of the input window. */
  positions: number;
  Th: number; Tw: number; Hp: number; Wp: number;
  /** Tile rows over all images (N·Th) and per chunk. */
  tileRows: number; chunkRows: number;
}

function tiling(info: tf.backend_util.Conv2DInfo, chunkFloats: number, tile: WinogradTile): Tiling {
  const { inChannels: Ci, outChannels: Co, outHeight: Ho, outWidth: Wo, batchSize: N } = info;
  const positions = tile.n * tile.n;
  const [Th, Tw] = [Ho / tile.m, Wo / tile.m];
  const chunkRows = Math.max(1, Math.min(N * Th, Math.floor(chunkFloats / (positions * Tw * Math.max(Ci, Co)))));
  return { tile, positions, Th, Tw, Hp: Ho + 2, Wp: Wo + 2, tileRows: N * Th, chunkRows };
}

/** Bytes from one of the n² planes of a chunk of `rows` tile rows with C channels to the next. */
const planeBytes = (rows: number, t: Tiling, C: number) => (rows * t.Tw * C + PLANE_GAP_FLOATS) * 4;

/**
 * Tiles per row of the product M = V·U (which runs as a 1×1 conv over [Ho', Wo'] "pixels"): the
 * chunk's rows·Tw tiles are contiguous in V and M, so whole tile rows can be grouped into one longer
 * product row. The conv program takes pixels four at a time; a 4×4 image has 2 tiles per row, which
 * left it on its one-pixel path (20 GFLOP/s at 4², 256 → 256 channels). Groups up to MAX_PRODUCT_ROW
 * tiles, keeping at least one product row per thread.
 */
export function productRowTiles(rows: number, Tw: number, threads: number): number {
  let group = 1;
  for (let g = 2; g <= rows; g++) {
    if (rows % g === 0 && g * Tw <= MAX_PRODUCT_ROW && rows / g >= Math.min(threads, rows)) group = g;
  }
  return group * Tw;
}

/** Longest product row productRowTiles makes by grouping (a row of ≤ 64 tiles of ≤ 256 channels stays in L1/L2). */
const MAX_PRODUCT_ROW = 64;

/** The chunks of tile rows: [first tile row, rows]. */
function* chunks(t: Tiling): Generator<[number, number]> {
  for (let r0 = 0; r0 < t.tileRows; r0 += t.chunkRows) yield [r0, Math.min(t.chunkRows, t.tileRows - r0)];
}

/**
 * y = act(conv(x, filter) + bias) (act: identity or ReLU) by Winograd F(2×2, 3×3) or F(4×4, 3×3)
 * (`tile`: winogradTileFor), or null when not covered (winogradCovers, the output's sides not multiples
 * of the tile's) or this runtime has no wasm SIMD. Shapes: x [N,H,W,Ci], filter
 * [3,3,Ci,Co], bias [Co], y [N,Ho,Wo,Co]. `chunkFloats` bounds a chunk (tests shrink it to cross
 * chunk borders on small tensors; the numbers do not depend on it).
 */
export function simdWinogradConv(
  backend: WasmHeapBackend, x: TensorInfo, filter: TensorInfo, bias: TensorInfo | undefined, relu: boolean,
  info: tf.backend_util.Conv2DInfo, chunkFloats = CHUNK_FLOATS, tile = winogradTileFor(info, 'forward'),
): TensorInfo | null {
  const { inChannels: Ci, outChannels: Co, outHeight: Ho, outWidth: Wo, batchSize: N } = info;
  if (!winogradCovers(info) || !tileFits(info, tile) || x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  if (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== Co)) return null;
  const programs = programsFor(backend);
  if (!programs) return null;
  const t = tiling(info, chunkFloats, tile);
  const padded = padInput(backend, x, info);
  // U's planes get the gap too: 16 or 36 stores per vector, a power of two apart, all fell into one
  // cache set. The filter transform of 3×3×256×256 took 0.60 ms packed and ~0.2 with the gap.
  const uPlane = (Ci * Co + PLANE_GAP_FLOATS) * 4;
  const u = backend.makeOutput([uPlane * t.positions / 4], 'float32');
  const v = backend.makeOutput([planeBytes(t.chunkRows, t, Ci) * t.positions / 4], 'float32');
  const m = backend.makeOutput([planeBytes(t.chunkRows, t, Co) * t.positions / 4], 'float32');
  const y = backend.makeOutput([N, Ho, Wo, Co], 'float32');
  const [xAt, wAt, uAt, vAt, mAt, yAt] = [padded, filter, u, v, m, y].map((q) => address(backend, q)) as
    [number, number, number, number, number, number];
  const biasAt = bias ? address(backend, bias) : 0;
  programs.run(programFor('winogradFilter', t.tile), splitRange(Ci, programs.threads).map(([c0, c1]) => [wAt, uAt, Ci, Co, uPlane, c0, c1]));
  const conv = programName('conv');
  for (const [r0, rows] of chunks(t)) {
    const split = splitRange(rows, programs.threads);
    const [vPlane, mPlane] = [planeBytes(rows, t, Ci), planeBytes(rows, t, Co)];
    programs.run(programFor('winogradInput', t.tile), split.map(([a, b]) => [xAt, vAt, t.Th, t.Tw, t.Hp, t.Wp, Ci, vPlane, r0, r0 + a, r0 + b]));
    // M_k = V_k · U_k for the n² positions k: a 1×1 conv over the chunk's tiles as "pixels" (rows of
    // rowTiles), one filter U_k per "image" k.
    const rowTiles = productRowTiles(rows, t.Tw, programs.threads);
    const productRows = (rows * t.Tw) / rowTiles;
    programs.run(conv, splitRange(productRows, programs.threads).map(([a, b]) => [
      vAt, uAt, 0, mAt, t.positions, productRows, rowTiles, productRows, rowTiles, Ci, Co, 1, 1, 0, a, b, uPlane, vPlane, mPlane,
    ]));
    programs.run(programFor('winogradOutput', t.tile), split.map(([a, b]) => [mAt, biasAt, yAt, t.Th, t.Tw, Co, mPlane, relu ? 1 : 0, r0, r0 + a, r0 + b]));
  }
  for (const q of [padded, u, v, m]) backend.disposeData(q.dataId);
  return y;
}

/**
 * dW [3,3,Ci,Co] of a 3×3 stride-1 convolution by Winograd F(2×2, 3×3) or F(4×4, 3×3) (`tile`), or
 * null when not covered (winogradFilterGradientCovers) or this runtime has no wasm SIMD. The forward pass is linear in g
 * through U = G g Gᵀ, so its exact gradient runs the transforms transposed: dM = A dY Aᵀ per tile,
 * dU_k = Σ_tiles V_kᵀ dM_k (n² products with the tiles as the inner dimension, on the filter
 * gradient program), dW = Gᵀ dU G. n² multiply-adds per tile and channel pair instead of 9m².
 * Shapes: x [N,H,W,Ci], dy [N,Ho,Wo,Co].
 */
export function simdWinogradFilterGradient(
  backend: WasmHeapBackend, x: TensorInfo, dy: TensorInfo, info: tf.backend_util.Conv2DInfo, chunkFloats = CHUNK_FLOATS,
  tile = winogradTileFor(info, 'filterGradient'),
): TensorInfo | null {
  const { inChannels: Ci, outChannels: Co } = info;
  if (!winogradFilterGradientCovers(info) || !tileFits(info, tile) || x.dtype !== 'float32' || dy.dtype !== 'float32') return null;
  const programs = programsFor(backend);
  if (!programs) return null;
  const t = tiling(info, chunkFloats, tile);
  const uPlane = (Ci * Co + PLANE_GAP_FLOATS) * 4;
  const padded = padInput(backend, x, info);
  const du = backend.makeOutput([uPlane * t.positions / 4], 'float32');
  backend.typedArrayFromHeap(du).fill(0);
  const v = backend.makeOutput([planeBytes(t.chunkRows, t, Ci) * t.positions / 4], 'float32');
  const m = backend.makeOutput([planeBytes(t.chunkRows, t, Co) * t.positions / 4], 'float32');
  const dw = backend.makeOutput([3, 3, Ci, Co], 'float32');
  const [xAt, dyAt, duAt, vAt, mAt, dwAt] = [padded, dy, du, v, m, dw].map((q) => address(backend, q)) as
    [number, number, number, number, number, number];
  const channelBlocks = splitRange(Ci / FILTER_GRAD_INPUT_BLOCK, programs.threads);
  const filterGradient = programName('filterGradient');
  const productRows = Math.max(1, Math.floor(FILTER_GRAD_CHUNK_PIXELS / t.Tw));
  for (const [r0, rows] of chunks(t)) {
    const split = splitRange(rows, programs.threads);
    const [vPlane, mPlane] = [planeBytes(rows, t, Ci), planeBytes(rows, t, Co)];
    programs.run(programFor('winogradInput', t.tile), split.map(([a, b]) => [xAt, vAt, t.Th, t.Tw, t.Hp, t.Wp, Ci, vPlane, r0, r0 + a, r0 + b]));
    programs.run(programFor('winogradOutputGradient', t.tile), split.map(([a, b]) => [dyAt, mAt, t.Th, t.Tw, Co, mPlane, r0, r0 + a, r0 + b]));
    // dU_k += V_kᵀ dM_k: a 1×1 filter gradient over `rows` × Tw tiles, one dU_k per "image" k.
    programs.run(filterGradient, channelBlocks.map(([b0, b1]) => [
      vAt, mAt, duAt, t.positions, rows, t.Tw, rows, t.Tw, Ci, Co, 1, 1,
      b0 * FILTER_GRAD_INPUT_BLOCK, b1 * FILTER_GRAD_INPUT_BLOCK, productRows, vPlane, mPlane, uPlane,
    ]));
  }
  programs.run(programFor('winogradFilterGradient', t.tile), splitRange(Ci, programs.threads).map(([c0, c1]) => [duAt, dwAt, Ci, Co, uPlane, c0, c1]));
  for (const q of [padded, du, v, m]) backend.disposeData(q.dataId);
  return dw;
}
