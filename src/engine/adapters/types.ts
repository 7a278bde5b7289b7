/** What every per-block adapter offers the model: its variables and its extra term. */
import type * as tf from '@tensorflow/tfjs';
import type { NamedVariable } from './parameters';

export interface BlockAdapter {
  readonly layer: number;
  /** Trainable variables in a fixed order. */
  readonly variables: readonly NamedVariable[];
  /**
   * The term added to the block output, `s · out`, for the residual stream after
   * attention `xTilde: [batch * tokens, d]`. `guidance` is w̄ `[1, d]` (SG-Adapter only).
   */
  apply(xTilde: tf.Tensor2D, guidance: tf.Tensor2D | null): tf.Tensor2D;
}

/** The shape and initial values an adapter is built with. */
export interface AdapterShape {
  layer: number;
  /** Vision hidden size d. */
  width: number;
  /** Bottleneck r. */
  bottleneck: number;
  /** Initial output scale s. */
  scaleInit: number;
  seed: number;
}
