/**
 * One optimisation step. An effective batch is split into micro-batches, each a forward and
 * backward pass whose summed gradients accumulate (`batchGradients`); then one update with the
 * batch-mean gradient (`SgdMomentum.step`). For FIT, f^zs comes from a forward-only pass of the
 * frozen backbone outside the gradient tape, so it costs no second backward pass.
 *
 * SGD with momentum and classic L2 weight decay, as PyTorch's SGD does it:
 * g ← ḡ + wd·w;  v ← m·v + g;  w ← w − lr·v  (ḡ the batch-mean gradient). tfjs's
 * MomentumOptimizer does the last two and keys its slots by position, so the variables are
 * always passed in the model's fixed order. The learning rate follows cosine annealing stepped
 * once per epoch to 0 (PyTorch CosineAnnealingLR, T_max = E, η_min = 0).
 */
import * as tf from '@tensorflow/tfjs';
import type { ImageBatch } from '../contracts/batches';
import type { NamedVariable } from './adapters';
import { EngineInputError } from './errors';
import { frozenFeatures, pixelTensor, trainingLoss, type SageModel } from './model';

/** Learning rate of the 0-based epoch `epoch` of `epochs`: lr·(1 + cos(π e / E)) / 2. */
export function cosineLearningRate(baseRate: number, epoch: number, epochs: number): number {
  return (baseRate * (1 + Math.cos((Math.PI * epoch) / epochs))) / 2;
}

export interface OptimizerSettings {
  learningRate: number;
  momentum: number;
  weightDecay: number;
}

/** Momentum slots and step count, for checkpoints. Slots follow the variable order. */
export interface OptimizerState {
  iterations: number;
  slots: Float32Array[];
}

export class SgdMomentum {
  private readonly optimizer: tf.MomentumOptimizer;
  private readonly decay: tf.Scalar;

  constructor(
    private readonly variables: readonly NamedVariable[],
    settings: OptimizerSettings,
  ) {
    this.optimizer = new tf.MomentumOptimizer(settings.learningRate, settings.momentum);
    this.decay = tf.keep(tf.scalar(settings.weightDecay));
  }

  setLearningRate(rate: number): void {
    this.optimizer.setLearningRate(rate);
  }

  /** One update from batch-mean gradients given in variable order (the tensors are consumed). */
  step(meanGradients: readonly tf.Tensor[]): void {
    if (meanGradients.length !== this.variables.length) {
      throw new Error(`optimizer expected ${this.variables.length} gradients (one per variable); got ${meanGradients.length}`);
    }
    const decayed = tf.tidy(() =>
      meanGradients.map((g, i) => ({ name: this.variables[i]!.variable.name, tensor: tf.add(g, tf.mul(this.decay, this.variables[i]!.variable)) })),
    );
    tf.dispose([...meanGradients]);
    this.optimizer.applyGradients(decayed);
    tf.dispose(decayed.map((d) => d.tensor));
  }

  async state(): Promise<OptimizerState> {
    const [iterations, ...slots] = await this.optimizer.getWeights();
    const count = iterations ? (await iterations.tensor.data())[0] ?? 0 : 0;
    iterations?.tensor.dispose();
    return { iterations: count, slots: await Promise.all(slots.map(async (s) => (await s.tensor.data()) as Float32Array)) };
  }

  async restore(state: OptimizerState): Promise<void> {
    if (state.slots.length !== 0 && state.slots.length !== this.variables.length) {
      throw new Error(`optimizer state has ${state.slots.length} momentum slots; the model has ${this.variables.length} variables`);
    }
    const weights: { name: string; tensor: tf.Tensor }[] = [
      { name: 'iter', tensor: tf.scalar(state.iterations, 'int32') },
      ...state.slots.map((slot, i) => ({
        name: `${this.variables[i]!.variable.name}/momentum`,
        tensor: tf.tensor(slot, this.variables[i]!.variable.shape),
      })),
    ];
    await this.optimizer.setWeights(weights);
    tf.dispose(weights.map((w) => w.tensor));
  }

  dispose(): void {
    this.optimizer.dispose();
    this.decay.dispose();
  }
}

/** Sums micro-batch gradients (in variable order) until the effective batch is complete. */
export class GradientAccumulator {
  private sums: tf.Tensor[] | null = null;

  /** Adds one micro-batch's summed gradients; the tensors are consumed. */
  add(gradients: tf.Tensor[]): void {
    if (!this.sums) {
      this.sums = gradients;
      return;
    }
    const previous = this.sums;
    this.sums = tf.tidy(() => previous.map((s, i) => tf.add(s, gradients[i]!)));
    tf.dispose([...previous, ...gradients]);
  }

  /** The sums so far, handed over (the accumulator is reset). */
  take(): tf.Tensor[] {
    const sums = this.sums ?? [];
    this.sums = null;
    return sums;
  }

  /** The batch-mean gradients over `count` images; resets the accumulator. */
  takeMean(count: number): tf.Tensor[] {
    return meanGradients(this.take(), count);
  }

  dispose(): void {
    if (this.sums) tf.dispose(this.sums);
    this.sums = null;
  }
}

/** Gradient sums over `count` images → their means (the sums are consumed). */
export function meanGradients(sums: readonly tf.Tensor[], count: number): tf.Tensor[] {
  const means = tf.tidy(() => sums.map((s) => tf.div(s, count)));
  tf.dispose([...sums]);
  return means;
}

/**
 * Gradients of some images of one effective batch: per trainable variable (in
 * `model.trainableVariables()` order) the sum over the images, with the loss summed the same
 * way and the number of correct predictions. Sums, not means, so parts add up to the batch.
 */
export interface BatchGradients {
  /** Owned by the receiver: pass to SgdMomentum.step via meanGradients, or dispose. */
  sums: tf.Tensor[];
  lossSum: number;
  correct: number;
  count: number;
}

/** What a gradient computation needs from the training loop. */
export interface StepContext {
  model: SageModel;
  /** τ log n (+ log Λ), `[C]` (heads.logitAdjustment of the training counts). */
  adjustment: tf.Tensor1D;
  /** Images per forward/backward pass. */
  microBatchSize: number;
}

/**
 * Computes an effective batch's gradients; trainSage's seam for other strategies (workers that
 * each take some micro-batches, a micro-batch that shrinks on out-of-memory). Must return the
 * sums over all `batch.n` images.
 */
export type GradientSource = (batch: ImageBatch, context: StepContext) => BatchGradients | Promise<BatchGradients>;

export function checkTrainingBatch(model: SageModel, batch: ImageBatch): void {
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

/** Forward + backward of the images `[start, start + count)` of a (checked) batch. */
export function microBatchGradients(context: Omit<StepContext, 'microBatchSize'>, batch: ImageBatch, start: number, count: number): BatchGradients {
  const { model, adjustment } = context;
  const variables = model.trainableVariables();
  const pixelsPerImage = batch.size * batch.size * 3;
  const pixels = pixelTensor(batch.images.subarray(start * pixelsPerImage, (start + count) * pixelsPerImage), [count, batch.size, batch.size, 3]);
  const labels = tf.tensor1d(batch.labels.subarray(start, start + count), 'int32');
  const oneHot = tf.tidy(() => tf.cast(tf.oneHot(labels, model.numClasses), 'float32') as tf.Tensor2D);
  const useFit = model.settings.components.fit && model.fitScales.length > 0;
  const zeroShotFeatures = useFit ? tf.tidy(() => frozenFeatures(model, pixels)) : null;
  let correct: tf.Scalar | null = null;
  try {
    const { value, grads } = tf.variableGrads(
      () => {
        const { loss, logits } = trainingLoss(model, { pixels, oneHot, adjustment, zeroShotFeatures });
        correct = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32'))) as tf.Scalar;
        return loss;
      },
      variables.map((v) => v.variable),
    );
    const sums = variables.map((v) => grads[v.variable.name] ?? tf.zerosLike(v.variable));
    const lossSum = value.dataSync()[0] ?? NaN;
    const hits = (correct as tf.Scalar | null)?.dataSync()[0] ?? 0;
    value.dispose();
    return { sums, lossSum, correct: hits, count };
  } finally {
    tf.dispose([pixels, labels, oneHot]);
    (correct as tf.Scalar | null)?.dispose();
    zeroShotFeatures?.dispose();
  }
}

/** The whole effective batch, micro-batch by micro-batch, gradients summed in order (the default GradientSource). */
export function batchGradients(batch: ImageBatch, context: StepContext): BatchGradients {
  checkTrainingBatch(context.model, batch);
  const accumulator = new GradientAccumulator();
  let lossSum = 0;
  let correct = 0;
  try {
    for (let start = 0; start < batch.n; start += context.microBatchSize) {
      const part = microBatchGradients(context, batch, start, Math.min(context.microBatchSize, batch.n - start));
      accumulator.add(part.sums);
      lossSum += part.lossSum;
      correct += part.correct;
    }
  } catch (error) {
    accumulator.dispose();
    throw error;
  }
  return { sums: accumulator.take(), lossSum, correct, count: batch.n };
}
