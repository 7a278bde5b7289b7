/**
 * The vision tower: patch embedding (a reshape plus one matMul, equivalent to the
 * stride-p convolution), class token, position embedding, pre-LN, the encoder layers
 * with an optional per-block hook (adapters), and post-LN on the class token.
 */
import * as tf from '@tensorflow/tfjs';
import { EncoderLayer, type TensorTable, tensorData } from './encoder';
import { FrozenLayerNorm, FrozenLinear } from './layers';
import type { ClipVisionConfig, VisionBlockHook } from './types';
import { ClipError } from '../common/errors';

/** The pixels do not have the shape the model expects. */
export class ClipInputShapeError extends ClipError {
  constructor(message: string) {
    super(message);
    this.name = 'ClipInputShapeError';
  }
}

/**
 * Conv weight `[width, 3, p, p]` (channel, row, column) → linear weight `[width, p*p*3]`
 * whose inputs are in (row, column, channel) order, the order NHWC patches flatten to.
 */
export function patchWeightToLinear(weight: Float32Array, width: number, patch: number): Float32Array {
  const out = new Float32Array(weight.length);
  const inputs = patch * patch * 3;
  for (let o = 0; o < width; o++)
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < patch; y++)
        for (let x = 0; x < patch; x++) out[o * inputs + (y * patch + x) * 3 + c] = weight[((o * 3 + c) * patch + y) * patch + x]!;
  return out;
}

export class VisionTower {
  readonly tokens: number;
  private readonly grid: number;
  private readonly patchEmbedding: FrozenLinear;
  private readonly classEmbedding: tf.Tensor3D;
  private readonly positionEmbedding: tf.Tensor2D;
  private readonly preLayerNorm: FrozenLayerNorm;
  private readonly layers: EncoderLayer[];
  private readonly postLayerNorm: FrozenLayerNorm;

  constructor(
    table: TensorTable,
    private readonly config: ClipVisionConfig,
  ) {
    const { hiddenSize: width, patchSize: patch, layerNormEps: eps } = config;
    const get = (name: string): Float32Array => tensorData(table, `vision_model.${name}`);
    this.grid = config.imageSize / patch;
    this.tokens = this.grid * this.grid + 1;
    const patchWeight = patchWeightToLinear(get('embeddings.patch_embedding.weight'), width, patch); // [width, p*p*3]
    this.patchEmbedding = new FrozenLinear({ weight: patchWeight, out: width, in: patch * patch * 3 });
    this.classEmbedding = tf.tensor3d(get('embeddings.class_embedding'), [1, 1, width]);
    this.positionEmbedding = tf.tensor2d(get('embeddings.position_embedding.weight'), [this.tokens, width]);
    this.preLayerNorm = new FrozenLayerNorm(get('pre_layrnorm.weight'), get('pre_layrnorm.bias'), eps);
    this.postLayerNorm = new FrozenLayerNorm(get('post_layernorm.weight'), get('post_layernorm.bias'), eps);
    const dims = { width, intermediate: config.intermediateSize, heads: config.numHeads, eps, activation: config.hiddenAct };
    this.layers = Array.from({ length: config.numLayers }, (_, i) => new EncoderLayer(table, `vision_model.encoder.layers.${i}`, dims, {}));
  }

  /** NHWC pixels → patch rows `[batch*grid*grid, p*p*3]` in (row, column, channel) order. */
  extractPatches(pixels: tf.Tensor4D): tf.Tensor2D {
    const [batch] = pixels.shape;
    const { patchSize: p } = this.config;
    const g = this.grid;
    const rows = tf.reshape(pixels, [batch * g, p, g, p * 3]); // [batch*gridRow, patchRow, gridCol, patchCol*channel]
    const ordered = tf.transpose(rows, [0, 2, 1, 3]); // [batch*gridRow, gridCol, patchRow, patchCol*channel]
    return tf.reshape(ordered, [batch * g * g, p * p * 3]); // [batch*patches, p*p*3]
  }

  /** Embeddings before pre-LN: `[batch*tokens, width]`, class token first in each sample. */
  embed(pixels: tf.Tensor4D): tf.Tensor2D {
    const [batch] = pixels.shape;
    const width = this.config.hiddenSize;
    const patches = tf.reshape(this.patchEmbedding.apply(this.extractPatches(pixels)), [batch, this.tokens - 1, width]); // [batch, patches, width]
    const classTokens = tf.tile(this.classEmbedding, [batch, 1, 1]); // [batch, 1, width]
    const sequence = tf.add(tf.concat([classTokens, patches], 1), this.positionEmbedding); // [batch, tokens, width]
    return tf.reshape(sequence, [batch * this.tokens, width]); // [batch*tokens, width]
  }

  /** f: class token after post-LN, `[batch, width]`. */
  features(pixels: tf.Tensor4D, hook: VisionBlockHook | undefined): tf.Tensor2D {
    const [batch, height, widthPx, channels] = pixels.shape;
    const size = this.config.imageSize;
    if (height !== size || widthPx !== size || channels !== 3) {
      throw new ClipInputShapeError(`pixels must be NHWC [batch, ${size}, ${size}, 3], got [${pixels.shape.join(', ')}]`);
    }
    let x = this.preLayerNorm.apply(this.embed(pixels));
    if (this.layers.length === 0) return this.postLayerNorm.apply(this.classTokens(x, batch));
    const last = this.layers.length - 1;
    this.layers.forEach((layer, index) => {
      // One tidy per block keeps the peak memory to one block's activations (the tape keeps what backprop needs).
      x = tf.tidy(() => {
        let xTilde = layer.attend(x, batch, this.tokens, null);
        // Only the class token reaches f: the last block's MLP (and adapter, which acts per token)
        // run on it alone, an exact saving of most of that block, forward and backward.
        if (index === last) xTilde = this.classTokens(xTilde, batch);
        const extra = hook?.(index, xTilde, { batch, tokens: index === last ? 1 : this.tokens }) ?? null;
        const withMlp = tf.add<tf.Tensor2D>(xTilde, layer.mlp(xTilde));
        return extra ? tf.add<tf.Tensor2D>(withMlp, extra) : withMlp;
      });
    });
    return this.postLayerNorm.apply(x); // [batch, width]
  }

  /** The class token of each sample: `[batch*tokens, width]` → `[batch, width]`. */
  private classTokens(x: tf.Tensor2D, batch: number): tf.Tensor2D {
    const width = this.config.hiddenSize;
    return tf.reshape(tf.slice(tf.reshape(x, [batch, this.tokens, width]), [0, 0, 0], [batch, 1, width]), [batch, width]);
  }

  dispose(): void {
    this.patchEmbedding.dispose();
    this.classEmbedding.dispose();
    this.positionEmbedding.dispose();
    this.preLayerNorm.dispose();
    this.postLayerNorm.dispose();
    for (const layer of this.layers) layer.dispose();
  }
}
