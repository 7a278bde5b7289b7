/**
 * The SG-Adapter (Eqs. 7-9, SPEC §2). Per block, on every token:
 *
 *   f_v  = LN_a(x̃);  f_t = LN_a(w̄) (the same LN_a);  f_vt = (f_t W_proj + b_proj) ⊙ f_v
 *   h    = [f_v W_dv + b_dv ‖ f_vt W_dvt + b_dvt + s_vt (f_t W_dt + b_dt)]
 *   out  = (α ReLU(h) + (1 − α) h) W_up + b_up;   extra = s · out
 *
 * f_t is one row shared by all tokens, so its products are computed once on `[1, d]` and
 * broadcast. Without W_proj (Tables 10-12) f_vt = f_t ⊙ f_v.
 *
 * Computed as one down-projection of the tokens: with g = f_t W_proj + b_proj,
 * f_vt W_dvt = f_v (diag(g) W_dvt), so h = f_v [W_dv ‖ diag(g) W_dvt] + [b_dv ‖ b_dvt + s_vt(…)].
 * Exactly Eq. 8, but the tokens meet one `[d, 2r]` product instead of a `[tokens, d]` product
 * with g and two skinny matmuls (forward and backward); the per-step folding is `[d, 2r]` work.
 * Likewise the scale s multiplies W_up and b_up, not the `[tokens, d]` output.
 * Per block `(5r + d + 4)d + 3r + 2` parameters (`(5r + 3)d + 3r + 2` without W_proj).
 */
import * as tf from '@tensorflow/tfjs';
import { linear } from '../ops/matmul';
import { layerNorm } from '../ops/normalize';
import { createVariables, variableNamed, type ParameterSpec } from './parameters';
import type { AdapterShape, BlockAdapter } from './types';

export interface SgAdapterShape extends AdapterShape {
  /** Share of ReLU in the activation, in [0, 1]. */
  alpha: number;
  /** Initial s_vt. */
  svtInit: number;
  /** Keep W_proj, b_proj (false: the Tables 10-12 variant). */
  projection: boolean;
}

export function sgAdapterSpecs(prefix: string, shape: SgAdapterShape): ParameterSpec[] {
  const { width: d, bottleneck: r } = shape;
  const zeros = { kind: 'constant', value: 0 } as const;
  const projection: ParameterSpec[] = shape.projection
    ? [
        { name: `${prefix}.proj.weight`, shape: [d, d], init: { kind: 'identity' } },
        { name: `${prefix}.proj.bias`, shape: [d], init: zeros },
      ]
    : [];
  return [
    { name: `${prefix}.ln.gamma`, shape: [d], init: { kind: 'constant', value: 1 } },
    { name: `${prefix}.ln.beta`, shape: [d], init: zeros },
    ...projection,
    { name: `${prefix}.down_v.weight`, shape: [d, r], init: { kind: 'kaiming' } },
    { name: `${prefix}.down_v.bias`, shape: [r], init: zeros },
    { name: `${prefix}.down_vt.weight`, shape: [d, r], init: { kind: 'kaiming' } },
    { name: `${prefix}.down_vt.bias`, shape: [r], init: zeros },
    { name: `${prefix}.down_t.weight`, shape: [d, r], init: { kind: 'kaiming' } },
    { name: `${prefix}.down_t.bias`, shape: [r], init: zeros },
    { name: `${prefix}.up.weight`, shape: [2 * r, d], init: zeros },
    { name: `${prefix}.up.bias`, shape: [d], init: zeros },
    { name: `${prefix}.scale_vt`, shape: [], init: { kind: 'constant', value: shape.svtInit } },
    { name: `${prefix}.scale`, shape: [], init: { kind: 'constant', value: shape.scaleInit } },
  ];
}

export function createSgAdapter(shape: SgAdapterShape): BlockAdapter {
  const prefix = `adapters.${shape.layer}`;
  const variables = createVariables(sgAdapterSpecs(prefix, shape), shape.seed);
  const get2d = (short: string) => variableNamed(variables, prefix, short) as tf.Tensor2D;
  const get1d = (short: string) => variableNamed(variables, prefix, short) as tf.Tensor1D;
  const gamma = get1d('ln.gamma');
  const beta = get1d('ln.beta');
  const projW = shape.projection ? get2d('proj.weight') : null;
  const projB = shape.projection ? get1d('proj.bias') : null;
  const scaleVt = variableNamed(variables, prefix, 'scale_vt');
  const scale = variableNamed(variables, prefix, 'scale');
  const alpha = shape.alpha;

  return {
    layer: shape.layer,
    variables,
    apply(xTilde, guidance) {
      if (!guidance) throw new Error(`SG-Adapter of block ${shape.layer} needs the guidance w̄ [1, d]; got none`);
      const fV = layerNorm(xTilde, gamma, beta); // [tokens, d]
      const fT = layerNorm(guidance, gamma, beta); // [1, d]
      const guide = projW && projB ? linear(fT, projW, projB) : fT; // g: [1, d]
      const textBranch = tf.mul(scaleVt, linear(fT, get2d('down_t.weight'), get1d('down_t.bias'))); // [1, r]
      // [W_dv ‖ diag(g) W_dvt]: g as a column scales the rows of W_dvt.
      const down = tf.concat([get2d('down_v.weight'), tf.mul(tf.transpose(guide), get2d('down_vt.weight'))], 1) as tf.Tensor2D; // [d, 2r]
      const downBias = tf.concat([get1d('down_v.bias'), tf.reshape(tf.add(get1d('down_vt.bias'), textBranch), [-1])]) as tf.Tensor1D; // [2r]
      const hidden = linear(fV, down, downBias); // [tokens, 2r]
      const activated = alpha === 0 ? hidden : (tf.add(tf.mul(alpha, tf.relu(hidden)), tf.mul(1 - alpha, hidden)) as tf.Tensor2D);
      return linear(activated, tf.mul(get2d('up.weight'), scale) as tf.Tensor2D, tf.mul(get1d('up.bias'), scale) as tf.Tensor1D);
    },
  };
}
