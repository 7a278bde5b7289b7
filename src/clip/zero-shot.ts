/**
 * Zero-shot CLIP as a classifier: `logitScale · cos(visual_projection(f), t_c)`, with
 * t_c the class's (template-averaged) text embedding and the checkpoint's logit
 * scale (100 for OpenAI CLIP).
 */
import * as tf from '@tensorflow/tfjs';
import { l2NormalizeRows } from './layers';
import type { ClipModel } from './types';

/** Image features f `[batch, visionHidden]` and text embeddings `[classes, projectionDim]` → logits `[batch, classes]`. */
export function zeroShotLogits(model: ClipModel, features: tf.Tensor2D, textEmbeddings: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const image = model.projectImage(features); // [batch, projectionDim]
    const imageUnit = l2NormalizeRows(image);
    const textUnit = l2NormalizeRows(textEmbeddings);
    return tf.mul(tf.matMul(imageUnit, tf.transpose(textUnit)), model.config.logitScale);
  });
}
