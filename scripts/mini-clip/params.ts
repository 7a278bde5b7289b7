/**
 * The mini-CLIP's parameters under their Hugging Face names, with the trainer's layout and
 * initialisation. The trainer keeps every linear weight as `[in, out]` (so the forward is a
 * plain `x @ W`, the fast path on wasm) and the patch embedding as `[3·p·p, hidden]`; export
 * transposes them back to the HF layout (`[out, in]`, `[hidden, 3, p, p]`).
 */
import type { ClipConfig } from '../../src/clip/types';
import type { Rng } from '../../src/common/random';

/** How a parameter's trainer layout maps to the HF layout. */
export type ParamLayout = 'same' | 'linear' | 'patch';

export interface ParamSpec {
  /** The HF tensor name, e.g. `vision_model.encoder.layers.0.self_attn.q_proj.weight`. */
  name: string;
  /** Shape in the HF checkpoint. */
  hfShape: number[];
  /** Shape the trainer holds. */
  shape: number[];
  layout: ParamLayout;
  /** Standard deviation of the normal initialiser; `ones`/`zeros` for LayerNorm and biases. */
  init: number | 'ones' | 'zeros';
}

export const LOGIT_SCALE_INIT = Math.log(1 / 0.07);

function linear(name: string, inDim: number, outDim: number, std: number, bias: boolean): ParamSpec[] {
  const specs: ParamSpec[] = [{ name: `${name}.weight`, hfShape: [outDim, inDim], shape: [inDim, outDim], layout: 'linear', init: std }];
  if (bias) specs.push({ name: `${name}.bias`, hfShape: [outDim], shape: [outDim], layout: 'same', init: 'zeros' });
  return specs;
}

function layerNorm(name: string, dim: number): ParamSpec[] {
  return [
    { name: `${name}.weight`, hfShape: [dim], shape: [dim], layout: 'same', init: 'ones' },
    { name: `${name}.bias`, hfShape: [dim], shape: [dim], layout: 'same', init: 'zeros' },
  ];
}

/** One pre-LN encoder layer; initial scales follow HF CLIPPreTrainedModel._init_weights. */
function encoderLayer(prefix: string, hidden: number, intermediate: number, layers: number): ParamSpec[] {
  const inStd = hidden ** -0.5 * (2 * layers) ** -0.5;
  const outStd = hidden ** -0.5;
  const fcStd = (2 * hidden) ** -0.5;
  return [
    ...layerNorm(`${prefix}.layer_norm1`, hidden),
    ...linear(`${prefix}.self_attn.q_proj`, hidden, hidden, inStd, true),
    ...linear(`${prefix}.self_attn.k_proj`, hidden, hidden, inStd, true),
    ...linear(`${prefix}.self_attn.v_proj`, hidden, hidden, inStd, true),
    ...linear(`${prefix}.self_attn.out_proj`, hidden, hidden, outStd, true),
    ...layerNorm(`${prefix}.layer_norm2`, hidden),
    ...linear(`${prefix}.mlp.fc1`, hidden, intermediate, fcStd, true),
    ...linear(`${prefix}.mlp.fc2`, intermediate, hidden, inStd, true),
  ];
}

/** Every parameter of a CLIPModel with this config, in a fixed order. */
export function paramSpecs(config: ClipConfig): ParamSpec[] {
  const { vision, text } = config;
  const patchInputs = 3 * vision.patchSize * vision.patchSize;
  const tokens = (vision.imageSize / vision.patchSize) ** 2 + 1;
  const specs: ParamSpec[] = [
    { name: 'vision_model.embeddings.class_embedding', hfShape: [vision.hiddenSize], shape: [vision.hiddenSize], layout: 'same', init: vision.hiddenSize ** -0.5 },
    {
      name: 'vision_model.embeddings.patch_embedding.weight',
      hfShape: [vision.hiddenSize, 3, vision.patchSize, vision.patchSize],
      shape: [patchInputs, vision.hiddenSize],
      layout: 'patch',
      init: patchInputs ** -0.5,
    },
    { name: 'vision_model.embeddings.position_embedding.weight', hfShape: [tokens, vision.hiddenSize], shape: [tokens, vision.hiddenSize], layout: 'same', init: 0.02 },
    ...layerNorm('vision_model.pre_layrnorm', vision.hiddenSize),
  ];
  for (let i = 0; i < vision.numLayers; i++) {
    specs.push(...encoderLayer(`vision_model.encoder.layers.${i}`, vision.hiddenSize, vision.intermediateSize, vision.numLayers));
  }
  specs.push(
    ...layerNorm('vision_model.post_layernorm', vision.hiddenSize),
    { name: 'text_model.embeddings.token_embedding.weight', hfShape: [text.vocabSize, text.hiddenSize], shape: [text.vocabSize, text.hiddenSize], layout: 'same', init: 0.02 },
    {
      name: 'text_model.embeddings.position_embedding.weight',
      hfShape: [text.maxPositionEmbeddings, text.hiddenSize],
      shape: [text.maxPositionEmbeddings, text.hiddenSize],
      layout: 'same',
      init: 0.01,
    },
  );
  for (let i = 0; i < text.numLayers; i++) {
    specs.push(...encoderLayer(`text_model.encoder.layers.${i}`, text.hiddenSize, text.intermediateSize, text.numLayers));
  }
  specs.push(
    ...layerNorm('text_model.final_layer_norm', text.hiddenSize),
    ...linear('visual_projection', vision.hiddenSize, config.projectionDim, vision.hiddenSize ** -0.5, false),
    ...linear('text_projection', text.hiddenSize, config.projectionDim, text.hiddenSize ** -0.5, false),
    { name: 'logit_scale', hfShape: [], shape: [], layout: 'same', init: 'zeros' },
  );
  return specs;
}

/** Initial values in the trainer layout, drawn from `rng` in spec order. */
export function initialValues(spec: ParamSpec, rng: Rng): Float32Array {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(count);
  if (spec.name === 'logit_scale') values.fill(LOGIT_SCALE_INIT);
  else if (spec.init === 'ones') values.fill(1);
  else if (typeof spec.init === 'number') for (let i = 0; i < count; i++) values[i] = spec.init * rng.normal();
  return values;
}

/** Trainer layout → HF layout (a transpose for linear weights and the patch embedding). */
export function toHfLayout(spec: ParamSpec, values: Float32Array): Float32Array {
  if (spec.layout === 'same') return values;
  // Both trainer layouts are [rows, cols] with rows = in (or c·ky·kx), cols = out (or hidden);
  // HF stores the transpose, which for the patch embedding is [hidden, 3, p, p] row-major.
  const [rows, cols] = spec.shape as [number, number];
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c] as number;
  return out;
}

/** Number of scalars in a spec list. */
export function countParams(specs: readonly ParamSpec[]): number {
  return specs.reduce((sum, spec) => sum + spec.shape.reduce((a, b) => a * b, 1), 0);
}
