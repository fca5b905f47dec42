/**
 * Multi-level trainable layout: every detector pixel chooses among the levels
 * [native, ...profile modes] (bits, descending) by a relaxed categorical (Gumbel-softmax).
 *
 *   q   = softmax(slope · w)            per pixel over the K levels, w: [rows, cols, K]
 *   q̃   = rescale(q) so the expected bits per pixel, mean_i Σ_k q̃_ik·bits_k, equal the budget B exactly
 *   y   ~ Gumbel-softmax(q̃, temperature)
 *   out = Σ_k y_k · Q_k(x)              Q_native = identity, Q_k straight-through hard quantizers
 *
 * The rescaling is LOUPE's RescaleProbMap carried to K levels. LOUPE mixes p towards 0 (p·b/mean)
 * or towards 1 (1 − (1−p)(1−b)/(1−mean)); here, with E = expected bits of q:
 *   E > B: q̃ = (1−α)·q + α·onehot(lowest),  α = (E − B)/(E − bits_min)    (every pixel gives up bits)
 *   E ≤ B: q̃ = (1−α)·q + α·onehot(native),  α = (B − E)/(bits_native − E) (every pixel gains bits)
 * Both keep q̃ a distribution per pixel and make the expected bits exactly B; with K = 2 they are
 * LOUPE's formulas for p = q_lowest. With a layout family (layout-family.ts) w holds one set of
 * level logits per cell, the expected bits are weighted by the pixels each cell covers, one Gumbel
 * draw is made per cell and image, and y is expanded to the pixels; the hardware greedy runs on
 * the pixels (cells stay constant except where the bit allowance runs out).
 * Input and output: [B, rows, cols, 1] native ADC counts.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { quantizeCounts, quantizeCountsSTE } from './hard.js';
import { accurateMean, greedyLevels } from './budget.js';
import { ReadoutQuantizationLayer, readAndDispose, straightThroughMask, type LayerArgs, type MaskMode, type ReadoutLayerConfig } from './readout-layer.js';
import { expandCells, isPerPixel, meanCategoricalEntropy } from './layout-family.js';

export interface MultiLevelConfig extends ReadoutLayerConfig {
  /** Reduced modes, bits kept, descending, each < nativeBits (the profile's `modes`). */
  modes: number[];
  /** Expected ADC bits per pixel, in (min(modes), nativeBits). */
  budgetBits: number;
  /**
   * Start from these level logits ([cellRows, cellCols, K] row-major, level fastest, e.g.
   * layout-prior.ts) instead of `init`. Not serialised: a checkpoint's logits replace them.
   */
  initialLogits?: Float32Array;
}

/**
 * Rescales per-pixel level probabilities q [..., K] (levels ordered as `bits`, descending, bits[0] =
 * native, bits[K−1] = lowest) so the mean expected bits equal budgetBits; returns the same shape.
 * `weights` (q's shape without K, sum 1): the mean is weighted (cells covering unequal pixel counts).
 */
export function rescaleToBitBudget(q: tf.Tensor, bits: number[], budgetBits: number, weights?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const K = bits.length;
    const native = bits[0]!;
    const lowest = bits[K - 1]!;
    const bitsT = tf.tensor1d(bits);
    const perCell = tf.sum(tf.mul(q, bitsT), -1);
    const expected = weights ? tf.sum(tf.mul(perCell, weights)) : accurateMean(perCell);
    const oneHot = (k: number) => tf.oneHot(tf.tensor1d([k], 'int32'), K).reshape([K]);
    const alphaDown = tf.div(tf.sub(expected, budgetBits), tf.maximum(tf.sub(expected, lowest), 1e-6));
    const alphaUp = tf.div(tf.sub(budgetBits, expected), tf.maximum(tf.sub(native, expected), 1e-6));
    const down = tf.add(tf.mul(tf.sub(1, alphaDown), q), tf.mul(alphaDown, oneHot(K - 1)));
    const up = tf.add(tf.mul(tf.sub(1, alphaUp), q), tf.mul(alphaUp, oneHot(0)));
    const useDown = tf.step(tf.sub(expected, budgetBits));
    return tf.add(tf.mul(useDown, down), tf.mul(tf.sub(1, useDown), up));
  });
}

/**
 * Gumbel-softmax sample: softmax((log q + g) / T).
 * q: [..., K] probabilities (broadcastable to g), g: Gumbel noise −log(−log u) → shape of g, rows sum to 1.
 */
export function gumbelSoftmax(q: tf.Tensor, g: tf.Tensor, temperature: number): tf.Tensor {
  return tf.tidy(() => {
    const logits = tf.div(tf.add(tf.log(tf.clipByValue(q, 1e-12, 1)), g), temperature);
    return tf.softmax(logits);
  });
}

export class MultiLevelQuantization extends ReadoutQuantizationLayer {
  static className = 'MultiLevelQuantization';

  readonly modes: number[];
  readonly budgetBits: number;
  /** Bits of each level: [nativeBits, ...modes]. */
  readonly levelBits: number[];
  private readonly givenLogits: Float32Array | undefined;

  constructor(config: MultiLevelConfig & LayerArgs) {
    super(config);
    this.modes = [...config.modes];
    this.budgetBits = config.budgetBits;
    this.levelBits = [this.nativeBits, ...this.modes];
    const values = this.cellShape[0] * this.cellShape[1] * this.levelBits.length;
    if (config.initialLogits && config.initialLogits.length !== values) {
      throw new RangeError(`initialLogits has ${config.initialLogits.length} values, the layout has ${values} (cells × levels)`);
    }
    this.givenLogits = config.initialLogits && Float32Array.from(config.initialLogits);
    if (this.modes.length === 0) throw new RangeError('MultiLevelQuantization needs at least one reduced mode');
    for (let k = 1; k < this.levelBits.length; k++) {
      if (!(this.levelBits[k]! < this.levelBits[k - 1]!) || this.levelBits[k]! < 1) {
        throw new RangeError(`modes must be descending, ≥ 1 and < nativeBits: [${this.modes.join(', ')}] of ${this.nativeBits}`);
      }
    }
    const lowest = this.levelBits[this.levelBits.length - 1]!;
    if (!(this.budgetBits > lowest && this.budgetBits < this.nativeBits)) {
      throw new RangeError(`budgetBits must be in (${lowest}, ${this.nativeBits}), got ${this.budgetBits}`);
    }
  }

  get levelCount(): number {
    return this.levelBits.length;
  }

  get noiseDrawsPerImage(): number {
    return this.cellShape[0] * this.cellShape[1] * this.levelCount;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const K = this.levelCount;
    const [cellRows, cellCols] = this.cellShape;
    let w = this.givenLogits;
    if (!w) {
      const rng = new Rng(this.seed);
      w = new Float32Array(cellRows * cellCols * K);
      for (let i = 0; i < w.length; i++) {
        // `loupe`: wide uniform logits (level probabilities spread over (0, 1)); `small`: near uniform.
        const half = this.init === 'small' ? this.initScale : 4 / this.slope;
        w[i] = rng.uniform(-half, half);
      }
    }
    this.buildLogits(inputShape, [cellRows, cellCols, K], w);
  }

  /** Rescaled level probabilities per cell q̃: [cellRows, cellCols, K]; pixel-weighted expected bits = budgetBits. */
  cellProbabilityTensor(): tf.Tensor3D {
    const logits = this.builtLogits();
    return tf.tidy(() => {
      const weights = this.cellWeights ? tf.tensor2d(this.cellWeights, this.cellShape) : undefined;
      return rescaleToBitBudget(tf.softmax(tf.mul(logits.read(), this.slope)), this.levelBits, this.budgetBits, weights);
    }) as tf.Tensor3D;
  }

  /** Rescaled level probabilities q̃: [rows, cols, K], expected bits per pixel = budgetBits. */
  probabilityTensor(): tf.Tensor3D {
    if (isPerPixel(this.geometry)) return this.cellProbabilityTensor();
    return tf.tidy(() => {
      const cells = tf.reshape(this.cellProbabilityTensor(), [1, ...this.cellShape, this.levelCount]) as tf.Tensor4D;
      return tf.reshape(expandCells(cells, this.geometry), [this.rows, this.cols, this.levelCount]) as tf.Tensor3D;
    });
  }

  override meanEntropy(): tf.Scalar {
    return tf.tidy(() => meanCategoricalEntropy(this.probabilityTensor()));
  }

  /** q̃ row-major [rows·cols, K] (level index fastest). */
  async levelProbabilities(): Promise<Float32Array> {
    return readAndDispose(this.probabilityTensor());
  }

  /** Expected bits per pixel under q̃, row-major rows×cols; its mean equals budgetBits. */
  async expectedBitsMap(): Promise<Float32Array> {
    const q = await this.levelProbabilities();
    const K = this.levelCount;
    const out = new Float32Array(this.rows * this.cols);
    for (let i = 0; i < out.length; i++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += q[i * K + k]! * this.levelBits[k]!;
      out[i] = s;
    }
    return out;
  }

  /** The hardware layout's level index per pixel (see greedyLevels), row-major. */
  async hardwareLevels(): Promise<Uint8Array> {
    return this.hardwareAssignment();
  }

  /** ADC bits of each pixel in the hardware layout, row-major; mean ≤ budgetBits. */
  async bitsMap(): Promise<Uint8Array> {
    return Uint8Array.from(await this.hardwareLevels(), (k) => this.levelBits[k]!);
  }

  protected override hardwareInput(): tf.Tensor {
    return this.probabilityTensor();
  }

  protected override assignmentFrom(q: Float32Array): Uint8Array {
    return greedyLevels(q, this.levelBits, this.budgetBits);
  }

  /** Level weights y for a batch: [batch or 1, rows, cols, K], each pixel's weights sum to 1. */
  selection(batch: number, mode: MaskMode = this.mode): tf.Tensor4D {
    const K = this.levelCount;
    return tf.tidy(() => {
      if (mode === 'hardware') {
        const levels = this.currentHardwareAssignment();
        return tf.oneHot(tf.tensor1d(Int32Array.from(levels), 'int32'), K).cast('float32').reshape([1, this.rows, this.cols, K]);
      }
      if (mode === 'expected') return tf.reshape(this.probabilityTensor(), [1, this.rows, this.cols, K]) as tf.Tensor4D;
      // One draw per cell and image, expanded to its pixels.
      const q = tf.reshape(this.cellProbabilityTensor(), [1, ...this.cellShape, K]);
      const g = this.sampleNoise([batch, ...this.cellShape, K], 'gumbel');
      const relaxed = expandCells(gumbelSoftmax(q, g, this.temperature) as tf.Tensor4D, this.geometry);
      if (!this.straightThrough) return relaxed;
      const levels = this.currentHardwareAssignment();
      const hard = tf.oneHot(tf.tensor1d(Int32Array.from(levels), 'int32'), K).cast('float32').reshape([1, this.rows, this.cols, K]);
      return straightThroughMask(hard, relaxed) as tf.Tensor4D;
    });
  }

  /**
   * x: [B, rows, cols, C] native counts → same shape, native counts. C > 1 (slices of one volume,
   * 2.5D): every channel is read with the same level selection. kwargs.mode overrides `mode`.
   */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { mode?: MaskMode }): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const mode = kwargs?.mode ?? this.mode;
      const y = this.selection(x.shape[0]!, mode);
      const quantize = mode === 'hardware' ? quantizeCounts : quantizeCountsSTE;
      const levels = [x, ...this.modes.map((b) => quantize(x, this.nativeBits, b, this.rule))];
      if (x.shape[3] === 1) return tf.sum(tf.mul(y, tf.concat(levels, 3)), 3, true);
      // [B, rows, cols, 1, K] selection against [B, rows, cols, C, K] levels, summed over K.
      return tf.sum(tf.mul(tf.expandDims(y, 3), tf.stack(levels, 4)), 4);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...this.readoutConfig(), modes: [...this.modes], budgetBits: this.budgetBits };
  }
}
tf.serialization.registerClass(MultiLevelQuantization);

export function multiLevelQuantization(config: MultiLevelConfig & LayerArgs): MultiLevelQuantization {
  return new MultiLevelQuantization(config);
}
