/**
 * The trainable quantization layer (after LOUPE, Bahadir et al. 2019, `loupe/layers.py`): one
 * logit per detector pixel decides whether that pixel is read with the reduced-precision ADC.
 *
 *   p   = sigmoid(slope · w)                       (ProbMask)
 *   p̃   = rescale(p) so that mean(p̃) = budget      (RescaleProbMap)
 *   m   ~ relaxed Bernoulli(p̃, temperature)        (RandomMask + ThresholdRandomMask, made smooth)
 *   out = m · Q(x) + (1 − m) · x                   Q = hard quantizer, straight-through
 *
 * With a layout family other than `pixel` (layout-family.ts) w holds one logit per cell; p̃ is
 * rescaled so that its mean over the detector's PIXELS is the budget (each cell weighted by the
 * pixels it covers), one relaxed-Bernoulli draw is made per cell and image, and the mask is
 * expanded to the pixels. The hardware layout ranks cells (cellTopCountLayout).
 *
 * Input and output: [B, rows, cols, 1] in native ADC counts.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/rng.js';
import { ReadoutQuantizationLayer, readAndDispose, straightThroughMask, type LayerArgs, type LogitInit, type MaskMode, type ReadoutLayerConfig } from './readout-layer.js';
import { quantizeCounts, quantizeCountsSTE } from './hard.js';
import { accurateMean, pixelsForBudget, topCountLayout } from './budget.js';
import { cellTopCountLayout, expandCells, isPerPixel, meanBinaryEntropy } from './layout-family.js';

export type { LogitInit, MaskMode } from './readout-layer.js';

export interface QuantizationLayerConfig extends ReadoutLayerConfig {
  /** Bits the reduced mode keeps. */
  keptBits: number;
  /** Fraction of pixels read with the reduced mode, in (0, 1). */
  budget: number;
  /**
   * Start from these cell logits (row-major cellRows×cellCols, e.g. layout-prior.ts) instead of
   * `init`. Not serialised: a checkpoint's logits replace them.
   */
  initialLogits?: Float32Array;
}

const PROBABILITY_EPS = 1e-6;

/** Mean of p, or Σ weights·p when cells of unequal size are weighted by their share of the pixels (weights sum to 1). */
function weightedMean(p: tf.Tensor, weights?: tf.Tensor): tf.Scalar {
  return weights ? (tf.sum(tf.mul(p, weights)) as tf.Scalar) : accurateMean(p);
}

/**
 * LOUPE's RescaleProbMap: p (any shape, probabilities) → same shape with mean exactly `budget`.
 * If mean(p) > b: p·b/mean (mix towards 0), else 1 − (1−p)(1−b)/(1−mean) (mix towards 1).
 * The branch is chosen with tf.step arithmetic so gradients flow (tfjs has no gradient for Greater).
 * `weights` (shape of p, sum 1): the mean is Σ weights·p instead (cells covering unequal pixel counts).
 */
export function rescaleToBudget(p: tf.Tensor, budget: number, weights?: tf.Tensor): tf.Tensor {
  return tf.tidy(() => {
    const mean = weightedMean(p, weights);
    const safeMean = tf.clipByValue(mean, 1e-7, 1 - 1e-7);
    const down = tf.mul(p, tf.div(budget, safeMean));
    const up = tf.sub(1, tf.mul(tf.sub(1, p), tf.div(1 - budget, tf.sub(1, safeMean))));
    const useDown = tf.step(tf.sub(mean, budget));
    return tf.add(tf.mul(useDown, down), tf.mul(tf.sub(1, useDown), up));
  });
}

/**
 * Relaxed Bernoulli (binary concrete) sample: sigmoid((logit p + L) / T), L = log u − log(1 − u)
 * logistic noise. p: probabilities, broadcastable to L; result in (0, 1), shape of L.
 */
export function relaxedBernoulli(p: tf.Tensor, logisticNoise: tf.Tensor, temperature: number): tf.Tensor {
  return tf.tidy(() => {
    const pc = tf.clipByValue(p, PROBABILITY_EPS, 1 - PROBABILITY_EPS);
    const logitP = tf.sub(tf.log(pc), tf.log(tf.sub(1, pc)));
    return tf.sigmoid(tf.div(tf.add(logitP, logisticNoise), temperature));
  });
}

/** Settings of the sampled mask: LOUPE's sigmoid slope, the budget and the sampling temperature. */
export interface MaskSampling {
  slope: number;
  budget: number;
  temperature: number;
}

/**
 * The layer's training mask in one step, m = relaxedBernoulli(rescaleToBudget(sigmoid(slope·w)), L),
 * with its gradient in w written out. The rescale is affine in p: p̃ = α·p + β with α, β functions
 * of mean(p) (down: α = b/μ, β = 0; up: α = (1−b)/(1−μ), β = 1 − α), so
 *   ∂/∂p_j = α·g̃_j + α'(μ)/n · Σ_i g̃_i·(p_i − [up]),   g̃ = upstream gradient at p̃.
 * Autodiff of the same composition records ~80 tfjs operations and saves a copy of every
 * intermediate; on WebGPU each costs CPU time to issue (the training step is bound by it).
 * logits [rows, cols], logisticNoise [B, rows, cols, 1] → m [B, rows, cols, 1].
 * `weights` [rows, cols] (sum 1): μ = Σ weights·p, and 1/n above becomes weights_j (cells of a
 * layout family that cover unequal pixel counts; rows, cols are then the cell map's).
 */
export function sampledMask(logits: tf.Tensor2D, logisticNoise: tf.Tensor4D, settings: MaskSampling, weights?: tf.Tensor2D): tf.Tensor4D {
  const { slope, budget, temperature } = settings;
  const [rows, cols] = logits.shape;
  const n = rows * cols;
  const sample = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const w = args[0] as tf.Tensor2D;
    const save = args[1] as tf.GradSaveFunc;
    const p = tf.sigmoid(tf.mul(w, slope));
    const mean = weightedMean(p, weights);
    const safeMean = tf.clipByValue(mean, 1e-7, 1 - 1e-7);
    const isDown = tf.greater(mean, budget);
    const up = tf.cast(tf.logicalNot(isDown), 'float32');
    const oneMinusMean = tf.sub(1, safeMean);
    const alphaDown = tf.div(budget, safeMean);
    const alphaUp = tf.div(1 - budget, oneMinusMean);
    const alpha = tf.where(isDown, alphaDown, alphaUp);
    // dα/dμ / n: down −b/μ², up (1−b)/(1−μ)².
    const alphaPrime = tf.where(isDown, tf.neg(tf.div(alphaDown, safeMean)), tf.div(alphaUp, oneMinusMean));
    const alphaSlope = weights ? tf.mul(alphaPrime, weights) : tf.div(alphaPrime, n);
    const pTilde = tf.add(tf.mul(p, alpha), tf.mul(up, tf.sub(1, alphaUp)));
    const pc = tf.clipByValue(pTilde, PROBABILITY_EPS, 1 - PROBABILITY_EPS);
    const logitP = tf.reshape(tf.sub(tf.log(pc), tf.log(tf.sub(1, pc))), [1, rows, cols, 1]);
    const m = tf.sigmoid(tf.mul(tf.add(logitP, logisticNoise), 1 / temperature));
    save([p, pTilde, m, alpha, alphaSlope, up]);
    return {
      value: m,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sp, sPTilde, sm, sAlpha, sAlphaSlope, sUp] = saved as tf.Tensor[];
        const dz = tf.mul(tf.mul(dy, tf.mul(sm!, tf.sub(1, sm!))), 1 / temperature);
        const dLogitP = tf.reshape(tf.sum(dz, 0), [rows, cols]);
        const spc = tf.clipByValue(sPTilde!, PROBABILITY_EPS, 1 - PROBABILITY_EPS);
        const dPc = tf.div(dLogitP, tf.mul(spc, tf.sub(1, spc)));
        const dPTilde = tf.where(tf.equal(spc, sPTilde!), dPc, tf.zerosLike(dPc));
        const dMean = tf.mul(tf.sum(tf.mul(dPTilde, tf.sub(sp!, sUp!))), sAlphaSlope!);
        const dp = tf.add(tf.mul(dPTilde, sAlpha!), dMean);
        const dw = tf.mul(dp, tf.mul(tf.mul(sp!, tf.sub(1, sp!)), slope));
        return dw;
      },
    };
  });
  // The noise is a constant of the sample (closed over): no gradient is formed for it.
  return sample(logits) as tf.Tensor4D;
}

/** LOUPE's initial probability range: p uniform in (0.01, 0.99). */
export const LOUPE_INIT_P: readonly [number, number] = [0.01, 0.99];

/** Fills a uniform logit init from a seed (row-major rows×cols). */
export function initialLogits(n: number, seed: number, init: LogitInit, initScale: number, slope: number): Float32Array {
  const rng = new Rng(seed);
  const w = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (init === 'small') {
      w[i] = rng.uniform(-initScale, initScale);
    } else {
      // LOUPE: p uniform in (eps, 1 − eps), w = logit(p) / slope.
      const p = rng.uniform(...LOUPE_INIT_P);
      w[i] = Math.log(p / (1 - p)) / slope;
    }
  }
  return w;
}

export class TrainableQuantization extends ReadoutQuantizationLayer {
  static className = 'TrainableQuantization';

  readonly keptBits: number;
  readonly budget: number;
  private readonly givenLogits: Float32Array | undefined;

  constructor(config: QuantizationLayerConfig & LayerArgs) {
    super(config);
    this.keptBits = config.keptBits;
    this.budget = config.budget;
    const cells = this.cellShape[0] * this.cellShape[1];
    if (config.initialLogits && config.initialLogits.length !== cells) {
      throw new RangeError(`initialLogits has ${config.initialLogits.length} values, the layout has ${cells} cells`);
    }
    this.givenLogits = config.initialLogits && Float32Array.from(config.initialLogits);
    if (!(this.budget > 0 && this.budget < 1)) throw new RangeError(`budget must be in (0, 1), got ${this.budget}`);
    if (!(this.keptBits >= 1 && this.keptBits < this.nativeBits)) {
      throw new RangeError(`keptBits must be in [1, nativeBits), got ${this.keptBits} of ${this.nativeBits}`);
    }
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [cellRows, cellCols] = this.cellShape;
    const w = this.givenLogits ?? initialLogits(cellRows * cellCols, this.seed, this.init, this.initScale, this.slope);
    this.buildLogits(inputShape, [cellRows, cellCols], w);
  }

  get noiseDrawsPerImage(): number {
    return this.cellShape[0] * this.cellShape[1];
  }

  /** The cell weights as a tensor, or undefined when the cells are equal in size (plain mean). */
  private cellWeightTensor(): tf.Tensor2D | undefined {
    return this.cellWeights ? tf.tensor2d(this.cellWeights, this.cellShape) : undefined;
  }

  /** Rescaled probability per cell p̃ [cellRows, cellCols]; its pixel-weighted mean is the budget. */
  cellProbabilityTensor(): tf.Tensor2D {
    const logits = this.builtLogits();
    return tf.tidy(() => rescaleToBudget(tf.sigmoid(tf.mul(logits.read(), this.slope)), this.budget, this.cellWeightTensor())) as tf.Tensor2D;
  }

  /** Rescaled probability map p̃ as a tensor [rows, cols] (mean = budget); differentiable in the logits. */
  probabilityTensor(): tf.Tensor2D {
    if (isPerPixel(this.geometry)) return this.cellProbabilityTensor();
    return tf.tidy(() => {
      const cells = tf.reshape(this.cellProbabilityTensor(), [1, ...this.cellShape, 1]) as tf.Tensor4D;
      return tf.reshape(expandCells(cells, this.geometry), [this.rows, this.cols]) as tf.Tensor2D;
    });
  }

  override meanEntropy(): tf.Scalar {
    return tf.tidy(() => meanBinaryEntropy(this.probabilityTensor()));
  }

  /** Rescaled probability p̃ per pixel, row-major rows×cols; its mean equals the budget. */
  async probabilityMap(): Promise<Float32Array> {
    return readAndDispose(this.probabilityTensor());
  }

  /**
   * The detector layout, row-major: 1 on exactly round(budget·n) pixels of highest probability.
   * Ranked by logit (p̃ is monotone in it; the logit also separates probabilities that round to
   * 1 in float32), ties by lower index. Layout families rank cells (cellTopCountLayout): whole
   * cells, and at most one split to meet the count exactly.
   */
  async hardwareLayout(): Promise<Uint8Array> {
    return this.hardwareAssignment();
  }

  /**
   * The hardware layout of the logits the layer was given to start from (a prior,
   * layout-prior.ts), or undefined when it started from its own random init: what training
   * moved is the difference to hardwareLayout().
   */
  startingLayout(): Uint8Array | undefined {
    return this.givenLogits && this.assignmentFrom(this.givenLogits);
  }

  protected override hardwareInput(): tf.Tensor {
    return tf.clone(this.builtLogits().read());
  }

  protected override assignmentFrom(logits: Float32Array): Uint8Array {
    const count = pixelsForBudget(this.budget, this.rows * this.cols);
    return isPerPixel(this.geometry) ? topCountLayout(logits, count) : cellTopCountLayout(logits, this.geometry, count);
  }

  /** The mask m for a batch of `batch` images: [batch or 1, rows, cols, 1], values in [0, 1]. */
  mask(batch: number, mode: MaskMode = this.mode): tf.Tensor4D {
    return tf.tidy(() => {
      if (mode === 'hardware') {
        return tf.tensor4d(Float32Array.from(this.currentHardwareAssignment()), [1, this.rows, this.cols, 1]);
      }
      if (mode === 'expected') return tf.reshape(this.probabilityTensor(), [1, this.rows, this.cols, 1]) as tf.Tensor4D;
      // One draw per cell and image (a cell is one ADC mode switch), expanded to its pixels.
      const noise = this.sampleNoise([batch, ...this.cellShape, 1], 'logistic') as tf.Tensor4D;
      const cells = sampledMask(this.builtLogits().read() as tf.Tensor2D, noise, this, this.cellWeightTensor());
      const relaxed = expandCells(cells, this.geometry);
      if (!this.straightThrough) return relaxed;
      const hard = tf.tensor4d(Float32Array.from(this.currentHardwareAssignment()), [1, this.rows, this.cols, 1]);
      return straightThroughMask(hard, relaxed) as tf.Tensor4D;
    });
  }

  /**
   * x: [B, rows, cols, C] native counts → same shape, native counts. The mask [B or 1, rows, cols, 1]
   * broadcasts over C (2.5D: the k slices of one input are read with one layout). kwargs.mode
   * overrides `mode`.
   */
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: { mode?: MaskMode }): tf.Tensor {
    return tf.tidy(() => {
      const x = Array.isArray(inputs) ? inputs[0]! : inputs;
      const mode = kwargs?.mode ?? this.mode;
      const m = this.mask(x.shape[0]!, mode);
      const q = mode === 'hardware'
        ? quantizeCounts(x, this.nativeBits, this.keptBits, this.rule)
        : quantizeCountsSTE(x, this.nativeBits, this.keptBits, this.rule);
      return tf.add(x, tf.mul(m, tf.sub(q, x)));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...this.readoutConfig(), keptBits: this.keptBits, budget: this.budget };
  }
}
tf.serialization.registerClass(TrainableQuantization);

/** Makes a TrainableQuantization layer (unbuilt; it builds on its first input). */
export function trainableQuantization(config: QuantizationLayerConfig & LayerArgs): TrainableQuantization {
  return new TrainableQuantization(config);
}
