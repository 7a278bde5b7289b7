/**
 * FIT (Eq. 23): mixes the fine-tuned (f, W) and zero-shot (f^zs, W^zs) features.
 * z = 25 cos(W, f), z^v = 25 cos(W, f^zs), z^t = 25 cos(W^zs, f), ẑ = z + s1 z^v + s2 z^t.
 */
import * as tf from '@tensorflow/tfjs';
import { cosineLogitsNormalized } from './classifier';
import { l2NormalizeRows } from './ops/normalize';

export interface FitLogits {
  z: tf.Tensor2D;
  zVisual: tf.Tensor2D;
  zText: tf.Tensor2D;
  zFused: tf.Tensor2D;
}

export function fitLogits(parts: {
  features: tf.Tensor2D;
  zeroShotFeatures: tf.Tensor2D;
  weights: tf.Tensor2D;
  /** W^zs already row-normalised and transposed, `[d, C]` (frozen). */
  zeroShotWeightsT: tf.Tensor2D;
  s1: tf.Tensor;
  s2: tf.Tensor;
  scale: number;
}): FitLogits {
  const f = l2NormalizeRows(parts.features);
  const fZs = l2NormalizeRows(parts.zeroShotFeatures);
  const wT = tf.transpose(l2NormalizeRows(parts.weights)); // [d, C]
  const z = cosineLogitsNormalized(f, wT, parts.scale);
  const zVisual = cosineLogitsNormalized(fZs, wT, parts.scale);
  const zText = cosineLogitsNormalized(f, parts.zeroShotWeightsT, parts.scale);
  const zFused = tf.addN([z, tf.mul(parts.s1, zVisual), tf.mul(parts.s2, zText)]) as tf.Tensor2D;
  return { z, zVisual, zText, zFused };
}
