/**
 * Adam with decoupled weight decay (AdamW) over a fixed list of variables. Written out here
 * rather than tf.train.adam so the learning rate can follow a schedule every step and decay
 * skips the parameters CLIP never decays (biases, LayerNorm, embeddings, logit scale).
 */
import * as tf from '@tensorflow/tfjs';

export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Decoupled weight decay for the variables marked `decay` (default 0.1). */
  weightDecay?: number;
}

export interface OptimizedVariable {
  variable: tf.Variable;
  decay: boolean;
}

export class AdamW {
  private readonly first: tf.Variable[];
  private readonly second: tf.Variable[];
  private step = 0;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly weightDecay: number;

  constructor(
    private readonly variables: readonly OptimizedVariable[],
    options: AdamWOptions = {},
  ) {
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.98;
    this.epsilon = options.epsilon ?? 1e-6;
    this.weightDecay = options.weightDecay ?? 0.1;
    this.first = variables.map(({ variable }) => tf.variable(tf.zerosLike(variable), false));
    this.second = variables.map(({ variable }) => tf.variable(tf.zerosLike(variable), false));
  }

  /** One update; `gradients[i]` belongs to `variables[i]`. */
  apply(gradients: readonly tf.Tensor[], learningRate: number): void {
    this.step++;
    const correction1 = 1 - this.beta1 ** this.step;
    const correction2 = 1 - this.beta2 ** this.step;
    tf.tidy(() => {
      this.variables.forEach(({ variable, decay }, i) => {
        const gradient = gradients[i] as tf.Tensor;
        const m = tf.add(tf.mul(this.first[i] as tf.Variable, this.beta1), tf.mul(gradient, 1 - this.beta1));
        const v = tf.add(tf.mul(this.second[i] as tf.Variable, this.beta2), tf.mul(tf.square(gradient), 1 - this.beta2));
        (this.first[i] as tf.Variable).assign(m);
        (this.second[i] as tf.Variable).assign(v);
        const update = tf.div(tf.div(m, correction1), tf.add(tf.sqrt(tf.div(v, correction2)), this.epsilon));
        const decayed = decay ? tf.mul(variable, 1 - learningRate * this.weightDecay) : variable;
        variable.assign(tf.sub(decayed, tf.mul(update, learningRate)));
      });
    });
  }

  dispose(): void {
    for (const v of [...this.first, ...this.second]) v.dispose();
  }
}
