/**
 * The parts of tfjs-backend-wasm's BackendWasm that ctquant's wasm kernels use: tensors live in the
 * module's memory, and these give views of it, new outputs and the memory itself. Float32 only.
 */
import type { TensorInfo } from '@tensorflow/tfjs';

export interface WasmHeapBackend {
  /** The Emscripten module: the single-threaded build exports its memory, the threaded one keeps it. */
  wasm: { asm?: { memory?: WebAssembly.Memory }; wasmMemory?: WebAssembly.Memory };
  incRef(dataId: object): void;
  makeOutput(shape: number[], dtype: 'float32'): TensorInfo;
  /** A view of a float32 tensor's memory. */
  typedArrayFromHeap(t: TensorInfo): Float32Array;
  disposeData(dataId: object, force?: boolean): boolean;
}
