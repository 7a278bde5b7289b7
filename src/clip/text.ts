/**
 * The text tower: token + position embedding, causal encoder layers, final LN, the
 * feature at the end-of-text token, and the text projection. It is never trained,
 * so the embedding lookup is a forward-only `gather` (its gradient is missing on wasm)
 * and the linears keep only `Wᵀ`.
 */
import * as tf from '@tensorflow/tfjs';
import { EncoderLayer, type TensorTable, tensorData } from './encoder';
import { causalMask, FrozenLayerNorm, FrozenLinear } from './layers';
import type { ClipTextConfig } from './types';
import { ClipInputShapeError } from './vision';

/**
 * Row index of the end-of-text token for each sequence: the FIRST position holding
 * `eosTokenId`. Hugging Face does the same for current configs and takes the argmax of
 * the ids for legacy ones (eos_token_id 2); the config reader maps those to the real id.
 * A row without the token (a tokenizer that drops it) falls back to the argmax.
 */
export function endOfTextPositions(ids: Int32Array | Float32Array, rows: number, length: number, eosTokenId: number): number[] {
  const positions: number[] = [];
  for (let r = 0; r < rows; r++) {
    let found = -1;
    let argmax = 0;
    for (let t = 0; t < length; t++) {
      const id = ids[r * length + t]!;
      if (id === eosTokenId) {
        found = t;
        break;
      }
      if (id > ids[r * length + argmax]!) argmax = t;
    }
    positions.push(found >= 0 ? found : argmax);
  }
  return positions;
}

export class TextTower {
  private readonly tokenEmbedding: tf.Tensor2D;
  private readonly positionEmbedding: tf.Tensor2D;
  private readonly layers: EncoderLayer[];
  private readonly finalLayerNorm: FrozenLayerNorm;
  private readonly projection: FrozenLinear;

  constructor(
    table: TensorTable,
    private readonly config: ClipTextConfig,
    projectionDim: number,
  ) {
    const { hiddenSize: width, layerNormEps: eps } = config;
    this.tokenEmbedding = tf.tensor2d(tensorData(table, 'text_model.embeddings.token_embedding.weight'), [config.vocabSize, width]);
    this.positionEmbedding = tf.tensor2d(tensorData(table, 'text_model.embeddings.position_embedding.weight'), [config.maxPositionEmbeddings, width]);
    const dims = { width, intermediate: config.intermediateSize, heads: config.numHeads, eps, activation: config.hiddenAct };
    const forwardOnly = { inputGradient: false };
    this.layers = Array.from({ length: config.numLayers }, (_, i) => new EncoderLayer(table, `text_model.encoder.layers.${i}`, dims, forwardOnly));
    this.finalLayerNorm = new FrozenLayerNorm(tensorData(table, 'text_model.final_layer_norm.weight'), tensorData(table, 'text_model.final_layer_norm.bias'), eps);
    this.projection = new FrozenLinear({ weight: tensorData(table, 'text_projection.weight'), out: projectionDim, in: width }, forwardOnly);
  }

  /** Final-LN hidden state at the end-of-text token, `[rows, width]` (before the projection). */
  pooled(ids: tf.Tensor2D): tf.Tensor2D {
    const [rows, fullLength] = ids.shape;
    const { maxPositionEmbeddings, hiddenSize: width, eosTokenId } = this.config;
    if (fullLength > maxPositionEmbeddings) throw new ClipInputShapeError(`token ids have ${fullLength} positions, the text tower holds at most ${maxPositionEmbeddings}`);
    const positions = endOfTextPositions(ids.dataSync() as Int32Array, rows, fullLength, eosTokenId);
    // Attention is causal: nothing after the last end-of-text token can change a feature, so stop there.
    const length = Math.max(...positions) + 1;
    const flatIds = tf.cast(tf.reshape(tf.slice(ids, [0, 0], [rows, length]), [rows * length]), 'int32'); // [rows*length]
    const embedded = tf.add(tf.reshape(tf.gather(this.tokenEmbedding, flatIds), [rows, length, width]), tf.slice(this.positionEmbedding, [0, 0], [length, width])); // [rows, length, width]
    let x = tf.reshape(embedded, [rows * length, width]) as tf.Tensor2D; // [rows*length, width]
    const mask = causalMask(length);
    for (const layer of this.layers) {
      const input = x;
      x = tf.tidy(() => {
        const xTilde = layer.attend(input, rows, length, mask);
        return tf.add<tf.Tensor2D>(xTilde, layer.mlp(xTilde));
      });
    }
    const eot = tf.gather(x, tf.tensor1d(positions.map((p, r) => r * length + p), 'int32')); // [rows, width]
    return this.finalLayerNorm.apply(eot);
  }

  /** Projected text embedding `[rows, projectionDim]`. */
  encode(ids: tf.Tensor2D): tf.Tensor2D {
    return this.projection.apply(this.pooled(ids));
  }

  dispose(): void {
    this.tokenEmbedding.dispose();
    this.positionEmbedding.dispose();
    for (const layer of this.layers) layer.dispose();
    this.finalLayerNorm.dispose();
    this.projection.dispose();
  }
}
