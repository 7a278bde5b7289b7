/**
 * The smallest valid CLIP weights folder, as bytes: a config.json and a model.safetensors
 * holding every tensor the config needs (a few KB). Validation now reads the config and the
 * safetensors header, so handler and manifest tests need real files, not placeholders.
 */
import { toHfConfigJson, type ClipConfig } from '../../src/clip/config';
import { writeSafetensors } from '../../src/clip/safetensors';
import { randomClipTensors } from '../../src/clip/testing';

export const TINY_CLIP_CONFIG: ClipConfig = {
  vision: { hiddenSize: 8, intermediateSize: 16, numLayers: 1, numHeads: 2, imageSize: 16, patchSize: 8, layerNormEps: 1e-5, hiddenAct: 'quick_gelu' },
  text: { hiddenSize: 8, intermediateSize: 16, numLayers: 1, numHeads: 2, maxPositionEmbeddings: 8, vocabSize: 12, layerNormEps: 1e-5, hiddenAct: 'quick_gelu', bosTokenId: 10, eosTokenId: 11, padTokenId: 0 },
  projectionDim: 4,
  logitScale: 100,
};

let cached: { config: string; model: Uint8Array } | undefined;

/** config.json text and model.safetensors bytes of TINY_CLIP_CONFIG. */
export function tinyClipFiles(): { config: string; model: Uint8Array } {
  cached ??= { config: JSON.stringify(toHfConfigJson(TINY_CLIP_CONFIG)), model: writeSafetensors(randomClipTensors(TINY_CLIP_CONFIG, 1)) };
  return cached;
}
