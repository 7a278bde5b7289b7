/**
 * Where evaluation gets each test batch's prediction logits: in this thread by default
 * (batchLogits, batch after batch), or from data-parallel replicas that share the batches out
 * (src/trainer/parallel). A source yields every batch once, in the order the batches came.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ImageBatch } from '../contracts/batches';
import { batchLogits, type SageModel } from './model';

/** `[n, C]` logits per batch (crops averaged), owned by the receiver, which disposes them. */
export type LogitSource = (model: SageModel, batches: AsyncIterable<ImageBatch>) => AsyncIterable<{ batch: ImageBatch; logits: tf.Tensor2D }>;

/** The default: each batch on this thread, as it comes. */
export const localLogits: LogitSource = async function* (model, batches) {
  for await (const batch of batches) yield { batch, logits: batchLogits(model, batch) };
};
