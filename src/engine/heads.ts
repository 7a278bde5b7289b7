/**
 * Everything after the features: the cosine classifier and the guidance w̄ it gives the
 * SG-Adapter, FIT's mixed logits (Eq. 23), the logit adjustment of LA (Eq. 1) and CF (Eq. 22),
 * and the losses (cross-entropy on adjusted logits, FIT's four terms, Eq. 24).
 *
 * CF, literally in log space: log Λ_i = log μ + γ log n_i + log S_N − log(C·n_min). μ and
 * S_N/(C·n_min) are the same for every class, so they cancel in the softmax: LA + CF is exactly
 * LA with τ = 1 + γ (when τ = 1), and μ changes nothing.
 */
import * as tf from '@tensorflow/tfjs';
import { l2NormalizeRows, matMul2d } from '../clip';
import type { Settings } from '../contracts/settings';
import { EngineInputError } from './errors';

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

/** FIT's logits: z = 25 cos(W, f), z^v = 25 cos(W, f^zs), z^t = 25 cos(W^zs, f), ẑ = z + s1 z^v + s2 z^t. */
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

export type AdjustmentSettings = Pick<Settings, 'loss' | 'tau' | 'mu' | 'gamma'> & { components: Pick<Settings['components'], 'cf'> };

/** log Λ_i per class (Eq. 22). */
export function logCompensation(counts: readonly number[], mu: number, gamma: number): Float32Array {
  const total = counts.reduce((a, b) => a + b, 0);
  const nMin = Math.min(...counts);
  const constant = Math.log(mu) + Math.log(total) - Math.log(counts.length * nMin);
  return Float32Array.from(counts, (n) => constant + gamma * Math.log(n));
}

/** The vector added to the logits in the loss: `τ log n` (LA) and `+ log Λ` (CF); zeros for plain CE without CF. */
export function logitAdjustment(counts: readonly number[], settings: AdjustmentSettings): Float32Array {
  const bad = counts.findIndex((n) => !(Number.isFinite(n) && n > 0));
  if (bad >= 0) throw new EngineInputError(`training count of class ${bad} is ${counts[bad]}; expected a positive number (log n is used)`);
  const adjustment = new Float32Array(counts.length);
  if (settings.loss === 'la') for (let i = 0; i < counts.length; i++) adjustment[i] = settings.tau * Math.log(counts[i] ?? 1);
  if (settings.components.cf) {
    const logLambda = logCompensation(counts, settings.mu, settings.gamma);
    for (let i = 0; i < counts.length; i++) adjustment[i] = (adjustment[i] ?? 0) + (logLambda[i] ?? 0);
  }
  return adjustment;
}

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
export function fitLossSum(logits: FitLogits, oneHot: tf.Tensor2D, adjustment: tf.Tensor1D, weights: FitLossWeights): tf.Scalar {
  const term = (z: tf.Tensor2D) => adjustedCrossEntropySum(z, oneHot, adjustment);
  return tf.addN([
    term(logits.z),
    tf.mul(weights.lambda1, term(logits.zVisual)),
    tf.mul(weights.lambda2, term(logits.zText)),
    tf.mul(weights.lambda3, term(logits.zFused)),
  ]) as tf.Scalar;
}
