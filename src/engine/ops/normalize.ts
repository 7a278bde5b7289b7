/** Row-wise normalisations shared by the adapters and the classifier. */
import * as tf from '@tensorflow/tfjs';

/** PyTorch nn.LayerNorm's default, which AdaptFormer and LIFT use. */
export const LAYER_NORM_EPS = 1e-5;

/** LayerNorm over the last axis of `x: [n, d]` with `gamma, beta: [d]`. */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = LAYER_NORM_EPS): tf.Tensor2D {
  const mean = tf.mean(x, 1, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), 1, true);
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

/** Each row of `x: [n, d]` divided by its L2 norm (ε keeps a zero row finite). */
export function l2NormalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(x, tf.rsqrt(tf.add(tf.sum(tf.square(x), 1, true), 1e-12)));
}
