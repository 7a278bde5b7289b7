/**
 * An independent CLIP forward pass in plain loops over number arrays, written from the
 * Hugging Face modelling code's definitions (not from src/clip), to check the tfjs
 * runtime against. Matrices are row-major `number[][]`.
 */
export type Matrix = number[][];

export function linear(x: Matrix, weight: Float32Array, bias: Float32Array | null, out: number): Matrix {
  const inp = x[0]!.length;
  return x.map((row) => {
    const y: number[] = [];
    for (let o = 0; o < out; o++) {
      let sum = bias ? bias[o]! : 0;
      for (let i = 0; i < inp; i++) sum += row[i]! * weight[o * inp + i]!;
      y.push(sum);
    }
    return y;
  });
}

export function layerNorm(x: Matrix, gamma: Float32Array, beta: Float32Array, eps: number): Matrix {
  return x.map((row) => {
    const mean = row.reduce((a, b) => a + b, 0) / row.length;
    const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length;
    return row.map((v, i) => ((v - mean) / Math.sqrt(variance + eps)) * gamma[i]! + beta[i]!);
  });
}

/** erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7). */
function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign * (1 - poly * Math.exp(-a * a));
}

export function activation(x: Matrix, kind: 'quick_gelu' | 'gelu'): Matrix {
  return x.map((row) => row.map((v) => (kind === 'quick_gelu' ? v / (1 + Math.exp(-1.702 * v)) : 0.5 * v * (1 + erf(v / Math.SQRT2)))));
}

export function add(a: Matrix, b: Matrix): Matrix {
  return a.map((row, r) => row.map((v, c) => v + b[r]![c]!));
}

/** Scaled dot-product attention of one sequence on already projected q, k, v `[tokens, width]`. */
export function attention(q: Matrix, k: Matrix, v: Matrix, heads: number, causal: boolean): Matrix {
  const tokens = q.length;
  const width = q[0]!.length;
  const headDim = width / heads;
  const out: Matrix = Array.from({ length: tokens }, () => new Array<number>(width).fill(0));
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < tokens; i++) {
      const scores: number[] = [];
      for (let j = 0; j < tokens; j++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q[i]![h * headDim + d]! * k[j]![h * headDim + d]!;
        scores.push(causal && j > i ? -Infinity : dot / Math.sqrt(headDim));
      }
      const max = Math.max(...scores);
      const exps = scores.map((s) => Math.exp(s - max));
      const total = exps.reduce((a, b) => a + b, 0);
      for (let j = 0; j < tokens; j++) for (let d = 0; d < headDim; d++) out[i]![h * headDim + d]! += (exps[j]! / total) * v[j]![h * headDim + d]!;
    }
  }
  return out;
}

export type Weights = ReadonlyMap<string, { data: Float32Array }>;

export interface BlockDims {
  width: number;
  intermediate: number;
  heads: number;
  eps: number;
  act: 'quick_gelu' | 'gelu';
}

const w = (weights: Weights, name: string): Float32Array => {
  const entry = weights.get(name);
  if (!entry) throw new Error(`reference: no tensor ${name}`);
  return entry.data;
};

/** One CLIPEncoderLayer on one sequence; `extra(xTilde)` is added to the output (an adapter). */
export function encoderLayer(x: Matrix, weights: Weights, prefix: string, dims: BlockDims, causal: boolean, extra?: (xTilde: Matrix) => Matrix): Matrix {
  const p = (name: string): Float32Array => w(weights, `${prefix}.${name}`);
  const h = layerNorm(x, p('layer_norm1.weight'), p('layer_norm1.bias'), dims.eps);
  const q = linear(h, p('self_attn.q_proj.weight'), p('self_attn.q_proj.bias'), dims.width);
  const k = linear(h, p('self_attn.k_proj.weight'), p('self_attn.k_proj.bias'), dims.width);
  const v = linear(h, p('self_attn.v_proj.weight'), p('self_attn.v_proj.bias'), dims.width);
  const attended = linear(attention(q, k, v, dims.heads, causal), p('self_attn.out_proj.weight'), p('self_attn.out_proj.bias'), dims.width);
  const xTilde = add(x, attended);
  const hidden = activation(linear(layerNorm(xTilde, p('layer_norm2.weight'), p('layer_norm2.bias'), dims.eps), p('mlp.fc1.weight'), p('mlp.fc1.bias'), dims.intermediate), dims.act);
  const out = add(xTilde, linear(hidden, p('mlp.fc2.weight'), p('mlp.fc2.bias'), dims.width));
  return extra ? add(out, extra(xTilde)) : out;
}

/**
 * The stride-p convolution of the patch embedding, literally: for each patch, each
 * output channel sums weight[o][c][ky][kx] · pixel[row+ky][col+kx][c]. NHWC pixels of one image.
 */
export function patchEmbedding(pixels: Float32Array, size: number, patch: number, weight: Float32Array, width: number): Matrix {
  const grid = size / patch;
  const rows: Matrix = [];
  for (let gy = 0; gy < grid; gy++)
    for (let gx = 0; gx < grid; gx++) {
      const row: number[] = [];
      for (let o = 0; o < width; o++) {
        let sum = 0;
        for (let c = 0; c < 3; c++)
          for (let ky = 0; ky < patch; ky++)
            for (let kx = 0; kx < patch; kx++) sum += weight[((o * 3 + c) * patch + ky) * patch + kx]! * pixels[((gy * patch + ky) * size + gx * patch + kx) * 3 + c]!;
        row.push(sum);
      }
      rows.push(row);
    }
  return rows;
}

export interface VisionDims extends BlockDims {
  layers: number;
  imageSize: number;
  patchSize: number;
}

/** Embeddings (class token, patches, positions) of one image, before pre-LN: `[tokens, width]`. */
export function visionEmbeddings(pixels: Float32Array, weights: Weights, dims: VisionDims): Matrix {
  const patches = patchEmbedding(pixels, dims.imageSize, dims.patchSize, w(weights, 'vision_model.embeddings.patch_embedding.weight'), dims.width);
  const sequence = [Array.from(w(weights, 'vision_model.embeddings.class_embedding')), ...patches];
  const positions = w(weights, 'vision_model.embeddings.position_embedding.weight');
  return sequence.map((row, t) => row.map((v, c) => v + positions[t * dims.width + c]!));
}

/** f of one image: class token after post-LN. */
export function visionFeature(pixels: Float32Array, weights: Weights, dims: VisionDims, extra?: (layer: number, xTilde: Matrix) => Matrix): number[] {
  let x = layerNorm(visionEmbeddings(pixels, weights, dims), w(weights, 'vision_model.pre_layrnorm.weight'), w(weights, 'vision_model.pre_layrnorm.bias'), dims.eps);
  for (let l = 0; l < dims.layers; l++) x = encoderLayer(x, weights, `vision_model.encoder.layers.${l}`, dims, false, extra ? (xt) => extra(l, xt) : undefined);
  return layerNorm([x[0]!], w(weights, 'vision_model.post_layernorm.weight'), w(weights, 'vision_model.post_layernorm.bias'), dims.eps)[0]!;
}

export interface TextDims extends BlockDims {
  layers: number;
  eosTokenId: number;
}

/** Final-LN hidden state at the first end-of-text token of one id sequence. */
export function textPooled(ids: readonly number[], weights: Weights, dims: TextDims): number[] {
  const tokens = w(weights, 'text_model.embeddings.token_embedding.weight');
  const positions = w(weights, 'text_model.embeddings.position_embedding.weight');
  let x: Matrix = ids.map((id, t) => Array.from({ length: dims.width }, (_, c) => tokens[id * dims.width + c]! + positions[t * dims.width + c]!));
  for (let l = 0; l < dims.layers; l++) x = encoderLayer(x, weights, `text_model.encoder.layers.${l}`, dims, true);
  const eot = ids.indexOf(dims.eosTokenId);
  return layerNorm([x[eot]!], w(weights, 'text_model.final_layer_norm.weight'), w(weights, 'text_model.final_layer_norm.bias'), dims.eps)[0]!;
}

export function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}
