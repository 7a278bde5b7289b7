/**
 * SGD with momentum and classic L2 weight decay, as PyTorch's SGD does it:
 * g ← ḡ + wd·w;  v ← m·v + g;  w ← w − lr·v  (ḡ the batch-mean gradient).
 * tfjs's MomentumOptimizer does the last two and keys its slots by position, so the
 * variables are always passed in the model's fixed order.
 */
import * as tf from '@tensorflow/tfjs';
import type { NamedVariable } from './adapters/parameters';

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

  /** The batch-mean gradients over `count` images; resets the accumulator. */
  takeMean(count: number): tf.Tensor[] {
    const sums = this.sums ?? [];
    this.sums = null;
    const means = tf.tidy(() => sums.map((s) => tf.div(s, count)));
    tf.dispose(sums);
    return means;
  }

  dispose(): void {
    if (this.sums) tf.dispose(this.sums);
    this.sums = null;
  }
}
