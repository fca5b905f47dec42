/**
 * Adam's update as one WGSL dispatch per variable, in place, on tfjs-backend-webgpu's device.
 *
 * With tf ops, one Adam update of one variable is about eleven kernels (mul, add, square, sqrt,
 * div, sub, each with its scalar uploaded as a fresh GPU buffer); for the U-Net's 47 variables that
 * was ~500 of the ~1300 dispatches of a training step, and the step is bound by the CPU cost of
 * issuing them. Here each variable is one dispatch that reads g and rewrites m, v and x in their
 * own buffers; the scalars are one uniform buffer for all variables, written once per step.
 *
 * Why not tfjs's program API (`runWebGPUProgram`, as conv2d-backprop-filter.ts): it binds exactly
 * one writable buffer per dispatch (the output), and an in-place update needs three (m, v, x).
 * So this module builds its own pipeline and records into its own command encoder, after flushing
 * tfjs's pending commands so the update runs after the gradients it reads. It uses only the
 * backend's public members (device, queue, tensorMap, uploadToGPU, refCount, submitQueue, …).
 */
import type { TensorInfo } from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';

const WORKGROUP = 256;
/** Grid-stride loop beyond this many workgroups (stays far below the 65535 per-dimension limit). */
const MAX_WORKGROUPS = 4096;
/** Bytes of one variable's parameter block: 6 f32 + size u32 + padding. */
const PARAMS_BYTES = 32;

/** The update, element-wise, in the same operation order as the tf-op Adam (src/train/adam.ts). */
export const ADAM_WGSL = /* wgsl */ `
struct Params {
  beta1 : f32,
  oneMinusBeta1 : f32,
  beta2 : f32,
  oneMinusBeta2 : f32,
  stepSize : f32,
  epsilonHat : f32,
  size : u32,
  pad : u32,
};
@group(0) @binding(0) var<storage, read> g : array<f32>;
@group(0) @binding(1) var<storage, read_write> m : array<f32>;
@group(0) @binding(2) var<storage, read_write> v : array<f32>;
@group(0) @binding(3) var<storage, read_write> x : array<f32>;
@group(0) @binding(4) var<uniform> p : Params;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid : vec3<u32>, @builtin(num_workgroups) groups : vec3<u32>) {
  let stride = groups.x * ${WORKGROUP}u;
  for (var i = gid.x; i < p.size; i += stride) {
    let gi = g[i];
    let mi = m[i] * p.beta1 + gi * p.oneMinusBeta1;
    let vi = v[i] * p.beta2 + (gi * gi) * p.oneMinusBeta2;
    m[i] = mi;
    v[i] = vi;
    x[i] = x[i] - (mi * p.stepSize) / (sqrt(vi) + p.epsilonHat);
  }
}
`;

/** The step's scalars, as float64; each is rounded to f32 once, as tf's scalar tensors are. */
export interface AdamStepScalars {
  beta1: number;
  beta2: number;
  /** Learning rate · √(1 − β2ᵗ) / (1 − β1ᵗ). */
  stepSize: number;
  /** ε · √(1 − β2ᵗ). */
  epsilonHat: number;
}

/** One variable's update: gradient g (read) and m, v, x (rewritten in place); all float32, same size. */
export interface AdamSlot {
  g: TensorInfo;
  m: TensorInfo;
  v: TensorInfo;
  x: TensorInfo;
  /** Multiplies stepSize for this variable. */
  rateScale: number;
}

/**
 * Runs Adam updates on the webgpu backend, one dispatch per slot, all in one command buffer.
 * The caller guarantees that m, v and x each own their GPU buffer (backend refCount 1), see
 * `ownsBuffer`; g may be any float32 tensor of the same size.
 */
export class WebgpuAdamUpdater {
  private pipeline: GPUComputePipeline | null = null;
  private params: GPUBuffer | null = null;
  private paramsStride = 256;
  private paramsSlots = 0;

  /** `maxWorkgroups`: dispatch at most this many workgroups per variable (threads loop over the rest). */
  constructor(
    private readonly backend: WebGPUBackend,
    private readonly maxWorkgroups = MAX_WORKGROUPS,
  ) {}

  /** Whether tensor t is float32 and the only user of its data (so writing it in place is invisible elsewhere). */
  ownsBuffer(t: TensorInfo): boolean {
    return t.dtype === 'float32' && this.backend.refCount(t.dataId) === 1;
  }

  /** m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; x ← x − (m·stepSize·rateScale)/(√v + ε̂), for every slot. */
  apply(slots: AdamSlot[], s: AdamStepScalars): void {
    const backend = this.backend;
    const live = slots.filter((slot) => sizeOf(slot.x) > 0);
    if (live.length === 0) return;
    const device = backend.device;
    const pipeline = this.ensurePipeline();
    const params = this.ensureParams(live.length);

    const block = new ArrayBuffer(this.paramsStride * live.length);
    live.forEach((slot, i) => {
      const f = new Float32Array(block, i * this.paramsStride, 6);
      f.set([s.beta1, 1 - s.beta1, s.beta2, 1 - s.beta2, s.stepSize * slot.rateScale, s.epsilonHat]);
      new Uint32Array(block, i * this.paramsStride + 24, 1)[0] = sizeOf(slot.x);
    });

    for (const slot of live) for (const t of [slot.g, slot.m, slot.v, slot.x]) backend.uploadToGPU(t.dataId);
    // tfjs records into its own encoder and submits every few dispatches: submit what it holds
    // now (the gradients) so that this command buffer runs after it.
    backend.ensureCommandEncoderReady();
    backend.endComputePassEncoder();
    backend.submitQueue();
    backend.queue.writeBuffer(params, 0, block);

    const encoder = device.createCommandEncoder({ label: 'ctquant-adam' });
    const pass = encoder.beginComputePass({ label: 'ctquant-adam' });
    pass.setPipeline(pipeline);
    live.forEach((slot, i) => {
      const buffers = [slot.g, slot.m, slot.v, slot.x].map((t) => this.bufferOf(t));
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [
          ...buffers.map((buffer, b) => ({ binding: b, resource: { buffer } })),
          { binding: 4, resource: { buffer: params, offset: i * this.paramsStride, size: PARAMS_BYTES } },
        ],
      });
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(Math.min(this.maxWorkgroups, Math.ceil(sizeOf(slot.x) / WORKGROUP)));
    });
    pass.end();
    backend.queue.submit([encoder.finish()]);

    // A read-back caches values on the CPU next to the buffer; they are stale now.
    for (const slot of live) {
      for (const t of [slot.m, slot.v, slot.x]) backend.tensorMap.get(t.dataId).values = null as never;
    }
  }

  dispose(): void {
    this.params?.destroy();
    this.params = null;
    this.pipeline = null;
  }

  private bufferOf(t: TensorInfo): GPUBuffer {
    const resource = this.backend.tensorMap.get(t.dataId).resource;
    if (!(resource instanceof GPUBuffer)) throw new Error('WebgpuAdamUpdater: tensor is not in a GPU buffer');
    return resource;
  }

  private ensurePipeline(): GPUComputePipeline {
    if (!this.pipeline) {
      const device = this.backend.device;
      const module = device.createShaderModule({ code: ADAM_WGSL, label: 'ctquant-adam' });
      this.pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: 'ctquant-adam' });
      this.paramsStride = Math.max(PARAMS_BYTES, device.limits.minUniformBufferOffsetAlignment);
    }
    return this.pipeline;
  }

  private ensureParams(slots: number): GPUBuffer {
    if (!this.params || this.paramsSlots < slots) {
      this.params?.destroy();
      this.params = this.backend.device.createBuffer({
        size: this.paramsStride * slots,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
        label: 'ctquant-adam-params',
      });
      this.paramsSlots = slots;
    }
    return this.params;
  }
}

function sizeOf(t: TensorInfo): number {
  return t.shape.reduce((a, b) => a * b, 1);
}
