/** Cross-entropy on adjusted logits, and FIT's four-term loss (Eq. 24). */
import * as tf from '@tensorflow/tfjs';

/**
 * Σ over the batch of CE(z + adjustment) for `logits: [n, C]`, `oneHot: [n, C]`,
 * `adjustment: [C]`. A sum, not a mean, so micro-batches add up to the batch's total.
 */
export function adjustedCrossEntropySum(logits: tf.Tensor2D, oneHot: tf.Tensor2D, adjustment: tf.Tensor1D): tf.Scalar {
  const logProbs = tf.logSoftmax(tf.add(logits, adjustment));
  return tf.neg(tf.sum(tf.mul(oneHot, logProbs))) as tf.Scalar;
}

export interface FitLossWeights {
  lambda1: number;
  lambda2: number;
  lambda3: number;
}

/** ℓ(z) + λ1 ℓ(z^v) + λ2 ℓ(z^t) + λ3 ℓ(ẑ), each ℓ the same adjusted CE. */
export function fitLossSum(
  logits: { z: tf.Tensor2D; zVisual: tf.Tensor2D; zText: tf.Tensor2D; zFused: tf.Tensor2D },
  oneHot: tf.Tensor2D,
  adjustment: tf.Tensor1D,
  weights: FitLossWeights,
): tf.Scalar {
  const term = (z: tf.Tensor2D) => adjustedCrossEntropySum(z, oneHot, adjustment);
  return tf.addN([
    term(logits.z),
    tf.mul(weights.lambda1, term(logits.zVisual)),
    tf.mul(weights.lambda2, term(logits.zText)),
    tf.mul(weights.lambda3, term(logits.zFused)),
  ]) as tf.Scalar;
}
