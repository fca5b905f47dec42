/**
 * `Conv3DBackpropInputV2` for tfjs-backend-wasm 4.22, whose own kernel returns wrong values (and,
 * in training, NaN) whenever the input has more than one channel: measured against the cpu
 * backend, e.g. x [4,3,8,8,16] · filter [3,3,3,16,16] gives max |Δdx| ≈ 41 (forward Conv3D and
 * Conv3DBackpropFilterV2 agree to ~1e-4). For stride 1 and dilation 1 (every conv of the 3D
 * U-Net) the input gradient is itself a forward conv, which wasm computes correctly:
 *   dx = Conv3D(pad(dy), flip(filter) with in/out channels swapped), 'valid',
 * dy padded by (f − 1 − forward pad) before each spatial axis and so that dx has the input's size.
 * Other strides fall back to the stock kernel (not used by ctquant).
 */
import * as tf from '@tensorflow/tfjs';
import type { KernelFunc, NamedAttrMap, TensorInfo } from '@tensorflow/tfjs';
import type { WasmHeapBackend } from './heap.js';
import { inputGradientFilterTensor } from './input-gradient-filter.js';

type Backend = tf.KernelBackend & { disposeData(dataId: object, force?: boolean): boolean };

interface BackpropInput3DArgs {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: Backend;
  attrs: { strides: [number, number, number] | number; pad: 'valid' | 'same'; inputShape: [number, number, number, number, number] };
}

function run(name: string, backend: Backend, inputs: Record<string, TensorInfo>, attrs: NamedAttrMap): TensorInfo {
  return tf.getKernel(name, 'wasm').kernelFunc({ inputs, backend, attrs }) as TensorInfo;
}

/**
 * Returns the kernel: dy [N, Do, Ho, Wo, Cout], filter [FD, FH, FW, Cin, Cout] → dx = inputShape
 * [N, D, H, W, Cin]; `stock` serves strides other than 1.
 */
export function conv3dBackpropInput(stock: KernelFunc | undefined): KernelFunc {
  return ((args: BackpropInput3DArgs): TensorInfo => {
    const { inputs, backend, attrs } = args;
    const { dy, filter } = inputs;
    const info = tf.backend_util.computeConv3DInfo(attrs.inputShape, filter.shape as [number, number, number, number, number], attrs.strides, 1, attrs.pad);
    const unitStride = info.strideDepth === 1 && info.strideHeight === 1 && info.strideWidth === 1;
    if (!unitStride || dy.dtype !== 'float32' || filter.dtype !== 'float32') {
      if (!stock) throw new Error('wasm Conv3DBackpropInputV2: only stride 1 is supported');
      return stock(args as unknown as Parameters<KernelFunc>[0]) as TensorInfo;
    }
    const { filterDepth: fd, filterHeight: fh, filterWidth: fw, padInfo } = info;
    const before = [fd - 1 - padInfo.front, fh - 1 - padInfo.top, fw - 1 - padInfo.left];
    const after = [
      info.inDepth + fd - 1 - info.outDepth - before[0]!,
      info.inHeight + fh - 1 - info.outHeight - before[1]!,
      info.inWidth + fw - 1 - info.outWidth - before[2]!,
    ];
    const padded = run('PadV2', backend, { x: dy }, {
      paddings: [[0, 0], [before[0]!, after[0]!], [before[1]!, after[1]!], [before[2]!, after[2]!], [0, 0]], constantValue: 0,
    } as unknown as NamedAttrMap);
    const swapped = inputGradientFilterTensor(backend as unknown as WasmHeapBackend, filter); // [FD,FH,FW,Cout,Cin]
    const dx = run('Conv3D', backend, { x: padded, filter: swapped }, { strides: [1, 1, 1], pad: 'valid', dilations: [1, 1, 1] } as unknown as NamedAttrMap);
    for (const t of [padded, swapped]) backend.disposeData(t.dataId);
    return dx;
  }) as unknown as KernelFunc;
}
