/**
 * Zero output channels around the SIMD convolution programs, which take output channels in eights:
 * the input gradient of the U-Net's one-channel image and its 1×1 head's filter gradient otherwise
 * fall back to XNNPACK. A zero channel's outputs are dropped and touch no kept one, so the kept
 * channels are what the programs compute for them anyway.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { WasmHeapBackend } from './heap.js';

/** t [..., C] copied with its last axis zero-padded to `to` ≥ C channels. */
export function padChannels(backend: WasmHeapBackend, t: TensorInfo, to: number): TensorInfo {
  const C = t.shape[t.shape.length - 1]!;
  if (to < C) throw new Error(`padChannels: ${to} channels < ${C}`);
  const out = backend.makeOutput([...t.shape.slice(0, -1), to], 'float32');
  const dst = backend.typedArrayFromHeap(out);
  const src = backend.typedArrayFromHeap(t);
  dst.fill(0);
  for (let s = 0, d = 0; s < src.length; s += C, d += to) {
    for (let c = 0; c < C; c++) dst[d + c] = src[s + c]!;
  }
  return out;
}

/** The first `keep` channels of t [..., C] (a copy [..., keep]). */
export function takeChannels(backend: WasmHeapBackend, t: TensorInfo, keep: number): TensorInfo {
  const C = t.shape[t.shape.length - 1]!;
  if (keep > C) throw new Error(`takeChannels: ${keep} channels > ${C}`);
  const out = backend.makeOutput([...t.shape.slice(0, -1), keep], 'float32');
  const dst = backend.typedArrayFromHeap(out);
  const src = backend.typedArrayFromHeap(t);
  for (let s = 0, d = 0; d < dst.length; s += C, d += keep) {
    for (let c = 0; c < keep; c++) dst[d + c] = src[s + c]!;
  }
  return out;
}
