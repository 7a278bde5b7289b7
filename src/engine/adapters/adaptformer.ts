/**
 * LIFT's AdaptFormer branch, parallel to the MLP of each block:
 * `s · up(ReLU(down(LN_a(x̃))))`, with `(2r + 3)d + r + 1` learnable parameters.
 */
import * as tf from '@tensorflow/tfjs';
import { linear } from '../ops/matmul';
import { layerNorm } from '../ops/normalize';
import { createVariables, variableNamed, type ParameterSpec } from './parameters';
import type { AdapterShape, BlockAdapter } from './types';

export function adaptFormerSpecs(prefix: string, shape: AdapterShape): ParameterSpec[] {
  const { width: d, bottleneck: r } = shape;
  return [
    { name: `${prefix}.ln.gamma`, shape: [d], init: { kind: 'constant', value: 1 } },
    { name: `${prefix}.ln.beta`, shape: [d], init: { kind: 'constant', value: 0 } },
    { name: `${prefix}.down.weight`, shape: [d, r], init: { kind: 'kaiming' } },
    { name: `${prefix}.down.bias`, shape: [r], init: { kind: 'constant', value: 0 } },
    { name: `${prefix}.up.weight`, shape: [r, d], init: { kind: 'constant', value: 0 } },
    { name: `${prefix}.up.bias`, shape: [d], init: { kind: 'constant', value: 0 } },
    { name: `${prefix}.scale`, shape: [], init: { kind: 'constant', value: shape.scaleInit } },
  ];
}

export function createAdaptFormer(shape: AdapterShape): BlockAdapter {
  const prefix = `adapters.${shape.layer}`;
  const variables = createVariables(adaptFormerSpecs(prefix, shape), shape.seed);
  const get = (short: string) => variableNamed(variables, prefix, short);
  const [gamma, beta, downW, downB, upW, upB, scale] = [
    get('ln.gamma'),
    get('ln.beta'),
    get('down.weight'),
    get('down.bias'),
    get('up.weight'),
    get('up.bias'),
    get('scale'),
  ];
  return {
    layer: shape.layer,
    variables,
    apply(xTilde) {
      const normed = layerNorm(xTilde, gamma as tf.Tensor1D, beta as tf.Tensor1D);
      const hidden = tf.relu(linear(normed, downW as tf.Tensor2D, downB as tf.Tensor1D));
      // s scales W_up and b_up rather than the [tokens, d] output: the same product, less work.
      return linear(hidden, tf.mul(upW as tf.Tensor2D, scale) as tf.Tensor2D, tf.mul(upB as tf.Tensor1D, scale) as tf.Tensor1D);
    },
  };
}
