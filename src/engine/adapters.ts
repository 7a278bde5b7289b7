/**
 * The per-block adapters, their variables and their parameter counts.
 *
 * Variables are created from a declarative list (`ParameterSpec`), so every adapter is built,
 * named, counted, saved and restored the same way; initialisation follows SPEC §3, each
 * Kaiming tensor from its own seeded stream `(seed, name)`.
 *
 * LIFT's AdaptFormer, parallel to the MLP of each block: `s · up(ReLU(down(LN_a(x̃))))`,
 * `(2r + 3)d + r + 1` parameters.
 *
 * The SG-Adapter (Eqs. 7-9, SPEC §2), per block, on every token:
 *
 *   f_v  = LN_a(x̃);  f_t = LN_a(w̄) (the same LN_a);  f_vt = (f_t W_proj + b_proj) ⊙ f_v
 *   h    = [f_v W_dv + b_dv ‖ f_vt W_dvt + b_dvt + s_vt (f_t W_dt + b_dt)]
 *   out  = (α ReLU(h) + (1 − α) h) W_up + b_up;   extra = s · out
 *
 * f_t is one row shared by all tokens, so its products are computed once on `[1, d]` and
 * broadcast. Without W_proj (Tables 10-12) f_vt = f_t ⊙ f_v. Computed as one down-projection
 * of the tokens: with g = f_t W_proj + b_proj, f_vt W_dvt = f_v (diag(g) W_dvt), so
 * h = f_v [W_dv ‖ diag(g) W_dvt] + [b_dv ‖ b_dvt + s_vt(…)]. Exactly Eq. 8, but the tokens meet
 * one `[d, 2r]` product instead of a `[tokens, d]` product with g and two skinny matmuls; the
 * per-step folding is `[d, 2r]` work. In both adapters the scale s multiplies W_up and b_up,
 * not the `[tokens, d]` output. `(5r + d + 4)d + 3r + 2` parameters (`(5r + 3)d + 3r + 2`
 * without W_proj).
 */
import * as tf from '@tensorflow/tfjs';
import { matMul2d } from '../clip';
import { normalFloat32, streamSeed } from '../common/random';
import type { ParameterReport } from '../contracts/metrics';

/** A trainable tensor with the stable name used in checkpoints and saved adapters. */
export interface NamedVariable {
  readonly name: string;
  readonly variable: tf.Variable;
}

/** What every per-block adapter offers the model: its variables and its extra term. */
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

export interface SgAdapterShape extends AdapterShape {
  /** Share of ReLU in the activation, in [0, 1]. */
  alpha: number;
  /** Initial s_vt. */
  svtInit: number;
  /** Keep W_proj, b_proj (false: the Tables 10-12 variant). */
  projection: boolean;
}

export type Initializer =
  /** Kaiming-normal for a `[fanIn, fanOut]` weight: std = 1/sqrt(3·fanIn), seeded by name. */
  | { kind: 'kaiming' }
  | { kind: 'constant'; value: number }
  /** A square identity matrix (W_proj). */
  | { kind: 'identity' };

export interface ParameterSpec {
  name: string;
  shape: number[];
  init: Initializer;
}

function initialValues(spec: ParameterSpec, seed: number): Float32Array {
  const size = spec.shape.reduce((a, b) => a * b, 1);
  switch (spec.init.kind) {
    case 'kaiming': {
      const fanIn = spec.shape[0] ?? 1;
      return normalFloat32(streamSeed(seed, spec.name), size, 1 / Math.sqrt(3 * fanIn));
    }
    case 'constant':
      return new Float32Array(size).fill(spec.init.value);
    case 'identity': {
      const n = spec.shape[0] ?? 0;
      const values = new Float32Array(size);
      for (let i = 0; i < n; i++) values[i * n + i] = 1;
      return values;
    }
  }
}

/** Creates the variables of `specs` in order (the order is the optimizer's slot order). */
export function createVariables(specs: readonly ParameterSpec[], seed: number): NamedVariable[] {
  return specs.map((spec) => {
    // A variable shares its initial tensor's data: the initial handle goes, or the data outlives the variable.
    const initial = tf.tensor(initialValues(spec, seed), spec.shape);
    const variable = tf.variable(initial, true);
    initial.dispose();
    return { name: spec.name, variable };
  });
}

/** Looks a variable up by its short name within an adapter (throws if the adapter lacks it). */
function variableNamed(variables: readonly NamedVariable[], prefix: string, short: string): tf.Variable {
  const found = variables.find((v) => v.name === `${prefix}.${short}`);
  if (!found) throw new Error(`adapter variable ${prefix}.${short} was not created`);
  return found.variable;
}

/** PyTorch nn.LayerNorm's default, which AdaptFormer and LIFT use. */
export const LAYER_NORM_EPS = 1e-5;

/** LayerNorm over the last axis of `x: [n, d]` with trainable `gamma, beta: [d]` (autodiff gradient). */
export function layerNorm(x: tf.Tensor2D, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps = LAYER_NORM_EPS): tf.Tensor2D {
  const mean = tf.mean(x, 1, true);
  const centred = tf.sub(x, mean);
  const variance = tf.mean(tf.square(centred), 1, true);
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

/** `x @ w + b` for `x: [n, in]`, `w: [in, out]`, `b: [out]`, through clip's wasm-friendly matMul2d. */
export function linear(x: tf.Tensor2D, weight: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor2D {
  return tf.add(matMul2d(x, weight), bias);
}

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
      const downBias = tf.concat([get1d('down_v.bias'), tf.reshape(tf.add(get1d('down_vt.bias'), textBranch), [-1])]) as tf.Tensor1D; // [1, r] → [r], then [2r]
      const hidden = linear(fV, down, downBias); // [tokens, 2r]
      const activated = alpha === 0 ? hidden : (tf.add(tf.mul(alpha, tf.relu(hidden)), tf.mul(1 - alpha, hidden)) as tf.Tensor2D);
      return linear(activated, tf.mul(get2d('up.weight'), scale) as tf.Tensor2D, tf.mul(get1d('up.bias'), scale) as tf.Tensor1D);
    },
  };
}

export { liftBottleneck, perBlockFormula } from '../estimate';

function sizeOf(variables: readonly NamedVariable[]): number {
  return variables.reduce((total, v) => total + v.variable.size, 0);
}

/** Counts what the model holds (the variables created, not the formulas): adapters (all blocks), classifier W, FIT's s1 and s2. */
export function parameterReport(parts: {
  adapters: readonly NamedVariable[];
  classifier: readonly NamedVariable[];
  fitScalars: readonly NamedVariable[];
  numLayers: number;
  bottleneck: number;
}): ParameterReport {
  const adapters = sizeOf(parts.adapters);
  const classifier = sizeOf(parts.classifier);
  const fitScalars = sizeOf(parts.fitScalars);
  return {
    adapters,
    classifier,
    fitScalars,
    total: adapters + classifier + fitScalars,
    perBlock: parts.numLayers > 0 ? Math.round(adapters / parts.numLayers) : 0,
    bottleneck: parts.bottleneck,
  };
}
