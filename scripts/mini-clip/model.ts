/**
 * The mini-CLIP's trainable forward pass in plain differentiable tfjs ops. It computes what
 * Hugging Face's CLIPModel computes (pre-LN blocks, quick-GELU, class token and position
 * embeddings, `pre_layrnorm`, `post_layernorm` on the class token, causal text attention,
 * features at the first end-of-text token, `final_layer_norm`, bias-free projections); the
 * inference runtime in src/clip is a separate, frozen implementation of the same maths.
 *
 * Activations are 2-D `[batch * tokens, width]`; linear layers use a custom gradient made of
 * plain untransposed 2-D matMuls (the only fast matMul path on the wasm backend).
 */
import * as tf from '@tensorflow/tfjs';
import type { ClipConfig } from '../../src/clip/types';

export type ParamMap = ReadonlyMap<string, tf.Tensor>;

function param(params: ParamMap, name: string): tf.Tensor {
  const value = params.get(name);
  if (!value) throw new RangeError(`mini-CLIP parameter "${name}" is missing`);
  return value;
}

/** x @ W + b with W `[in, out]`; the backward pass uses explicit transposes instead of matMul flags. */
export const linearWithBias = tf.customGrad((...args) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x, w), b),
    gradFunc: (dy, saved) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy as tf.Tensor2D), tf.sum(dy, 0)];
    },
  };
});

const linearNoBias = tf.customGrad((...args) => {
  const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy, saved) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy as tf.Tensor2D)];
    },
  };
});

/** `[rows, in]` constant (one-hot ids, image patches) @ `[in, out]` weight: no gradient for the constant. */
export const constantTimesWeight = tf.customGrad((...args) => {
  const [x, w, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([x]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy, saved) => {
      const [xs] = saved as [tf.Tensor2D];
      return [tf.zerosLike(xs), tf.matMul(tf.transpose(xs), dy as tf.Tensor2D)];
    },
  };
});

function dense(params: ParamMap, name: string, x: tf.Tensor2D): tf.Tensor2D {
  return linearWithBias(x, param(params, `${name}.weight`), param(params, `${name}.bias`)) as tf.Tensor2D;
}

function layerNorm(params: ParamMap, name: string, x: tf.Tensor2D, eps: number): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true);
  const normalised = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
  return tf.add(tf.mul(normalised, param(params, `${name}.weight`)), param(params, `${name}.bias`));
}

function quickGelu(x: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
}

interface TowerShape {
  batch: number;
  tokens: number;
  hidden: number;
  heads: number;
  eps: number;
  /** Additive `[tokens, tokens]` mask (causal for text), or null. */
  mask: tf.Tensor2D | null;
}

function selfAttention(params: ParamMap, prefix: string, x: tf.Tensor2D, shape: TowerShape): tf.Tensor2D {
  const { batch, tokens, hidden, heads } = shape;
  const headDim = hidden / heads;
  const splitHeads = (t: tf.Tensor2D): tf.Tensor3D =>
    // [batch * tokens, hidden] → [batch, tokens, heads, headDim] → [batch, heads, tokens, headDim] → [batch * heads, tokens, headDim]
    tf.reshape(tf.transpose(tf.reshape(t, [batch, tokens, heads, headDim]), [0, 2, 1, 3]), [batch * heads, tokens, headDim]);
  const q = splitHeads(tf.mul(dense(params, `${prefix}.q_proj`, x), headDim ** -0.5));
  const k = splitHeads(dense(params, `${prefix}.k_proj`, x));
  const v = splitHeads(dense(params, `${prefix}.v_proj`, x));
  let scores: tf.Tensor3D = tf.matMul(q, k, false, true); // [batch * heads, tokens, tokens]
  if (shape.mask) scores = tf.add(scores, shape.mask);
  const context = tf.matMul(tf.softmax(scores), v); // [batch * heads, tokens, headDim]
  // [batch * heads, tokens, headDim] → [batch, heads, tokens, headDim] → [batch, tokens, heads, headDim] → [batch * tokens, hidden]
  const merged: tf.Tensor2D = tf.reshape(tf.transpose(tf.reshape(context, [batch, heads, tokens, headDim]), [0, 2, 1, 3]), [batch * tokens, hidden]);
  return dense(params, `${prefix}.out_proj`, merged);
}

function encoder(params: ParamMap, prefix: string, layers: number, x: tf.Tensor2D, shape: TowerShape): tf.Tensor2D {
  let h = x;
  for (let i = 0; i < layers; i++) {
    const layer = `${prefix}.encoder.layers.${i}`;
    h = tf.add(h, selfAttention(params, `${layer}.self_attn`, layerNorm(params, `${layer}.layer_norm1`, h, shape.eps), shape));
    const mlpIn = layerNorm(params, `${layer}.layer_norm2`, h, shape.eps);
    h = tf.add(h, dense(params, `${layer}.mlp.fc2`, quickGelu(dense(params, `${layer}.mlp.fc1`, mlpIn))));
  }
  return h;
}

/**
 * Image features f (class token after post_layernorm, before the projection), `[batch, hidden]`.
 * `patches` is `[batch * tokens, 3·p·p]` with an all-zero row at token 0 of every image (where
 * the class token goes: a zero patch embeds to zero, so class embedding + position 0 remain),
 * then the patches in row-major grid order, each flattened as (channel, y, x) like the HF conv.
 */
export function imageFeatures(params: ParamMap, config: ClipConfig, patches: tf.Tensor2D, batch: number): tf.Tensor2D {
  const { hiddenSize: hidden, numHeads: heads, numLayers, layerNormEps: eps } = config.vision;
  const tokens = patches.shape[0] / batch;
  const classRow = tf.reshape(param(params, 'vision_model.embeddings.class_embedding'), [1, hidden]);
  const tokenBias = tf.add(
    param(params, 'vision_model.embeddings.position_embedding.weight'),
    tf.concat([classRow, tf.zeros([tokens - 1, hidden])], 0),
  ); // [tokens, hidden]
  const embedded = constantTimesWeight(patches, param(params, 'vision_model.embeddings.patch_embedding.weight')) as tf.Tensor2D;
  // [batch * tokens, hidden] → [batch, tokens, hidden] (+ per-token bias) → [batch * tokens, hidden]
  let h = tf.reshape(tf.add(tf.reshape(embedded, [batch, tokens, hidden]), tokenBias), [batch * tokens, hidden]) as tf.Tensor2D;
  h = layerNorm(params, 'vision_model.pre_layrnorm', h, eps);
  h = encoder(params, 'vision_model', numLayers, h, { batch, tokens, hidden, heads, eps, mask: null });
  // [batch * tokens, hidden] → [batch, tokens, hidden] → class token [batch, hidden]
  const classToken = tf.reshape(tf.slice(tf.reshape(h, [batch, tokens, hidden]), [0, 0, 0], [batch, 1, hidden]), [batch, hidden]) as tf.Tensor2D;
  return layerNorm(params, 'vision_model.post_layernorm', classToken, eps);
}

/** `[tokens, tokens]` additive mask: 0 on and below the diagonal, a large negative above. */
export function causalMask(tokens: number): tf.Tensor2D {
  const values = new Float32Array(tokens * tokens);
  for (let i = 0; i < tokens; i++) for (let j = i + 1; j < tokens; j++) values[i * tokens + j] = -1e9;
  return tf.tensor2d(values, [tokens, tokens]);
}

/**
 * Projected text embeddings `[batch, projectionDim]`. `oneHotIds` is `[batch * tokens, vocab]`;
 * `eosMask` is `[batch, tokens, 1]` with a single 1 at each row's first end-of-text token.
 * Because attention is causal, the features at that token ignore everything after it, so a
 * context shorter than `max_position_embeddings` gives the same result as the full one.
 */
export function textEmbeddings(params: ParamMap, config: ClipConfig, oneHotIds: tf.Tensor2D, eosMask: tf.Tensor3D, mask: tf.Tensor2D): tf.Tensor2D {
  const { hiddenSize: hidden, numHeads: heads, numLayers, layerNormEps: eps } = config.text;
  const [batch, tokens] = eosMask.shape;
  const embedded = constantTimesWeight(oneHotIds, param(params, 'text_model.embeddings.token_embedding.weight')) as tf.Tensor2D;
  const positions = tf.slice(param(params, 'text_model.embeddings.position_embedding.weight'), [0, 0], [tokens, hidden]);
  // [batch * tokens, hidden] → [batch, tokens, hidden] (+ positions) → [batch * tokens, hidden]
  let h = tf.reshape(tf.add(tf.reshape(embedded, [batch, tokens, hidden]), positions), [batch * tokens, hidden]) as tf.Tensor2D;
  h = encoder(params, 'text_model', numLayers, h, { batch, tokens, hidden, heads, eps, mask });
  // [batch * tokens, hidden] → [batch, tokens, hidden] · eos mask, summed over tokens → [batch, hidden]
  const pooled = tf.sum(tf.mul(tf.reshape(h, [batch, tokens, hidden]), eosMask), 1) as tf.Tensor2D;
  const normalised = layerNorm(params, 'text_model.final_layer_norm', pooled, eps);
  return linearNoBias(normalised, param(params, 'text_projection.weight')) as tf.Tensor2D;
}

/** Projected image embeddings `[batch, projectionDim]`. */
export function imageEmbeddings(params: ParamMap, config: ClipConfig, patches: tf.Tensor2D, batch: number): tf.Tensor2D {
  return linearNoBias(imageFeatures(params, config, patches, batch), param(params, 'visual_projection.weight')) as tf.Tensor2D;
}

/** Largest logit scale CLIP allows (exp(logit_scale) is clamped to 100). */
const MAX_LOG_SCALE = Math.log(100);

/** Symmetric InfoNCE: image i matches caption i, every other pair in the batch is a negative. */
export function contrastiveLoss(params: ParamMap, imageEmbeds: tf.Tensor2D, textEmbeds: tf.Tensor2D): tf.Scalar {
  const scale = tf.exp(tf.minimum(param(params, 'logit_scale'), MAX_LOG_SCALE));
  const images = tf.div(imageEmbeds, tf.norm(imageEmbeds, 'euclidean', 1, true));
  const texts = tf.div(textEmbeds, tf.norm(textEmbeds, 'euclidean', 1, true));
  const logits = tf.mul(tf.matMul(images, texts, false, true), scale); // [batch, batch]
  const batch = logits.shape[0];
  const targets = tf.eye(batch);
  const imageToText = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), targets), 1)));
  const textToImage = tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(tf.transpose(logits)), targets), 1)));
  return tf.mul(tf.add(imageToText, textToImage), 0.5) as tf.Scalar;
}
