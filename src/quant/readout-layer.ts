/**
 * What the trainable quantization layers share: a logit tensor over the cells of the layout family
 * (one cell per pixel by default, see layout-family.ts) of the detector's rows × cols readout, the
 * sampling temperature and noise, the mask mode, the straight-through option, the layout penalties,
 * the shape check and the serialised settings. TrainableQuantization (one reduced mode) and MultiLevelQuantization (several)
 * add only their probability maps, sampling and quantizers.
 */
import * as tf from '@tensorflow/tfjs';
import type { QuantizerRule } from '../profile/types.js';
import { noiseKeyFromSeed, noiseTensor, type NoiseKey, type NoiseTransform } from './noise.js';
import { cellGeometry, cellsEqualInSize, pixelsPerCell, PIXEL_FAMILY, totalVariation, type CellGeometry, type LayoutFamily } from './layout-family.js';

/**
 * How the selection mask is formed when the layer runs:
 * - `stochastic`: a relaxed-Bernoulli sample per image (training; the "stochastic" evaluation);
 * - `hardware`: the one layout a built detector has, exactly round(budget·n) pixels of highest probability;
 * - `expected`: m = p̃ (deterministic soft mask; for diagnostics).
 */
export type MaskMode = 'stochastic' | 'hardware' | 'expected';

/** How the logits start: `small` = uniform in ±initScale (p ≈ ½ everywhere); `loupe` = p uniform in (0, 1) as LOUPE. */
export type LogitInit = 'small' | 'loupe';

/** Settings common to both layers. */
export interface ReadoutLayerConfig {
  rows: number;
  cols: number;
  nativeBits: number;
  rule: QuantizerRule;
  /** p = sigmoid(slope·w) (softmax for several levels); LOUPE's default 5. */
  slope?: number;
  /** Relaxed-sampling temperature (lower = closer to binary); annealed with setTemperature. */
  temperature?: number;
  /** Seeds the logit init and the sampling noise. */
  seed: number;
  init?: LogitInit;
  /** Half-width of the `small` logit init. */
  initScale?: number;
  mode?: MaskMode;
  /** Which pixels share a logit (default `pixel`: one logit per pixel). */
  layout?: LayoutFamily;
  /**
   * Straight-through hard mask: in the `stochastic` mode the forward pass uses the hardware layout
   * of the current logits and the gradient is that of the relaxed sample (default false).
   */
  straightThrough?: boolean;
}

/** Weights of the layout penalties added to the training loss (0 = off). */
export interface LayoutPenaltyWeights {
  /** λ of λ·mean entropy of the probability map (nats): pushes probabilities towards 0 and 1. */
  entropy: number;
  /** λ of λ·totalVariation(logits) (logit units per pixel): a spatially smooth map. */
  totalVariation: number;
}

export type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/** Throws unless a layer input shape is [B, rows, cols, 1] (one readout value per detector pixel). */
export function checkReadoutShape(inputShape: tf.Shape | tf.Shape[], rows: number, cols: number, layer: string): void {
  const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  if (shape.length !== 4 || shape[1] !== rows || shape[2] !== cols || shape[3] !== 1) {
    throw new Error(`${layer} expects [B, ${rows}, ${cols}, 1], got [${shape.join(', ')}]`);
  }
}

/** A tensor's values on the host (asynchronous: webgpu in Node cannot read synchronously); frees the tensor. */
export async function readAndDispose(t: tf.Tensor): Promise<Float32Array> {
  try {
    return Float32Array.from((await t.data()) as Float32Array);
  } finally {
    t.dispose();
  }
}

/** A relaxed-sampling temperature, checked: > 0. */
export function checkTemperature(t: number): number {
  if (!(t > 0)) throw new RangeError(`temperature must be > 0, got ${t}`);
  return t;
}

/**
 * Forward = hard, backward = identity to `relaxed` (m = hard + relaxed − stop_gradient(relaxed),
 * with the value exactly `hard`). hard broadcastable to relaxed; result has relaxed's shape.
 */
export function straightThroughMask(hard: tf.Tensor, relaxed: tf.Tensor): tf.Tensor {
  const ste = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const r = args[0] as tf.Tensor;
    return { value: tf.add(tf.zerosLike(r), hard), gradFunc: (dy: tf.Tensor) => dy };
  });
  return ste(relaxed) as tf.Tensor;
}

/** The seed of a layer's evaluation noise stream: unrelated to its training streams (trainer.ts stepNoiseSeed). */
export function evaluationNoiseSeed(layerSeed: number): number {
  return (Math.imul(layerSeed ^ 0x2545f491, 0x9e3779b1) ^ 0x6a09e667) >>> 0;
}

/** The shared shell; subclasses build `logits` with buildLogits and draw noise with sampleNoise. */
export abstract class ReadoutQuantizationLayer extends tf.layers.Layer {
  readonly rows: number;
  readonly cols: number;
  readonly nativeBits: number;
  readonly rule: QuantizerRule;
  readonly slope: number;
  readonly seed: number;
  readonly init: LogitInit;
  readonly initScale: number;
  temperature: number;
  mode: MaskMode;
  readonly layout: LayoutFamily;
  readonly geometry: CellGeometry;
  readonly straightThrough: boolean;
  /** Share of the detector's pixels each cell covers (row-major over cells), or null when all are equal. */
  protected readonly cellWeights: Float32Array | null;
  protected logits: tf.LayerVariable | null = null;
  private noiseKey: NoiseKey;
  /** Draws of the current stream used so far (the next draw's index). */
  private noiseUsed = 0;
  private pinnedHardware: Uint8Array | null = null;

  constructor(config: ReadoutLayerConfig & LayerArgs) {
    super(config);
    this.rows = config.rows;
    this.cols = config.cols;
    this.nativeBits = config.nativeBits;
    this.rule = config.rule;
    this.slope = config.slope ?? 5;
    this.temperature = checkTemperature(config.temperature ?? 0.5);
    this.seed = config.seed;
    this.init = config.init ?? 'small';
    this.initScale = config.initScale ?? 0.05;
    this.mode = config.mode ?? 'stochastic';
    this.noiseKey = noiseKeyFromSeed(this.seed);
    this.layout = config.layout ?? PIXEL_FAMILY;
    this.geometry = cellGeometry(this.layout, this.rows, this.cols);
    this.straightThrough = config.straightThrough ?? false;
    const n = this.rows * this.cols;
    this.cellWeights = cellsEqualInSize(this.geometry) ? null : pixelsPerCell(this.geometry).map((v) => v / n);
  }

  /** [cellRows, cellCols]: the shape of the learned map (rows, cols for the `pixel` family). */
  get cellShape(): [number, number] {
    return [this.geometry.cellRows, this.geometry.cellCols];
  }

  /** Mean entropy of the layer's probability map (nats), differentiable in the logits. */
  abstract meanEntropy(): tf.Scalar;

  /** λ_H·meanEntropy + λ_TV·totalVariation(logits): the layout's share of the training loss. */
  layoutPenalty(weights: LayoutPenaltyWeights): tf.Scalar {
    return tf.tidy(() => {
      let penalty = tf.scalar(0);
      if (weights.entropy) penalty = tf.add(penalty, tf.mul(this.meanEntropy(), weights.entropy));
      if (weights.totalVariation) penalty = tf.add(penalty, tf.mul(totalVariation(this.builtLogits().read()), weights.totalVariation));
      return penalty as tf.Scalar;
    });
  }

  /** Checks the input shape and creates the trainable logits with the given initial values. */
  protected buildLogits(inputShape: tf.Shape | tf.Shape[], shape: number[], values: Float32Array): void {
    checkReadoutShape(inputShape, this.rows, this.cols, this.getClassName());
    this.logits = this.addWeight('logits', shape, 'float32', tf.initializers.zeros(), undefined, true);
    tf.tidy(() => {
      this.logits!.write(tf.tensor(values, shape));
    });
    this.built = true;
  }

  /**
   * Reads the hardware assignment (layout, or level per pixel) back to the host once and uses it
   * for the 'hardware' mode until unpinHardware. Backends without synchronous reads (webgpu in
   * Node) need this before a hardware-mode forward pass; the logits must not change while pinned.
   */
  async pinHardware(): Promise<void> {
    this.pinnedHardware = await this.hardwareAssignment();
  }

  unpinHardware(): void {
    this.pinnedHardware = null;
  }

  /** The hardware assignment, row-major rows×cols, read back asynchronously (works on every backend). */
  protected async hardwareAssignment(): Promise<Uint8Array> {
    return this.assignmentFrom(await readAndDispose(this.hardwareInput()));
  }

  /** The assignment mask('hardware') uses: the pinned one, else read synchronously (cpu, wasm, tensorflow). */
  protected currentHardwareAssignment(): Uint8Array {
    if (this.pinnedHardware) return this.pinnedHardware;
    const input = this.hardwareInput();
    try {
      return this.assignmentFrom(input.dataSync() as Float32Array);
    } finally {
      input.dispose();
    }
  }

  /** A new tensor holding what the hardware assignment is computed from (disposed by the caller). */
  protected abstract hardwareInput(): tf.Tensor;

  /** The hardware assignment from the host values of hardwareInput(). */
  protected abstract assignmentFrom(values: Float32Array): Uint8Array;

  /** The logits, or an error naming the layer when it has not seen an input yet. */
  protected builtLogits(): tf.LayerVariable {
    if (!this.logits) throw new Error(`${this.getClassName()} is not built yet`);
    return this.logits;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape | tf.Shape[] {
    return inputShape;
  }

  /** Sets the relaxed-sampling temperature (annealing schedule). */
  setTemperature(t: number): void {
    this.temperature = checkTemperature(t);
  }

  /** Restarts the sampling noise (same seed → same masks again), optionally at draw `start` of the stream. */
  resetNoise(seed = this.seed, start = 0): void {
    this.noiseKey = noiseKeyFromSeed(seed);
    this.noiseUsed = start;
  }

  /** Noise draws one image's mask takes in the stochastic mode (one per cell, per level for multi-level). */
  abstract get noiseDrawsPerImage(): number;

  /**
   * Positions the noise at image `imageIndex` of the layer's evaluation stream, so a stochastic
   * evaluation is a pure function of (layer seed, image index): the same for a freshly trained
   * layer and one restored from its checkpoint, whatever noise training used last. Images that
   * follow in one batch take the next draws, i.e. those of the next image indices.
   */
  startEvaluationNoise(imageIndex: number): void {
    this.resetNoise(evaluationNoiseSeed(this.seed), imageIndex * this.noiseDrawsPerImage);
  }

  /** The next draws of the sampling noise as a tensor of `shape` (see noise.ts). */
  protected sampleNoise(shape: number[], transform: NoiseTransform): tf.Tensor {
    const noise = noiseTensor(this.noiseKey, this.noiseUsed, shape, transform);
    this.noiseUsed += noise.size;
    return noise;
  }

  /** The serialised settings both layers have. */
  protected readoutConfig(): tf.serialization.ConfigDict {
    return {
      rows: this.rows,
      cols: this.cols,
      nativeBits: this.nativeBits,
      rule: this.rule,
      slope: this.slope,
      temperature: this.temperature,
      seed: this.seed,
      init: this.init,
      initScale: this.initScale,
      mode: this.mode,
      // Only when set, so the saved topology of a default layer stays as it was.
      ...(this.layout.family !== 'pixel' ? { layout: { ...this.layout } } : {}),
      ...(this.straightThrough ? { straightThrough: true } : {}),
    };
  }
}
