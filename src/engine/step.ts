/**
 * One optimisation step on one effective batch: split into micro-batches, each a forward
 * and backward pass whose summed gradients accumulate; then one optimizer update with the
 * batch-mean gradient. For FIT, f^zs comes from a forward-only pass of the frozen backbone
 * outside the gradient tape, so it costs no second backward pass.
 */
import * as tf from '@tensorflow/tfjs';
import type { ImageBatch } from '../contracts/batches';
import type { NamedVariable } from './adapters/parameters';
import { EngineInputError } from './errors';
import { frozenFeatures, trainingLoss } from './forward';
import type { SageModel } from './model';
import { GradientAccumulator, type SgdMomentum } from './optimizer';
import { pixelTensor } from './pixels';

export interface StepResult {
  /** Σ of the per-image loss over the batch (mean = lossSum / count). */
  lossSum: number;
  correct: number;
  count: number;
}

export interface StepContext {
  model: SageModel;
  variables: readonly NamedVariable[];
  optimizer: SgdMomentum;
  /** τ log n (+ log Λ), `[C]`. */
  adjustment: tf.Tensor1D;
  microBatchSize: number;
}

function checkBatch(model: SageModel, batch: ImageBatch): void {
  const size = model.clip.config.vision.imageSize;
  if (batch.size !== size || batch.crops !== 1) {
    throw new EngineInputError(`training batch has ${batch.crops} crop(s) of ${batch.size}×${batch.size}; expected 1 crop of ${size}×${size} (the model's image size)`);
  }
  if (batch.images.length !== batch.n * size * size * 3) {
    throw new EngineInputError(`training batch images hold ${batch.images.length} values; expected n·S·S·3 = ${batch.n * size * size * 3}`);
  }
  for (let i = 0; i < batch.n; i++) {
    const label = batch.labels[i]!;
    if (!(label >= 0 && label < model.numClasses)) throw new EngineInputError(`training item ${batch.keys[i]} has label ${label}; expected 0..${model.numClasses - 1}`);
  }
}

/** Forward + backward of one micro-batch; adds its summed gradients to `accumulator`. */
function microBatchPass(ctx: StepContext, batch: ImageBatch, start: number, count: number, accumulator: GradientAccumulator): { loss: number; correct: number } {
  const { model, variables } = ctx;
  const pixelsPerImage = batch.size * batch.size * 3;
  const pixels = pixelTensor(batch.images.subarray(start * pixelsPerImage, (start + count) * pixelsPerImage), [count, batch.size, batch.size, 3]);
  const labels = tf.tensor1d(batch.labels.subarray(start, start + count), 'int32');
  const oneHot = tf.tidy(() => tf.cast(tf.oneHot(labels, model.numClasses), 'float32') as tf.Tensor2D);
  const useFit = model.settings.components.fit && model.fitScales.length > 0;
  const zeroShotFeatures = useFit ? tf.tidy(() => frozenFeatures(model, pixels)) : null;
  let correct: tf.Scalar | null = null;
  const { value, grads } = tf.variableGrads(
    () => {
      const { loss, logits } = trainingLoss(model, { pixels, oneHot, adjustment: ctx.adjustment, zeroShotFeatures });
      correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32'))) as tf.Scalar;
      return loss;
    },
    variables.map((v) => v.variable),
  );
  const ordered = variables.map((v) => grads[v.variable.name] ?? tf.zerosLike(v.variable));
  accumulator.add(ordered);
  const loss = value.dataSync()[0] ?? NaN;
  const hits = (correct as tf.Scalar | null)?.dataSync()[0] ?? 0;
  tf.dispose([value, pixels, labels, oneHot]);
  (correct as tf.Scalar | null)?.dispose();
  zeroShotFeatures?.dispose();
  return { loss, correct: hits };
}

/**
 * Runs the step. Throws nothing on a non-finite loss: the caller checks `lossSum` and
 * calls `apply` only when it is finite, so a bad batch never reaches the weights.
 */
export function computeStep(ctx: StepContext, batch: ImageBatch): StepResult & { apply(): void; discard(): void } {
  checkBatch(ctx.model, batch);
  const accumulator = new GradientAccumulator();
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < batch.n; start += ctx.microBatchSize) {
    const count = Math.min(ctx.microBatchSize, batch.n - start);
    const result = microBatchPass(ctx, batch, start, count, accumulator);
    lossSum += result.loss;
    correct += result.correct;
  }
  return {
    lossSum,
    correct,
    count: batch.n,
    apply: () => ctx.optimizer.step(accumulator.takeMean(batch.n)),
    discard: () => accumulator.dispose(),
  };
}
