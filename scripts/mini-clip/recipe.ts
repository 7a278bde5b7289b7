/**
 * The mini-CLIP's recipe: architecture and training settings. The fixture in
 * fixtures/mini-clip is exactly `DEFAULT_RECIPE` with seed 0.
 */
import type { ClipConfig } from '../../src/clip/types';
import type { BuiltTokenizer } from './tokenizer';

export interface MiniClipRecipe {
  seed: number;
  /** Image side in pixels and ViT patch side (image / patch tokens per side). */
  imageSize: number;
  patchSize: number;
  visionHidden: number;
  visionLayers: number;
  visionHeads: number;
  textHidden: number;
  textLayers: number;
  textHeads: number;
  /** MLP width = ratio × hidden (4, as in CLIP). */
  mlpRatio: number;
  projectionDim: number;
  /** `text_config.max_position_embeddings`, which is also the tokenizer's context length. */
  maxPositionEmbeddings: number;
  /** Text tokens per caption during training (causal attention makes the rest irrelevant). */
  trainContext: number;
  steps: number;
  batchSize: number;
  learningRate: number;
  warmupSteps: number;
  weightDecay: number;
}

export const DEFAULT_RECIPE: MiniClipRecipe = {
  seed: 0,
  imageSize: 36,
  patchSize: 6,
  visionHidden: 64,
  visionLayers: 2,
  visionHeads: 4,
  textHidden: 64,
  textLayers: 2,
  textHeads: 4,
  mlpRatio: 4,
  projectionDim: 64,
  maxPositionEmbeddings: 32,
  trainContext: 20,
  steps: 500,
  batchSize: 64,
  learningRate: 2e-3,
  warmupSteps: 50,
  weightDecay: 0.1,
};

/** The CLIP config a recipe and its tokenizer describe. */
export function clipConfigFor(recipe: MiniClipRecipe, tokenizer: BuiltTokenizer): ClipConfig {
  return {
    vision: {
      hiddenSize: recipe.visionHidden,
      intermediateSize: recipe.mlpRatio * recipe.visionHidden,
      numLayers: recipe.visionLayers,
      numHeads: recipe.visionHeads,
      imageSize: recipe.imageSize,
      patchSize: recipe.patchSize,
      layerNormEps: 1e-5,
      hiddenAct: 'quick_gelu',
    },
    text: {
      hiddenSize: recipe.textHidden,
      intermediateSize: recipe.mlpRatio * recipe.textHidden,
      numLayers: recipe.textLayers,
      numHeads: recipe.textHeads,
      maxPositionEmbeddings: recipe.maxPositionEmbeddings,
      vocabSize: tokenizer.vocabSize,
      layerNormEps: 1e-5,
      hiddenAct: 'quick_gelu',
      eosTokenId: tokenizer.eosTokenId,
      bosTokenId: tokenizer.bosTokenId,
      // The runtime tokenizer pads with 0; causal attention and first-eos pooling make the pad id irrelevant.
      padTokenId: tokenizer.eosTokenId,
    },
    projectionDim: recipe.projectionDim,
    logitScale: 1 / 0.07,
  };
}
