/** openai/clip-vit-base-patch16's shapes as a ClipConfig (no weights): the memory-model and planning tests size a real run with it. */
import type { ClipConfig } from '../../src/clip/types';

export const VIT_B16_CONFIG: ClipConfig = {
  vision: { hiddenSize: 768, intermediateSize: 3072, numLayers: 12, numHeads: 12, imageSize: 224, patchSize: 16, layerNormEps: 1e-5, hiddenAct: 'quick_gelu' },
  text: { hiddenSize: 512, intermediateSize: 2048, numLayers: 12, numHeads: 8, maxPositionEmbeddings: 77, vocabSize: 49408, layerNormEps: 1e-5, hiddenAct: 'quick_gelu', eosTokenId: 49407, bosTokenId: 49406, padTokenId: 49407 },
  projectionDim: 512,
  logitScale: 100,
};
