/**
 * 3×3 stride-1 convolutions (forward passes, and the input gradients conv2dBackpropInput turns into
 * forward passes) by Winograd F(2×2, 3×3) on ctquant's SIMD programs (simd-winograd-programs.ts):
 * the filter is transformed once, then the input streams through in chunks of tile rows
 * (transform → 16 matrix products on the conv program as 1×1 convs → inverse transform, bias, ReLU),
 * so a chunk's transformed input and products stay in cache and the extra memory stays bounded.
 * Each output is computed the same way at any thread count (threads take disjoint tile rows), so
 * results are deterministic; they differ from the direct program's in the last bits (other sums).
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs';
import type { WasmHeapBackend } from './heap.js';
import { address, padInput, programName, programsFor, stride1 } from './simd-conv.js';
import { OUTPUT_CHANNEL_BLOCK } from './simd-conv-programs.js';
import { splitRange } from './simd-workers.js';

/** Positions in a 4×4 tile: the number of matrix products. */
const TILE_POSITIONS = 16;

/**
 * Floats between the 16 planes of V and M beyond their data: one cache line. Planes of a power-of-two
 * size put the 16 values a transform reads or writes per vector into one L1 cache set; measured at
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

/** Whether simdWinogradConv takes this convolution (shapes only; the caller checks the flag). */
export function winogradCovers(info: tf.backend_util.Conv2DInfo): boolean {
  const { inChannels: Ci, outChannels: Co, filterHeight: KH, filterWidth: KW, outHeight: Ho, outWidth: Wo, batchSize: N } = info;
  return stride1(info) && KH === 3 && KW === 3 && Ci % 4 === 0 && Co % OUTPUT_CHANNEL_BLOCK === 0 &&
    Ho % 2 === 0 && Wo % 2 === 0 && N * Ho * Wo * Ci > 0 && KH * KW * Ci * Co * 4 <= MAX_FILTER_BYTES;
}

/**
 * y = act(conv(x, filter) + bias) (act: identity or ReLU) by Winograd F(2×2, 3×3), or null when not
 * covered (winogradCovers) or this runtime has no wasm SIMD. Shapes: x [N,H,W,Ci], filter
 * [3,3,Ci,Co], bias [Co], y [N,Ho,Wo,Co]. `chunkFloats` bounds a chunk (tests shrink it to cross
 * chunk borders on small tensors; the numbers do not depend on it).
 */
export function simdWinogradConv(
  backend: WasmHeapBackend, x: TensorInfo, filter: TensorInfo, bias: TensorInfo | undefined, relu: boolean,
  info: tf.backend_util.Conv2DInfo, chunkFloats = CHUNK_FLOATS,
): TensorInfo | null {
  const { inChannels: Ci, outChannels: Co, outHeight: Ho, outWidth: Wo, batchSize: N } = info;
  if (!winogradCovers(info) || x.dtype !== 'float32' || filter.dtype !== 'float32') return null;
  if (bias && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== Co)) return null;
  const programs = programsFor(backend);
  if (!programs) return null;
  const [Th, Tw] = [Ho / 2, Wo / 2];
  const [Hp, Wp] = [Ho + 2, Wo + 2];
  const tileRows = N * Th;
  const chunkRows = Math.max(1, Math.min(tileRows, Math.floor(chunkFloats / (TILE_POSITIONS * Tw * Math.max(Ci, Co)))));
  const padded = padInput(backend, x, info);
  const u = backend.makeOutput([TILE_POSITIONS, Ci, Co], 'float32');
  const v = backend.makeOutput([TILE_POSITIONS, chunkRows * Tw * Ci + PLANE_GAP_FLOATS], 'float32');
  const m = backend.makeOutput([TILE_POSITIONS, chunkRows * Tw * Co + PLANE_GAP_FLOATS], 'float32');
  const y = backend.makeOutput([N, Ho, Wo, Co], 'float32');
  const [xAt, wAt, uAt, vAt, mAt, yAt] = [padded, filter, u, v, m, y].map((t) => address(backend, t)) as
    [number, number, number, number, number, number];
  const biasAt = bias ? address(backend, bias) : 0;
  programs.run('winogradFilter', splitRange(Ci, programs.threads).map(([c0, c1]) => [wAt, uAt, Ci, Co, c0, c1]));
  const conv = programName('conv');
  for (let r0 = 0; r0 < tileRows; r0 += chunkRows) {
    const rows = Math.min(chunkRows, tileRows - r0);
    const split = splitRange(rows, programs.threads);
    const [vPlane, mPlane] = [Ci, Co].map((C) => (rows * Tw * C + PLANE_GAP_FLOATS) * 4) as [number, number];
    programs.run('winogradInput', split.map(([a, b]) => [xAt, vAt, Th, Tw, Hp, Wp, Ci, vPlane, r0, r0 + a, r0 + b]));
    // M_k = V_k · U_k for the 16 positions k: a 1×1 conv over `rows` × Tw "pixels" (tiles), one
    // filter U_k per "image" k.
    programs.run(conv, split.map(([a, b]) => [
      vAt, uAt, 0, mAt, TILE_POSITIONS, rows, Tw, rows, Tw, Ci, Co, 1, 1, 0, a, b, Ci * Co * 4, vPlane, mPlane,
    ]));
    programs.run('winogradOutput', split.map(([a, b]) => [mAt, biasAt, yAt, Th, Tw, Co, mPlane, relu ? 1 : 0, r0, r0 + a, r0 + b]));
  }
  for (const t of [padded, u, v, m]) backend.disposeData(t.dataId);
  return y;
}
