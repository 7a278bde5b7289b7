/**
 * The CLIP runtime's public contract. The Sage engine builds on exactly this; the
 * implementation (`ClipModelImpl`) stays private to src/clip.
 *
 * Conventions: images are NHWC float32, already CLIP-normalised, `[batch, size, size, 3]`.
 * Linear weights keep the Hugging Face layout `[out, in]`; activations are 2-D
 * `[batch * tokens, width]` inside the towers (the fast path on wasm).
 */
import type * as tf from '@tensorflow/tfjs';

export interface ClipVisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  imageSize: number;
  patchSize: number;
  layerNormEps: number;
  /** `quick_gelu` for OpenAI CLIP; `gelu` is accepted too. */
  hiddenAct: 'quick_gelu' | 'gelu';
}

export interface ClipTextConfig {
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  maxPositionEmbeddings: number;
  vocabSize: number;
  layerNormEps: number;
  hiddenAct: 'quick_gelu' | 'gelu';
  /** End-of-text id; the text feature is read at its (first) position. */
  eosTokenId: number;
  bosTokenId: number;
  padTokenId: number;
}

export interface ClipConfig {
  vision: ClipVisionConfig;
  text: ClipTextConfig;
  projectionDim: number;
  /** exp(logit_scale) of the checkpoint (100 for OpenAI CLIP). */
  logitScale: number;
}

/**
 * Called inside every vision block after attention, with the residual stream x̃
 * `[batch * tokens, width]`. Returns the extra term added to the block output
 * (`x = x̃ + MLP(LN2(x̃)) + extra`), or null for none. This is how adapters attach.
 * In the last block only the class token reaches the feature f, so x̃ there is the class
 * tokens alone (`tokens` = 1): a hook must act on each token independently.
 */
export type VisionBlockHook = (layer: number, xTilde: tf.Tensor2D, shape: { batch: number; tokens: number }) => tf.Tensor2D | null;

export interface EncodeImageOptions {
  blockHook?: VisionBlockHook;
}

export interface ClipModel {
  readonly config: ClipConfig;
  /** Where it was loaded from, for cache keys and logs. */
  readonly source: string;
  /** Identifies the weights (source, size and etag of model.safetensors), for cache keys. */
  readonly fingerprint?: string;
  /** Image feature f: class token after post_layernorm, before the projection. `[batch, hidden]`. */
  encodeImageFeatures(pixels: tf.Tensor4D, options?: EncodeImageOptions): tf.Tensor2D;
  /** f ↦ f·Pᵀ with the visual projection: `[batch, projectionDim]`. */
  projectImage(features: tf.Tensor2D): tf.Tensor2D;
  /** Token ids `[n, contextLength]` (int32) → projected text embedding `[n, projectionDim]`. */
  encodeText(ids: tf.Tensor2D): tf.Tensor2D;
  /** `visual_projection.weight`, `[projectionDim, visionHidden]` (frozen). */
  readonly visualProjection: tf.Tensor2D;
  dispose(): void;
}

export interface ClipTokenizer {
  readonly contextLength: number;
  /** Ids with start and end tokens, truncated to the context (end token kept), padded. */
  encode(text: string): Int32Array;
  encodeBatch(texts: readonly string[]): { ids: Int32Array; rows: number; contextLength: number };
}
