/**
 * Zero-shot CLIP as a classifier: `logitScale · cos(visual_projection(f), t_c)`, with
 * t_c the class's (template-averaged) text embedding and the checkpoint's logit
 * scale (100 for OpenAI CLIP).
 */
import * as tf from '@tensorflow/tfjs';
import type { ClipModel } from './types';

/** Image features f `[batch, visionHidden]` and text embeddings `[classes, projectionDim]` → logits `[batch, classes]`. */
export function zeroShotLogits(model: ClipModel, features: tf.Tensor2D, textEmbeddings: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => {
    const image = model.projectImage(features); // [batch, projectionDim]
    const imageUnit = tf.div(image, tf.norm(image, 'euclidean', 1, true));
    const textUnit = tf.div(textEmbeddings, tf.norm(textEmbeddings, 'euclidean', 1, true));
    return tf.mul(tf.matMul(imageUnit, tf.transpose(textUnit)), model.config.logitScale);
  });
}
