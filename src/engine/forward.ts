/**
 * The model's forward passes: adapted features (adapters hooked into every block),
 * frozen features f^zs (no hook), the training loss and the prediction logits.
 */
import * as tf from '@tensorflow/tfjs';
import type { VisionBlockHook } from '../clip/types';
import { zeroShotLogits } from '../clip/zero-shot';
import { classifierGuidance, cosineLogits } from './classifier';
import { EngineInputError } from './errors';
import { fitLogits } from './fit';
import { adjustedCrossEntropySum, fitLossSum } from './losses';
import type { SageModel } from './model';

/** f with the adapters: `[n, d]`. */
export function adaptedFeatures(model: SageModel, pixels: tf.Tensor4D): tf.Tensor2D {
  if (model.adapters.length === 0) return model.clip.encodeImageFeatures(pixels);
  // w̄ is computed once per forward and shared by every block (SG-Adapter only).
  const guidance = model.settings.components.sg ? classifierGuidance(model.classifier.variable as tf.Tensor2D) : null;
  const blockHook: VisionBlockHook = (layer, xTilde) => {
    const adapter = model.adapters[layer];
    return adapter ? adapter.apply(xTilde, guidance) : null;
  };
  return model.clip.encodeImageFeatures(pixels, { blockHook });
}

/** f^zs, the frozen backbone's feature (no adapters); call outside any gradient tape. */
export function frozenFeatures(model: SageModel, pixels: tf.Tensor4D): tf.Tensor2D {
  return model.clip.encodeImageFeatures(pixels);
}

export interface LossInputs {
  pixels: tf.Tensor4D;
  oneHot: tf.Tensor2D;
  /** τ log n (+ log Λ), `[C]`. */
  adjustment: tf.Tensor1D;
  /** f^zs for FIT, computed forward-only; null without FIT. */
  zeroShotFeatures: tf.Tensor2D | null;
}

/** Σ of the per-image training loss, and the logits used for prediction (for train accuracy). */
export function trainingLoss(model: SageModel, inputs: LossInputs): { loss: tf.Scalar; logits: tf.Tensor2D } {
  const { settings } = model;
  const features = adaptedFeatures(model, inputs.pixels);
  const weights = model.classifier.variable as tf.Tensor2D;
  const [s1, s2] = model.fitScales;
  if (settings.components.fit && s1 && s2 && inputs.zeroShotFeatures) {
    const logits = fitLogits({
      features,
      zeroShotFeatures: inputs.zeroShotFeatures,
      weights,
      zeroShotWeightsT: model.zeroShotWeightsT,
      s1: s1.variable,
      s2: s2.variable,
      scale: settings.logitScale,
    });
    return { loss: fitLossSum(logits, inputs.oneHot, inputs.adjustment, settings), logits: logits.zFused };
  }
  const logits = cosineLogits(features, weights, settings.logitScale);
  return { loss: adjustedCrossEntropySum(logits, inputs.oneHot, inputs.adjustment), logits };
}

/** The logits a prediction is made from: ẑ with FIT, z otherwise, and for zero-shot CLIP's own logit scale (100) · cos(proj f, t). */
export function predictionLogits(model: SageModel, pixels: tf.Tensor4D): tf.Tensor2D {
  const { settings } = model;
  if (settings.method === 'zero-shot') {
    if (!model.textEmbeddings) throw new EngineInputError('the zero-shot method needs the class text embeddings; build the model with textEmbeddings');
    return zeroShotLogits(model.clip, model.clip.encodeImageFeatures(pixels), model.textEmbeddings);
  }
  const features = adaptedFeatures(model, pixels);
  const weights = model.classifier.variable as tf.Tensor2D;
  const [s1, s2] = model.fitScales;
  if (settings.components.fit && s1 && s2) {
    const logits = fitLogits({
      features,
      zeroShotFeatures: frozenFeatures(model, pixels),
      weights,
      zeroShotWeightsT: model.zeroShotWeightsT,
      s1: s1.variable,
      s2: s2.variable,
      scale: settings.logitScale,
    });
    return logits.zFused;
  }
  return cosineLogits(features, weights, settings.logitScale);
}
