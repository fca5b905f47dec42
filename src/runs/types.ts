/**
 * What one training / evaluation run produces, stored as `runs/<id>.json` inside an output
 * folder (src/runs/store.ts reads and writes it). Tables, plots and the report are pure functions of a list of these, so outputs of
 * sharded sweeps merge by concatenating their run lists.
 */
import type { LayoutFamily } from '../config/experiment-config.js';

export type Setup =
  /** Full-precision U-Net, full-precision input. */
  | 'baseline'
  /** Setup (a): every pixel quantized to `keptBits`, fed to the baseline U-Net (no retraining). */
  | 'all-pixels-baseline'
  /** Setup (b): every pixel quantized to `keptBits`, U-Net retrained on it. */
  | 'all-pixels-retrained'
  /** Setup (c): the trainable quantization layer at `budget`, trained jointly. */
  | 'learned'
  /** Control: a random layout with exactly round(budget·n) quantized pixels. */
  | 'random'
  /** Multi-level trainable layout at `budget` expected bits per pixel. */
  | 'multilevel'
  /** Fixed control: ordered dither (Bayer matrix) at `budget`. */
  | 'dither'
  /** Fixed control: blue noise (void-and-cluster), the reduced pixels as evenly spread as the budget allows. */
  | 'blue-noise'
  /** Fixed control: the content heuristic, pixels outside the body in the training images reduced first. */
  | 'content'
  /** Fixed control: the lesion-frequency heuristic, pixels where the training masks hold a lesion least often reduced first. */
  | 'lesion'
  /** A designer's own layout (`--layout FILE`): fixed, no budget; its bits per pixel come from the layout. */
  | 'designer';

/** Every setup, in the order the tables list them. */
export const SETUPS: readonly Setup[] = [
  'baseline', 'all-pixels-baseline', 'all-pixels-retrained', 'learned', 'random', 'multilevel', 'dither', 'blue-noise', 'content', 'lesion', 'designer',
];

/** The fixed layout families a study runs next to the random control at each budget (`--families`). */
export type FixedFamily = 'dither' | 'blue-noise' | 'content' | 'lesion';
export const FIXED_FAMILIES: readonly FixedFamily[] = ['dither', 'blue-noise', 'content', 'lesion'];

/** A setup whose U-Net trains on a fixed layout it did not learn: the random control, the fixed families, a designer's layout. */
export function hasFixedLayout(setup: string): setup is 'random' | FixedFamily | 'designer' {
  return setup === 'random' || setup === 'designer' || (FIXED_FAMILIES as readonly string[]).includes(setup);
}

/** A setup that trains `epochs` (the joint model's length) rather than `baselineEpochs`: every layout arm. */
export function trainsAsLayout(setup: string): boolean {
  return learnsLayout(setup) || hasFixedLayout(setup);
}

/** A setup whose layout is learned jointly with the U-Net (single-mode or multi-level): the arms the report is about. */
export function learnsLayout(setup: string): setup is 'learned' | 'multilevel' {
  return setup === 'learned' || setup === 'multilevel';
}

/** A setup run at a budget: a learned layout, its random control or a fixed family (all train `epochs`, all have a layout). */
export function hasBudget(setup: string): setup is 'learned' | 'multilevel' | 'random' | FixedFamily {
  return learnsLayout(setup) || setup === 'random' || (FIXED_FAMILIES as readonly string[]).includes(setup);
}

/** Dice of one evaluation over the test images. */
export interface DiceSummary {
  /** Discrete Dice per test image (empty mask and empty prediction count as 1). */
  perImage: number[];
  /** Mean of perImage. */
  mean: number;
  /** Dice pooled over all test pixels: 2ΣTP / (2ΣTP + ΣFP + ΣFN). */
  pooled: number;
  /** Share of test images whose prediction is empty. */
  emptyPredictionShare: number;
}

/** 3D Dice over whole volumes: TP / FP / FN summed over each test volume's slices. */
export interface VolumeDiceSummary {
  perVolume: { id: string; dice: number }[];
  /** Mean of perVolume (each volume counts once, whatever its slice count). */
  mean: number;
}

export interface EpochRecord {
  epoch: number;
  loss: number;
  /** Validation Dice (mean per image) after this epoch, if measured. */
  valDice?: number;
  learningRate: number;
  temperature?: number;
  /** True when the layer's layout was fixed during this epoch (only the U-Net trained). */
  layoutFixed?: boolean;
  seconds: number;
}

export interface RunResult {
  /** Unique inside one study/sweep, e.g. `learned-b0.5-s2`; file name of runs/<id>.json. */
  id: string;
  setup: Setup;
  seed: number;
  /** Kept bits of the reduced mode (single-mode setups). */
  keptBits?: number;
  /** Budget: fraction of pixels quantized (learned, random) or expected bits per pixel (multilevel). */
  budget?: number;
  /** Expected stored bits per pixel of the input this run saw (native for baseline). */
  bitsPerPixel: number;
  nativeBits: number;
  /** Evaluation with the hardware layout (or the only input there is, for non-learned setups). */
  dice: DiceSummary;
  /**
   * The same evaluation on the validation images (the test images where there is no validation
   * split): designs are chosen on this, never on `dice`.
   */
  validationDice?: DiceSummary;
  /** The `dice` evaluation per volume (3D Dice over each test volume's lesion); absent in runs recorded before it existed. */
  diceVolume?: VolumeDiceSummary;
  /** Learned setups: evaluation with stochastic (relaxed-Bernoulli) masks. */
  diceStochastic?: DiceSummary;
  /** True when validation predictions were empty (or Dice stayed ~0 though lesions exist): never averaged in silently. */
  collapsed: boolean;
  collapseReason?: string;
  history: EpochRecord[];
  /** The epoch (1-based) whose weights were evaluated, chosen on validation (`keepBestEpoch`); absent: the last. */
  keptEpoch?: number;
  /** Learned setups: rescaled probability per pixel, row-major rows×cols. */
  probabilityMap?: number[];
  /** Learned / random / fixed families / designer: 1 where the pixel is quantized in the hardware layout, row-major. */
  hardwareLayout?: number[];
  /** Multilevel: ADC bits of each pixel in the hardware layout, row-major. */
  bitsMap?: number[];
  /** Learned setups with a layout family other than `pixel` (absent = pixel): the family as configured. */
  layoutFamily?: LayoutFamily;
  /** With layoutFamily: [rows, cols] of the learned cell map. */
  layoutCells?: [number, number];
  /** Learned setups trained with a straight-through hard mask (absent = relaxed). */
  straightThrough?: boolean;
  /** Learned setups whose logits started from a fixed design (`layoutTraining.prior`): the content heuristic (1-bit) or the uniform ADC (multi-level); absent = none. */
  layoutPrior?: 'content' | 'lesion' | 'uniform';
  /** With a content or lesion layoutPrior made hard at the budget (`layoutTraining.priorShape: "hard"`); absent = ranked. */
  layoutPriorShape?: 'hard';
  /** 1-bit learned runs with a content or lesion prior: pixels whose ADC mode in hardwareLayout differs from the layout the prior started at. */
  layoutMovedPixels?: number;
  rows: number;
  cols: number;
  trainSeconds: number;
  backend: string;
  /** Designer runs: the layout file given with `--layout`, as given. */
  layoutFile?: string;
  /** Where this run's model checkpoint is, relative to the output folder. */
  checkpoint?: string;
}
