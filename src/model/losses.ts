/**
 * Segmentation losses as pure functions of tensors (the functional core of
 * segmentation_models.pytorch `losses/_functional.py`; MONAI `DiceLoss` for the reduction options).
 * All take yTrue, yPred: [B, H, W, 1]; yTrue binary {0, 1}, yPred probabilities in [0, 1].
 */
import * as tf from '@tensorflow/tfjs';

export interface DiceOptions {
  /**
   * true: Dice per image, then the mean over the batch (each image weighs the same; an image with an
   * empty mask and an empty prediction scores ≈ 1 thanks to eps);
   * false: one Dice over all pixels of the batch (large lesions dominate; empty images barely count).
   */
  perImage: boolean;
  /** Added to numerator and denominator (smoothing); also decides the empty-empty case (→ 1). */
  eps?: number;
}

function checkShapes(yTrue: tf.Tensor, yPred: tf.Tensor, fn: string): void {
  if (yTrue.rank !== 4 || yPred.rank !== 4 || yTrue.shape.join() !== yPred.shape.join()) {
    throw new Error(`${fn}: yTrue and yPred must both be [B, H, W, 1], got [${yTrue.shape}] and [${yPred.shape}]`);
  }
}

/**
 * Continuous (soft) Dice, (2·Σ t·p + eps) / (Σ t + Σ p + eps) ∈ [0, 1]: yTrue, yPred [B, H, W, 1] → scalar.
 */
export function softDice(yTrue: tf.Tensor, yPred: tf.Tensor, options: DiceOptions): tf.Scalar {
  checkShapes(yTrue, yPred, 'softDice');
  const eps = options.eps ?? 1;
  return tf.tidy(() => {
    const axes = options.perImage ? [1, 2, 3] : [0, 1, 2, 3];
    const intersection = tf.sum(tf.mul(yTrue, yPred), axes);
    const cardinality = tf.add(tf.sum(yTrue, axes), tf.sum(yPred, axes));
    const dice = tf.div(tf.add(tf.mul(intersection, 2), eps), tf.add(cardinality, eps));
    return tf.mean(dice) as tf.Scalar;
  });
}

/**
 * Mean binary cross-entropy, −[t·log p + (1−t)·log(1−p)], p clipped to [eps, 1 − eps]:
 * yTrue, yPred [B, H, W, 1] → scalar (nats per pixel).
 */
export function binaryCrossEntropy(yTrue: tf.Tensor, yPred: tf.Tensor, eps = 1e-7): tf.Scalar {
  checkShapes(yTrue, yPred, 'binaryCrossEntropy');
  return tf.tidy(() => {
    const p = tf.clipByValue(yPred, eps, 1 - eps);
    const ll = tf.add(tf.mul(yTrue, tf.log(p)), tf.mul(tf.sub(1, yTrue), tf.log(tf.sub(1, p))));
    return tf.neg(tf.mean(ll)) as tf.Scalar;
  });
}

/** The training objective (1 − softDice) + BCE: yTrue, yPred [B, H, W, 1] → scalar. */
export function diceBceLoss(yTrue: tf.Tensor, yPred: tf.Tensor, options: DiceOptions): tf.Scalar {
  return tf.tidy(() => tf.add(tf.sub(1, softDice(yTrue, yPred, options)), binaryCrossEntropy(yTrue, yPred)) as tf.Scalar);
}
