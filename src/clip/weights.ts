/**
 * The tensors a Hugging Face CLIP checkpoint must hold, with their shapes, derived
 * from the config. One list serves the loader (to refuse a wrong checkpoint before
 * building anything) and createRandomClip (to write a checkpoint of the same layout).
 */
import type { SafetensorsEntry } from './safetensors';
import type { ClipConfig } from './types';
import { ClipError } from '../common/errors';

export interface TensorSpec {
  name: string;
  shape: number[];
  /** What the tensor is, which decides how a random checkpoint initialises it. */
  role: 'weight' | 'bias' | 'normScale' | 'logitScale';
}

/** The checkpoint does not match its config: names the tensor, and both shapes when they differ. */
export class ClipWeightsError extends ClipError {
  constructor(
    message: string,
    readonly tensor: string,
  ) {
    super(message);
    this.name = 'ClipWeightsError';
  }
}

function layerNorm(prefix: string, width: number): TensorSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [width], role: 'normScale' },
    { name: `${prefix}.bias`, shape: [width], role: 'bias' },
  ];
}

function linear(prefix: string, out: number, inp: number): TensorSpec[] {
  return [
    { name: `${prefix}.weight`, shape: [out, inp], role: 'weight' },
    { name: `${prefix}.bias`, shape: [out], role: 'bias' },
  ];
}

function encoderLayers(prefix: string, layers: number, width: number, intermediate: number): TensorSpec[] {
  const specs: TensorSpec[] = [];
  for (let i = 0; i < layers; i++) {
    const p = `${prefix}.encoder.layers.${i}`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) specs.push(...linear(`${p}.self_attn.${proj}`, width, width));
    specs.push(...layerNorm(`${p}.layer_norm1`, width));
    specs.push(...linear(`${p}.mlp.fc1`, intermediate, width));
    specs.push(...linear(`${p}.mlp.fc2`, width, intermediate));
    specs.push(...layerNorm(`${p}.layer_norm2`, width));
  }
  return specs;
}

/** Every tensor the runtime reads, in Hugging Face names and shapes. */
export function clipTensorSpecs(config: ClipConfig): TensorSpec[] {
  const { vision, text } = config;
  const patches = (vision.imageSize / vision.patchSize) ** 2;
  return [
    { name: 'vision_model.embeddings.class_embedding', shape: [vision.hiddenSize], role: 'weight' },
    { name: 'vision_model.embeddings.patch_embedding.weight', shape: [vision.hiddenSize, 3, vision.patchSize, vision.patchSize], role: 'weight' },
    { name: 'vision_model.embeddings.position_embedding.weight', shape: [patches + 1, vision.hiddenSize], role: 'weight' },
    ...layerNorm('vision_model.pre_layrnorm', vision.hiddenSize),
    ...encoderLayers('vision_model', vision.numLayers, vision.hiddenSize, vision.intermediateSize),
    ...layerNorm('vision_model.post_layernorm', vision.hiddenSize),
    { name: 'visual_projection.weight', shape: [config.projectionDim, vision.hiddenSize], role: 'weight' },
    { name: 'text_model.embeddings.token_embedding.weight', shape: [text.vocabSize, text.hiddenSize], role: 'weight' },
    { name: 'text_model.embeddings.position_embedding.weight', shape: [text.maxPositionEmbeddings, text.hiddenSize], role: 'weight' },
    ...encoderLayers('text_model', text.numLayers, text.hiddenSize, text.intermediateSize),
    ...layerNorm('text_model.final_layer_norm', text.hiddenSize),
    { name: 'text_projection.weight', shape: [config.projectionDim, text.hiddenSize], role: 'weight' },
    { name: 'logit_scale', shape: [], role: 'logitScale' },
  ];
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * Checks that every expected tensor is present with its expected shape. A scalar
 * `logit_scale` stored as `[1]` is accepted (some exporters do that). Takes decoded tensors
 * or a header's shapes alone (readSafetensorsHeader), so validation checks a checkpoint
 * without downloading it.
 */
export function checkClipTensors(config: ClipConfig, tensors: ReadonlyMap<string, Pick<SafetensorsEntry, 'shape'>>, where: string): void {
  for (const spec of clipTensorSpecs(config)) {
    const found = tensors.get(spec.name);
    if (!found) {
      throw new ClipWeightsError(`${where}: tensor "${spec.name}" is missing (expected shape [${spec.shape.join(', ')}] from config.json)`, spec.name);
    }
    const scalarAsVector = spec.shape.length === 0 && found.shape.reduce((a, b) => a * b, 1) === 1;
    if (!sameShape(found.shape, spec.shape) && !scalarAsVector) {
      throw new ClipWeightsError(
        `${where}: tensor "${spec.name}" has shape [${found.shape.join(', ')}], expected [${spec.shape.join(', ')}] from config.json`,
        spec.name,
      );
    }
  }
}
