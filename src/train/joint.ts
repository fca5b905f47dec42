import * as tf from '@tensorflow/tfjs';
import { quantizeCounts } from '../quant/hard.js';
import { TrainableQuantization, type MaskMode } from '../quant/layer.js';
import type { MultiLevelQuantization } from '../quant/multilevel.js';
import type { QuantizerRule } from '../profile/types.js';
import { buildUNet, type UNetConfig } from '../model/unet.js';
import { buildUNet3D, type ContextNetwork } from '../model/unet3d.js';
import { checkNormalisation, normaliseInput, type InputNormalisation } from '../model/input-normalisation.js';
import { EVALUATION_EPOCH, type ChannelDesign, type DetectorReadout, type ReadoutKeys } from '../detector/input-stage.js';
import { checkContextSlices } from '../data/context.js';

/**
 * What happens to the native readout before the U-Net sees it:
 * - `none`: full precision (the baseline);
 * - `all`: every pixel reduced to `keptBits` (setups a and b);
 * - `fixed`: a given 0/1 layout (row-major) reduced to `keptBits` (the random control, a loaded layout);
 * - `fixedBits`: ADC bits per pixel (row-major; native = untouched), the multi-level random control;
 * - `learned`: the trainable quantization layer (setup c);
 * - `multilevel`: the multi-level layer (each pixel picks one of the profile's modes).
 *
 * In detector space (JointModelOptions.detector) the same kinds act on detector channels instead of
 * pixels: `none` = every channel native, `all` = every channel at keptBits, `fixed` = a 0/1 layout
 * over the channels, `learned` = a layer of rows 1 × cols channels; `fixedBits` and `multilevel` are
 * image-space only. Keeping the kinds lets the trainer, the run records and the report treat a
 * channel layout exactly as a pixel layout.
 */
export type InputStage =
  | { kind: 'none' }
  | { kind: 'all'; keptBits: number }
  | { kind: 'fixed'; keptBits: number; layout: Uint8Array }
  | { kind: 'fixedBits'; bitsMap: Uint8Array }
  | { kind: 'learned'; layer: TrainableQuantization }
  | { kind: 'multilevel'; layer: MultiLevelQuantization };

/** The stages with a trainable layer. */
export type LearnedStage = Extract<InputStage, { kind: 'learned' | 'multilevel' }>;
export const hasTrainableLayer = (s: InputStage): s is LearnedStage => s.kind === 'learned' || s.kind === 'multilevel';

export interface JointModelOptions {
  height: number;
  width: number;
  nativeBits: number;
  rule: QuantizerRule;
  stage: InputStage;
  unet: Omit<UNetConfig, 'height' | 'width' | 'seed'>;
  seed: number;
  /** How the readout is scaled after the input stage (default `fixed`: counts / full scale). */
  normalisation?: InputNormalisation;
  /**
   * 2.5D context: k adjacent slices of a volume as the U-Net's input channels (odd; default 1,
   * plain 2D). The input stage reads every channel with the same layout (one detector reads
   * every slice of a scan), so the layout, its budget and its storage per slice are unchanged.
   */
  contextSlices?: number;
  /**
   * The network over the k slices (default `2.5d`: the 2D U-Net with k input channels; `3d`: the
   * 3D U-Net of model/unet3d.ts, which needs k ≥ 3). The input stage is the same for both.
   */
  contextNetwork?: ContextNetwork;
  /**
   * Detector space: the images are clean data counts, read by this detector, reconstructed and
   * scaled by it (src/detector/input-stage.ts); `normalisation` does not apply. The model does not own it.
   */
  detector?: DetectorReadout;
}

/** Options of a forward pass. */
export interface ForwardOptions {
  training: boolean;
  mode: MaskMode;
  /** Detector space: the noise keys of the batch (default: evaluation noise keyed by batch position); the seed is the model's. */
  readout?: Omit<ReadoutKeys, 'seed'>;
}

/**
 * Input stage → normalisation (default counts / (2^nativeBits − 1)) → U-Net → lesion probability.
 * Counts in [B,H,W,1] native ADC units; output [B,H,W,1] probabilities.
 */
export class JointModel {
  readonly unet: tf.LayersModel;
  readonly stage: InputStage;
  private readonly fixedMask: tf.Tensor4D | null;
  /** fixedBits: one 0/1 mask [1,H,W,1] per reduced bit depth present. */
  private readonly bitMasks: { keptBits: number; mask: tf.Tensor4D }[];
  private readonly scale: number;
  private readonly ownsUnet: boolean;
  /** k: slices per input (channels of the counts); 1 for a 2D model. */
  readonly contextSlices: number;

  /** `unet`: an already trained U-Net to feed through this stage (setup a); it stays owned by its first model. */
  constructor(readonly options: JointModelOptions, unet?: tf.LayersModel) {
    this.stage = options.stage;
    this.scale = 1 / (2 ** options.nativeBits - 1);
    this.ownsUnet = unet === undefined;
    if (options.normalisation) checkNormalisation(options.normalisation, options.nativeBits);
    const k = checkContextSlices(options.contextSlices ?? 1);
    this.contextSlices = k;
    const network = options.contextNetwork ?? '2.5d';
    if (network !== '2.5d' && network !== '3d') throw new RangeError(`context network must be 2.5d or 3d, got ${String(network)}`);
    if (network === '3d' && k < 3) throw new RangeError(`the 3d network needs context slices ≥ 3, got ${k}`);
    // Only a 2.5D model names its channels, so a 2D U-Net is built exactly as before.
    const unetConfig = { ...options.unet, height: options.height, width: options.width, seed: options.seed, ...(k > 1 ? { inputChannels: k } : {}) };
    this.unet = unet ?? (network === '3d' ? buildUNet3D(unetConfig) : buildUNet(unetConfig));
    const detector = options.detector;
    if (detector && (options.stage.kind === 'fixedBits' || options.stage.kind === 'multilevel'))
      throw new RangeError(`input stage ${options.stage.kind} is image-space only (detector space has one reduced mode per channel)`);
    if (detector && options.stage.kind === 'fixed' && options.stage.layout.length !== detector.channels)
      throw new RangeError(`channel layout: expected ${detector.channels} channels, got ${options.stage.layout.length}`);
    if (detector && k > 1) throw new RangeError('2.5D context (contextSlices > 1) is image-space only: detector space reads one slice');
    this.fixedMask =
      options.stage.kind === 'fixed' && detector
        ? (tf.tensor1d(Float32Array.from(options.stage.layout)) as unknown as tf.Tensor4D)
        : options.stage.kind === 'fixed'
        ? tf.tensor4d(Float32Array.from(options.stage.layout), [1, options.height, options.width, 1])
        : null;
    const stage = options.stage;
    this.bitMasks =
      stage.kind === 'fixedBits'
        ? [...new Set(stage.bitsMap)]
            .filter((bits) => bits < options.nativeBits)
            .map((keptBits) => ({
              keptBits,
              mask: tf.tensor4d(Float32Array.from(stage.bitsMap, (b) => (b === keptBits ? 1 : 0)), [1, options.height, options.width, 1]),
            }))
        : [];
    if (hasTrainableLayer(options.stage)) {
      // Build the layer so its logits exist before training starts.
      const shape = detector ? [1, 1, detector.channels, 1] : [1, options.height, options.width, 1];
      tf.tidy(() => {
        (options.stage as LearnedStage).layer.apply(tf.zeros(shape), { mode: 'expected' });
      });
    }
  }

  /**
   * The quantized (or untouched) readout [B,H,W,k] native counts, as the U-Net's input stage
   * makes it: every one of the k slices with the same layout (masks [1 or B,H,W,1] broadcast
   * over the channels; a sampled training mask is one draw per image, shared by its k slices).
   */
  applyStage(counts: tf.Tensor4D, mode: MaskMode): tf.Tensor4D {
    const stage = this.stage;
    const { nativeBits, rule } = this.options;
    switch (stage.kind) {
      case 'none':
        return counts;
      case 'all':
        return quantizeCounts(counts, nativeBits, stage.keptBits, rule) as tf.Tensor4D;
      case 'fixed':
        return tf.tidy(() => {
          const q = quantizeCounts(counts, nativeBits, stage.keptBits, rule);
          return tf.add(counts, tf.mul(this.fixedMask!, tf.sub(q, counts))) as tf.Tensor4D;
        });
      case 'fixedBits':
        return tf.tidy(() =>
          this.bitMasks.reduce(
            (acc, { keptBits, mask }) => tf.add(acc, tf.mul(mask, tf.sub(quantizeCounts(counts, nativeBits, keptBits, rule), counts))),
            counts as tf.Tensor,
          ),
        ) as tf.Tensor4D;
      case 'learned':
      case 'multilevel':
        return stage.layer.apply(counts, { mode }) as tf.Tensor4D;
    }
  }

  /** Detector space: which channels this stage reads at reduced precision (the mask in `mode`). */
  channelDesign(batch: number, mode: MaskMode): ChannelDesign {
    const stage = this.stage;
    switch (stage.kind) {
      case 'none':
        return { kind: 'native' };
      case 'all':
        return { kind: 'all', keptBits: stage.keptBits };
      case 'fixed':
        return { kind: 'mask', keptBits: stage.keptBits, mask: this.fixedMask as unknown as tf.Tensor1D };
      case 'learned': {
        const m = stage.layer.mask(batch, mode); // [B or 1, 1, channels, 1]
        const channels = m.shape[2];
        const mask = m.shape[0] === 1 ? tf.reshape(m, [channels]) : tf.reshape(m, [m.shape[0], channels]);
        return { kind: 'mask', keptBits: stage.layer.keptBits, mask: mask as tf.Tensor1D | tf.Tensor2D };
      }
      default:
        throw new RangeError(`input stage ${stage.kind} is image-space only`);
    }
  }

  /** Probabilities [B,H,W,1] (centre slice) for counts [B,H,W,k]; `training` switches normalisation layers to batch statistics. */
  forward(counts: tf.Tensor4D, opts: ForwardOptions): tf.Tensor4D {
    const detector = this.options.detector;
    if (detector) {
      return tf.tidy(() => {
        const batch = counts.shape[0];
        const keys = { seed: this.options.seed, ...(opts.readout ?? { epoch: EVALUATION_EPOCH, indices: Array.from({ length: batch }, (_, i) => i) }) };
        const x = detector.unetInput(counts, this.channelDesign(batch, opts.mode), keys);
        return this.unet.apply(x, { training: opts.training }) as tf.Tensor4D;
      });
    }
    return tf.tidy(() => {
      const stageOut = this.applyStage(counts, opts.mode);
      const norm = this.options.normalisation;
      const x = !norm || norm.kind === 'fixed' ? tf.mul(stageOut, this.scale) : normaliseInput(stageOut, norm, this.options.nativeBits);
      return this.unet.apply(x, { training: opts.training }) as tf.Tensor4D;
    });
  }

  /** Variables the optimiser updates (U-Net weights, and the layer's logits when learned). */
  trainableVariables(): tf.Variable[] {
    const ws = [...this.unet.trainableWeights];
    if (hasTrainableLayer(this.stage)) ws.push(...this.stage.layer.trainableWeights);
    return ws.map((w) => w.read() as tf.Variable);
  }

  /** Every variable that is model state (adds normalisation statistics): what a checkpoint holds. */
  stateVariables(): { name: string; variable: tf.Variable }[] {
    const ws = [...this.unet.weights];
    if (hasTrainableLayer(this.stage)) ws.push(...this.stage.layer.weights);
    // Named by position: tfjs gives layers process-wide unique names, which differ between runs.
    return ws.map((w, i) => ({ name: `state:${i}`, variable: w.read() as tf.Variable }));
  }

  dispose(): void {
    if (this.ownsUnet) this.unet.dispose();
    this.fixedMask?.dispose();
    for (const b of this.bitMasks) b.mask.dispose();
    if (hasTrainableLayer(this.stage)) this.stage.layer.dispose();
  }
}
