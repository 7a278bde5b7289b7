/** Top-k predictions on new images with a (trained or loaded) model. */
import * as tf from '@tensorflow/tfjs';
import type { ImageBatch } from '../contracts/batches';
import { EngineInputError } from './errors';
import { batchLogits } from './evaluate';
import type { SageModel } from './model';

export interface ClassScore {
  index: number;
  name: string;
  /** Softmax probability over the classes, from the prediction logits. */
  probability: number;
}

export interface Prediction {
  key: string | null;
  top: ClassScore[];
}

/** CLIP-normalised images `[n·crops, S, S, 3]` (crops 1, or 5 for TTE) → the k best classes of each. */
export async function predict(model: SageModel, images: Pick<ImageBatch, 'images' | 'n' | 'size' | 'crops'> & { keys?: string[] }, options: { k?: number } = {}): Promise<Prediction[]> {
  const size = model.clip.config.vision.imageSize;
  if (images.size !== size || images.images.length !== images.n * images.crops * size * size * 3) {
    throw new EngineInputError(`images hold ${images.images.length} values of size ${images.size}; expected n·crops·${size}·${size}·3 = ${images.n * images.crops * size * size * 3}`);
  }
  const k = Math.min(options.k ?? 5, model.numClasses);
  const { values, indices } = tf.tidy(() => tf.topk(tf.softmax(batchLogits(model, images)), k));
  const [probabilities, classes] = await Promise.all([values.data(), indices.data()]);
  tf.dispose([values, indices]);
  return Array.from({ length: images.n }, (_, item) => ({
    key: images.keys?.[item] ?? null,
    top: Array.from({ length: k }, (_, j) => {
      const index = classes[item * k + j]!;
      return { index, name: model.classNames[index] ?? `#${index}`, probability: probabilities[item * k + j]! };
    }),
  }));
}
