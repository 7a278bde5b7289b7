/**
 * The transformer's building blocks, written for the wasm backend's fast path:
 * only plain 2-D untransposed matMuls (XNNPACK), transposes made explicit, and
 * gradients written by hand with `tf.customGrad` so that the backward pass never
 * uses matMul's transpose flags (a naive loop on wasm, 10-15× slower). Every block
 * passes gradients to its input, never to the frozen weights.
 */
import * as tf from '@tensorflow/tfjs';
import { BlockedMatrix } from './blocked-matrix';

type GradientBody = (
  inputs: tf.Tensor2D[],
  save: tf.GradSaveFunc,
) => { value: tf.Tensor2D; gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[] };

/** tf.customGrad for functions of `arity` 2-D tensors, typed. */
function customGrad2d(arity: number, body: GradientBody): (...inputs: tf.Tensor2D[]) => tf.Tensor2D {
  const op = tf.customGrad<tf.Tensor2D>((...args: Array<tf.Tensor | tf.GradSaveFunc>) => body(args.slice(0, arity) as tf.Tensor2D[], args[arity] as tf.GradSaveFunc));
  return (...inputs) => op(...inputs);
}

/** a·b for 2-D tensors, whose gradient is also two plain 2-D matMuls. */
export const matMul2d: (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D = customGrad2d(2, ([a, b], save) => {
  save([a!, b!]);
  return {
    value: tf.matMul(a!, b!),
    gradFunc: (dy, saved) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy)];
    },
  };
});

/**
 * Each row of `x: [n, d]` divided by its L2 norm (ε keeps a zero row finite). Shared with the
 * engine's cosine classifier and SG-Adapter guidance; plain ops, so autodiff gives its gradient.
 */
export function l2NormalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(x, tf.rsqrt(tf.add(tf.sum(tf.square(x), 1, true), 1e-12)));
}

export interface LinearWeights {
  /** Hugging Face layout `[out, in]`, row-major. */
  weight: Float32Array;
  out: number;
  in: number;
  bias?: Float32Array;
}

export interface FrozenLinearOptions {
  /**
   * Keep `W` beside `Wᵀ` so the input gradient is `dy·W` without a transpose.
   * The text tower is never differentiated and skips it to save memory. Default: true.
   */
  inputGradient?: boolean;
}

/** Row-major `[out, in]` → `[in, out]`. */
export function transposeMatrix(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c]!;
  return out;
}

/**
 * y = x·Wᵀ + b with frozen W: forward and backward are plain 2-D matMuls (on blocked
 * copies of `Wᵀ` and `W`, see BlockedMatrix).
 */
export class FrozenLinear {
  readonly outFeatures: number;
  readonly inFeatures: number;
  private readonly weightT: BlockedMatrix;
  private readonly weight: BlockedMatrix | null;
  private readonly biasBlocks: tf.Tensor1D[] | null;
  private readonly forward: (x: tf.Tensor2D) => tf.Tensor2D;
  private hfWeight: tf.Tensor2D | null = null;

  constructor(weights: LinearWeights, options: FrozenLinearOptions = {}) {
    this.outFeatures = weights.out;
    this.inFeatures = weights.in;
    this.weightT = new BlockedMatrix(transposeMatrix(weights.weight, weights.out, weights.in), weights.in, weights.out);
    this.weight = options.inputGradient === false ? null : new BlockedMatrix(weights.weight, weights.out, weights.in);
    let start = 0;
    const bias = weights.bias;
    this.biasBlocks = bias
      ? this.weightT.colSizes.map((size) => {
          const block = tf.tensor1d(bias.subarray(start, start + size));
          start += size;
          return block;
        })
      : null;
    const weight = this.weight;
    this.forward = weight
      ? customGrad2d(1, ([x]) => ({ value: this.weightT.multiply(x!, this.biasBlocks), gradFunc: (dy) => weight.multiply(dy) }))
      : (x) => this.weightT.multiply(x, this.biasBlocks);
  }

  /** `[rows, in]` → `[rows, out]`. */
  apply(x: tf.Tensor2D): tf.Tensor2D {
    return this.forward(x);
  }

  /** `W` in the Hugging Face layout `[out, in]`, owned by the layer (do not dispose). */
  weightTensor(): tf.Tensor2D {
    const whole = this.weight?.whole();
    if (whole) return whole;
    this.hfWeight ??= this.weight ? this.weight.assemble() : tf.tidy(() => tf.transpose(this.weightT.assemble()));
    return this.hfWeight;
  }

  dispose(): void {
    this.weightT.dispose();
    this.weight?.dispose();
    for (const block of this.biasBlocks ?? []) block.dispose();
    this.hfWeight?.dispose();
  }
}

/** LayerNorm over the last axis of `[rows, width]`, with a hand-written input gradient. */
export class FrozenLayerNorm {
  private readonly gamma: tf.Tensor1D;
  private readonly beta: tf.Tensor1D;
  private readonly forward: (x: tf.Tensor2D) => tf.Tensor2D;

  constructor(gamma: Float32Array, beta: Float32Array, eps: number) {
    this.gamma = tf.tensor1d(gamma);
    this.beta = tf.tensor1d(beta);
    const g = this.gamma;
    this.forward = customGrad2d(1, ([x], save) => {
      const { mean, variance } = tf.moments(x!, -1, true); // [rows, 1]
      const invStd = tf.rsqrt(tf.add(variance, eps));
      const normalised = tf.mul(tf.sub(x!, mean), invStd) as tf.Tensor2D;
      save([normalised, invStd]);
      return {
        value: tf.add(tf.mul(normalised, g), this.beta),
        // dx = (g - mean(g) - x̂·mean(g·x̂)) / σ with g = dy·γ.
        gradFunc: (dy, saved) => {
          const [xHat, inv] = saved as [tf.Tensor2D, tf.Tensor2D];
          const scaled = tf.mul(dy, g);
          const centred = tf.sub(scaled, tf.mean(scaled, -1, true));
          return tf.mul(tf.sub(centred, tf.mul(xHat, tf.mean(tf.mul(scaled, xHat), -1, true))), inv);
        },
      };
    });
  }

  apply(x: tf.Tensor2D): tf.Tensor2D {
    return this.forward(x);
  }

  dispose(): void {
    this.gamma.dispose();
    this.beta.dispose();
  }
}

export type Activation = 'quick_gelu' | 'gelu';

/** quick_gelu `x·σ(1.702x)` (OpenAI CLIP) or the exact erf gelu. */
export function activate(x: tf.Tensor2D, kind: Activation): tf.Tensor2D {
  if (kind === 'quick_gelu') return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
  return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
}

/** `[tokens, tokens]` additive mask: 0 on and below the diagonal, a large negative above. */
export function causalMask(tokens: number): tf.Tensor2D {
  const values = new Float32Array(tokens * tokens);
  for (let i = 0; i < tokens; i++) for (let j = i + 1; j < tokens; j++) values[i * tokens + j] = -1e9;
  return tf.tensor2d(values, [tokens, tokens]);
}

export interface AttentionShape {
  batch: number;
  tokens: number;
  heads: number;
  /** Additive `[tokens, tokens]` mask (causal for the text tower), or null. */
  mask: tf.Tensor2D | null;
}

/**
 * Multi-head self-attention on 2-D activations. `qkv` is `[batch*tokens, 3*width]`
 * (queries already scaled by 1/√headDim); the result is `[batch*tokens, width]`
 * before the output projection. Each (sample, head) is two plain 2-D matMuls: the
 * batched matMul is a slow loop on wasm and its broadcasting gradient is wrong there.
 * Splits (gradient: concat) rather than slices (gradient: a full-size pad each).
 */
export function attentionCore(qkv: tf.Tensor2D, shape: AttentionShape): tf.Tensor2D {
  const { batch, heads, mask } = shape;
  const [queries, keys, values] = tf.split(qkv, 3, 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D]; // 3 × [batch*tokens, width]
  const keysT = tf.transpose(keys) as tf.Tensor2D; // [width, batch*tokens]
  const splitRows = (t: tf.Tensor2D, axis: 0 | 1): tf.Tensor2D[] => (batch === 1 ? [t] : (tf.split(t, batch, axis) as tf.Tensor2D[]));
  const qHeads = (tf.split(queries, heads, 1) as tf.Tensor2D[]).map((q) => splitRows(q, 0)); // [head][sample] → [tokens, headDim]
  const vHeads = (tf.split(values, heads, 1) as tf.Tensor2D[]).map((v) => splitRows(v, 0));
  const kHeads = (tf.split(keysT, heads, 0) as tf.Tensor2D[]).map((k) => splitRows(k, 1)); // [head][sample] → [headDim, tokens]
  const samples: tf.Tensor2D[] = [];
  for (let b = 0; b < batch; b++) {
    const perHead: tf.Tensor2D[] = [];
    for (let h = 0; h < heads; h++) {
      const scores = matMul2d(qHeads[h]![b]!, kHeads[h]![b]!); // [tokens, tokens]
      const probabilities = tf.softmax(mask ? tf.add<tf.Tensor2D>(scores, mask) : scores);
      perHead.push(matMul2d(probabilities, vHeads[h]![b]!)); // [tokens, headDim]
    }
    samples.push(heads === 1 ? perHead[0]! : tf.concat(perHead, 1)); // [tokens, width]
  }
  return batch === 1 ? samples[0]! : tf.concat(samples, 0); // [batch*tokens, width]
}
