/**
 * 2-D matrix products for the trainable parts. On tfjs-backend-wasm only plain,
 * untransposed 2-D matMul takes the XNNPACK path; the built-in gradient uses the
 * transpose flags and falls to a loop 10-15× slower (SPEC §5). These ops transpose
 * explicitly in their gradients so every product in forward and backward is a plain one.
 */
import * as tf from '@tensorflow/tfjs';

/** `a @ b` for `a: [m, k]`, `b: [k, n]`; gradients `dy @ bᵀ` and `aᵀ @ dy`. */
export const matMul2d = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
      const [savedA, savedB] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, tf.transpose(savedB)), tf.matMul(tf.transpose(savedA), dy)];
    },
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** `x @ w + b` for `x: [n, in]`, `w: [in, out]`, `b: [out]`. */
export function linear(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.add(matMul2d(x, weight), bias);
}
