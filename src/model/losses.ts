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
/** The clip of binaryCrossEntropy's probabilities (its default eps). */
const BCE_EPS = 1e-7;

/**
 * L = (1 − softDice) + binaryCrossEntropy, the training loss, with its gradient in yPred written out
 * (yTrue is a constant). Autodiff of the composition runs ~35 small tensor ops backwards; this runs
 * 17, which matters where each op costs a GPU dispatch (tfjs webgpu spends ~0.2 ms of CPU per op).
 *   dL/dp_i = −(1/G)·(2·y_i/den_g − num_g/den_g²)                  (Dice of group g ∋ i; G groups)
 *           + (1/n)·((1 − y_i)/(1 − pc_i) − y_i/pc_i)·[eps ≤ p_i ≤ 1 − eps]   (BCE, n pixels)
 * with num_g = 2·Σ y·p + eps, den_g = Σ y + Σ p + eps, pc = clip(p, eps, 1 − eps); groups are the
 * images (perImage) or the whole batch. test/model-losses-metrics.test.ts checks it against autodiff.
 */
export function diceBceLoss(yTrue: tf.Tensor, yPred: tf.Tensor, options: DiceOptions): tf.Scalar {
  checkShapes(yTrue, yPred, 'diceBceLoss');
  const eps = options.eps ?? 1;
  const axes = options.perImage ? [1, 2, 3] : [0, 1, 2, 3];
  const groups = options.perImage ? yPred.shape[0]! : 1;
  const groupShape = options.perImage ? [groups, 1, 1, 1] : [1, 1, 1, 1];
  const n = yPred.size;
  const loss = tf.customGrad(((p: tf.Tensor, save: tf.GradSaveFunc) => {
    const num = tf.add(tf.mul(tf.sum(tf.mul(yTrue, p), axes), 2), eps);
    const den = tf.add(tf.add(tf.sum(yTrue, axes), tf.sum(p, axes)), eps);
    const dice = tf.mean(tf.div(num, den));
    const pc = tf.clipByValue(p, BCE_EPS, 1 - BCE_EPS);
    const ll = tf.add(tf.mul(yTrue, tf.log(pc)), tf.mul(tf.sub(1, yTrue), tf.log(tf.sub(1, pc))));
    save([p, pc, num, den]);
    return {
      value: tf.add(tf.sub(1, dice), tf.neg(tf.mean(ll))) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [pS, pcS, numS, denS] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const a = tf.reshape(tf.div(-2 / groups, denS), groupShape);
        const b = tf.reshape(tf.div(numS, tf.mul(tf.square(denS), groups)), groupShape);
        const diceGrad = tf.add(tf.mul(yTrue, a), b);
        const bce = tf.mul(tf.sub(tf.div(tf.sub(1, yTrue), tf.sub(1, pcS)), tf.div(yTrue, pcS)), 1 / n);
        // Where the clip is active its gradient is 0 (as tf.clipByValue's: p inside [eps, 1 − eps]).
        const bceGrad = tf.mul(bce, tf.cast(tf.equal(pcS, pS), 'float32'));
        return tf.mul(tf.add(diceGrad, bceGrad), dy);
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad<tf.Scalar>>[0]);
  return loss(yPred) as tf.Scalar;
}
