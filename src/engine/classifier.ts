/** The cosine classifier `z = scale · cos(w_i, f)` and the guidance w̄ it provides. */
import * as tf from '@tensorflow/tfjs';
import { matMul2d } from './ops/matmul';
import { l2NormalizeRows } from './ops/normalize';

/** `scale · f̂ Ŵᵀ` for features `[n, d]` and class rows `[C, d]` → `[n, C]`. */
export function cosineLogits(features: tf.Tensor2D, weights: tf.Tensor2D, scale: number): tf.Tensor2D {
  return cosineLogitsNormalized(l2NormalizeRows(features), tf.transpose(l2NormalizeRows(weights)), scale);
}

/** The same from already normalised features `[n, d]` and normalised, transposed rows `[d, C]`. */
export function cosineLogitsNormalized(normedFeatures: tf.Tensor2D, normedWeightsT: tf.Tensor2D, scale: number): tf.Tensor2D {
  return tf.mul(matMul2d(normedFeatures, normedWeightsT), scale);
}

/** w̄ = mean_i(w_i / |w_i|), `[1, d]`; not detached, so W also learns through the guidance. */
export function classifierGuidance(weights: tf.Tensor2D): tf.Tensor2D {
  return tf.mean(l2NormalizeRows(weights), 0, true);
}
