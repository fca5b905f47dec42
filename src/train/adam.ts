import * as tf from '@tensorflow/tfjs';

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
    this.m = variables.map((x) => tf.variable(tf.zerosLike(x), false));
    this.v = variables.map((x) => tf.variable(tf.zerosLike(x), false));
  }

  /** One update; `grads[i]` is the gradient of variables[i] (same shape). Consumes nothing. */
  apply(grads: tf.Tensor[], learningRate: number): void {
    this.step += 1;
    const c1 = 1 - Math.pow(this.beta1, this.step);
    const c2 = 1 - Math.pow(this.beta2, this.step);
    const stepSize = (learningRate * Math.sqrt(c2)) / c1;
    tf.tidy(() => {
      this.variables.forEach((x, i) => {
        const g = grads[i]!;
        const m = this.m[i]!.mul(this.beta1).add(g.mul(1 - this.beta1));
        const v = this.v[i]!.mul(this.beta2).add(g.square().mul(1 - this.beta2));
        this.m[i]!.assign(m);
        this.v[i]!.assign(v);
        x.assign(x.sub(m.mul(stepSize * (this.rateScales[i] ?? 1)).div(v.sqrt().add(this.epsilon * Math.sqrt(c2)))));
      });
    });
  }

  /** Moments, in variable order: [m0..mk, v0..vk]. */
  state(): { step: number; moments: tf.Variable[] } {
    return { step: this.step, moments: [...this.m, ...this.v] };
  }

  restore(step: number, moments: Float32Array[]): void {
    const all = [...this.m, ...this.v];
    if (moments.length !== all.length) throw new Error(`Adam.restore: expected ${all.length} moments, got ${moments.length}`);
    all.forEach((t, i) => t.assign(tf.tensor(moments[i]!, t.shape)));
    this.step = step;
  }

  dispose(): void {
    for (const t of [...this.m, ...this.v]) t.dispose();
  }
}
