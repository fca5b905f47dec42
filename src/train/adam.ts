import * as tf from '@tensorflow/tfjs';
import { FUSED_ADAM_FLAG } from '../backend/flags.js';
import { ADAM_UPDATE_KERNEL } from '../backend/kernel-names.js';


/**
 * Adam with its whole state explicit (moments and step count), so a checkpoint holds exactly
 * what the next step needs and a resumed run repeats an uninterrupted one bit for bit.
 * The bias corrections are computed in float64 from the step count, not accumulated.
 */
export class Adam {
  step = 0;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];

  /**
   * `rateScales[i]` multiplies the learning rate of variables[i] (default 1): the quantization
   * layer's logits learn at their own rate, set relative to the U-Net's.
   */
  constructor(
    readonly variables: tf.Variable[],
    readonly beta1 = 0.9,
    readonly beta2 = 0.999,
    readonly epsilon = 1e-7,
    readonly rateScales: number[] = variables.map(() => 1),
  ) {
    // The zero tensor is disposed so each moment is the only user of its data (the fused kernel
    // updates moments in place).
    this.m = variables.map(zerosVariable);
    this.v = variables.map(zerosVariable);
  }

  /**
   * One update; `grads[i]` is the gradient of variables[i] (same shape), or null to leave that
   * variable and its moments as they are (a frozen variable: a zero gradient would still move it
   * by its momentum). Consumes nothing.
   */
  apply(grads: (tf.Tensor | null)[], learningRate: number): void {
    this.step += 1;
    const c1 = 1 - Math.pow(this.beta1, this.step);
    const c2 = 1 - Math.pow(this.beta2, this.step);
    const stepSize = (learningRate * Math.sqrt(c2)) / c1;
    if (tf.env().getBool(FUSED_ADAM_FLAG) && tf.getKernel(ADAM_UPDATE_KERNEL, tf.getBackend())) {
      this.applyFused(grads, stepSize, this.epsilon * Math.sqrt(c2));
      return;
    }
    tf.tidy(() => {
      this.variables.forEach((x, i) => {
        const g = grads[i];
        if (!g) return;
        const m = this.m[i]!.mul(this.beta1).add(g.mul(1 - this.beta1));
        const v = this.v[i]!.mul(this.beta2).add(g.square().mul(1 - this.beta2));
        this.m[i]!.assign(m);
        this.v[i]!.assign(v);
        x.assign(x.sub(m.mul(stepSize * (this.rateScales[i] ?? 1)).div(v.sqrt().add(this.epsilon * Math.sqrt(c2)))));
      });
    });
  }

  /**
   * The same update through the backend's fused kernel (ADAM_UPDATE_KERNEL), writing m and v in
   * place, and x in place or (where the kernel returns one per variable) into a fresh tensor.
   */
  private applyFused(grads: (tf.Tensor | null)[], stepSize: number, epsilonHat: number): void {
    const backend = tf.backend();
    const inputs: Record<string, tf.Tensor> = {};
    const rateScales: number[] = [];
    const updated: tf.Variable[] = [];
    this.variables.forEach((x, i) => {
      const g = grads[i];
      if (!g) return;
      if (g.dtype !== 'float32' || g.size !== x.size) throw new Error(`Adam: gradient ${i} does not match its variable`);
      // In place is only safe for data nothing else sees: give shared data a private copy first.
      for (const t of [x, this.m[i]!, this.v[i]!]) {
        if (t.dtype === 'float32' && backend.refCount(t.dataId) === 1) continue;
        const copy = tf.tidy(() => t.add(0));
        t.assign(copy);
        copy.dispose();
      }
      const slot = rateScales.length;
      Object.assign(inputs, { [`g${slot}`]: g, [`m${slot}`]: this.m[i]!, [`v${slot}`]: this.v[i]!, [`x${slot}`]: x });
      rateScales.push(this.rateScales[i] ?? 1);
      updated.push(x);
    });
    if (rateScales.length === 0) return;
    const out = tf.engine().runKernel(ADAM_UPDATE_KERNEL, inputs, { beta1: this.beta1, beta2: this.beta2, stepSize, epsilonHat, rateScales });
    const fresh = Array.isArray(out) ? out : [out];
    if (fresh.length === 0) return;
    if (fresh.length !== updated.length) throw new Error(`Adam: ${ADAM_UPDATE_KERNEL} returned ${fresh.length} tensors for ${updated.length} variables`);
    fresh.forEach((t, k) => {
      updated[k]!.assign(t);
      t.dispose();
    });
  }

  /** Moments, in variable order: [m0..mk, v0..vk]. */
  state(): { step: number; moments: tf.Variable[] } {
    return { step: this.step, moments: [...this.m, ...this.v] };
  }

  restore(step: number, moments: Float32Array[]): void {
    const all = [...this.m, ...this.v];
    if (moments.length !== all.length) throw new Error(`Adam.restore: expected ${all.length} moments, got ${moments.length}`);
    all.forEach((t, i) => tf.tidy(() => t.assign(tf.tensor(moments[i]!, t.shape))));
    this.step = step;
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}

/** A zero variable shaped as x that is the only user of its data. */
function zerosVariable(x: tf.Variable): tf.Variable {
  const zeros = tf.zerosLike(x);
  const v = tf.variable(zeros, false);
  zeros.dispose();
  return v;
}
