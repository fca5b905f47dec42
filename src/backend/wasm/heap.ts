/**
 * The parts of tfjs-backend-wasm's BackendWasm that ctquant's wasm kernels use: tensors live in the
 * module's memory, and these give views of it, new outputs and the memory itself. Float32 only.
 * Also the one tensor the 2D and 3D input-gradient kernels build on that heap.
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import { rotatedSwappedFilter } from '../kernel-geometry.js';
import { programsFor } from './simd-conv.js';

export interface WasmHeapBackend {
  /** The Emscripten module: the single-threaded build exports its memory, the threaded one keeps it. */
  wasm: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  /** A view of a float32 tensor's memory. */
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  disposeData(dataId: object, force?: boolean): boolean;
}

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
    programs.run('rotateSwap', [[backend.typedArrayFromHeap(filter).byteOffset, backend.typedArrayFromHeap(swapped).byteOffset, taps, cin, cout]]);
  } else {
    rotatedSwappedFilter(backend.typedArrayFromHeap(filter), backend.typedArrayFromHeap(swapped), taps, cin, cout);
  }
  return swapped;
}
