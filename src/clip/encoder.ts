/**
 * One pre-LN transformer layer as CLIP (and Hugging Face's CLIPEncoderLayer) defines it:
 * `x̃ = x + out(attn(LN1(x)))`, then `x = x̃ + fc2(act(fc1(LN2(x̃))))`. Shared by both towers.
 */
import * as tf from '@tensorflow/tfjs';
import { type Activation, activate, attentionCore, FrozenLayerNorm, FrozenLinear, type FrozenLinearOptions } from './layers';
import type { SafetensorsEntry } from './safetensors';

export type TensorTable = ReadonlyMap<string, SafetensorsEntry>;

/** The named tensor's data; the loader has already checked presence and shape. */
export function tensorData(table: TensorTable, name: string): Float32Array {
  const entry = table.get(name);
  if (!entry) throw new Error(`internal: tensor "${name}" was not checked before use`);
  return entry.data;
}

export interface EncoderDims {
  width: number;
  intermediate: number;
  heads: number;
  eps: number;
  activation: Activation;
}

function concatRows(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const scaled = (data: Float32Array, factor: number): Float32Array => data.map((v) => v * factor);

export class EncoderLayer {
  private readonly ln1: FrozenLayerNorm;
  private readonly qkv: FrozenLinear;
  private readonly out: FrozenLinear;
  private readonly ln2: FrozenLayerNorm;
  private readonly fc1: FrozenLinear;
  private readonly fc2: FrozenLinear;

  constructor(
    table: TensorTable,
    prefix: string,
    private readonly dims: EncoderDims,
    linearOptions: FrozenLinearOptions,
  ) {
    const get = (name: string): Float32Array => tensorData(table, `${prefix}.${name}`);
    const { width, intermediate, eps } = dims;
    this.ln1 = new FrozenLayerNorm(get('layer_norm1.weight'), get('layer_norm1.bias'), eps);
    this.ln2 = new FrozenLayerNorm(get('layer_norm2.weight'), get('layer_norm2.bias'), eps);
    // One fused projection for queries, keys and values; the 1/√headDim scale is folded into the queries.
    const queryScale = 1 / Math.sqrt(width / dims.heads);
    this.qkv = new FrozenLinear(
      {
        weight: concatRows([scaled(get('self_attn.q_proj.weight'), queryScale), get('self_attn.k_proj.weight'), get('self_attn.v_proj.weight')]),
        bias: concatRows([scaled(get('self_attn.q_proj.bias'), queryScale), get('self_attn.k_proj.bias'), get('self_attn.v_proj.bias')]),
        out: 3 * width,
        in: width,
      },
      linearOptions,
    );
    this.out = new FrozenLinear({ weight: get('self_attn.out_proj.weight'), bias: get('self_attn.out_proj.bias'), out: width, in: width }, linearOptions);
    this.fc1 = new FrozenLinear({ weight: get('mlp.fc1.weight'), bias: get('mlp.fc1.bias'), out: intermediate, in: width }, linearOptions);
    this.fc2 = new FrozenLinear({ weight: get('mlp.fc2.weight'), bias: get('mlp.fc2.bias'), out: width, in: intermediate }, linearOptions);
  }

  /** x̃ = x + attention(LN1(x)); `x` is `[batch*tokens, width]`. */
  attend(x: tf.Tensor2D, batch: number, tokens: number, mask: tf.Tensor2D | null): tf.Tensor2D {
    const qkv = this.qkv.apply(this.ln1.apply(x)); // [batch*tokens, 3*width]
    const attended = attentionCore(qkv, { batch, tokens, heads: this.dims.heads, mask });
    return tf.add(x, this.out.apply(attended));
  }

  /** MLP(LN2(x̃)), the term added to x̃. */
  mlp(xTilde: tf.Tensor2D): tf.Tensor2D {
    const hidden = this.fc1.apply(this.ln2.apply(xTilde));
    return this.fc2.apply(activate(hidden, this.dims.activation));
  }

  dispose(): void {
    for (const part of [this.ln1, this.qkv, this.out, this.ln2, this.fc1, this.fc2]) part.dispose();
  }
}
