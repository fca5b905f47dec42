/**
 * The filter of a stride-1 input gradient as a forward conv, made on the wasm heap for the 2D and 3D
 * input-gradient kernels (kernels.ts, conv3d.ts).
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import { rotatedSwappedFilter } from '../kernel-geometry.js';
import type { WasmHeapBackend } from './heap.js';
import { address, programsFor } from './simd-conv.js';

/**
 * A new tensor holding filter W [...spatial, Cin, Cout] (2D or 3D, float32) rotated 180° in every
 * spatial axis with in/out swapped, [...spatial, Cout, Cin]: the filter of a stride-1 input gradient
 * as a forward conv (kernel-geometry.ts rotatedSwappedFilter; the SIMD program rotateSwap where the
 * channels come in fours: 1.1 ms for a 3×3×256×256 filter in JS).
 */
export function inputGradientFilterTensor(backend: WasmHeapBackend, filter: TensorInfo): TensorInfo {
  const spatial = filter.shape.slice(0, -2);
  const [cin, cout] = filter.shape.slice(-2) as [number, number];
  const swapped = backend.makeOutput([...spatial, cout, cin], 'float32');
  const taps = spatial.reduce((a, b) => a * b, 1);
  const programs = cin % 4 === 0 && cout % 4 === 0 ? programsFor(backend) : null;
  if (programs) {
    programs.run('rotateSwap', [[address(backend, filter), address(backend, swapped), taps, cin, cout]]);
  } else {
    rotatedSwappedFilter(backend.typedArrayFromHeap(filter), backend.typedArrayFromHeap(swapped), taps, cin, cout);
  }
  return swapped;
}
