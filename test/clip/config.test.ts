/**
 * config.json as Hugging Face publishes it. The fixtures in fixtures/hf-configs are
 * copies of published files (none can be downloaded here), as found through the
 * project's search tool:
 * - openai-clip-vit-base-patch32.json: openai/clip-vit-base-patch32's config.json (as
 *   reproduced in whaler404/Hf-Learn): the full 4.16 dump, `text_config_dict` and
 *   `vision_config_dict` null, legacy `eos_token_id: 2`, many null fields.
 * - openai-clip-vit-large-patch14-legacy-dicts.json: the CLIPConfig of openai/clip-vit-large-patch14
 *   as the Stable Diffusion safety checker ships it (benjamin-paine/taproot): full dumps plus
 *   `text_config_dict` / `vision_config_dict` holding only some fields.
 * - openai-clip-vit-base-patch16-saved-by-4.38.json: openai/clip-vit-base-patch16 saved again
 *   by transformers 4.38 (huggingface.co/zabir735/clip-demo): only non-default fields.
 * - laion-clip-vit-h-14-saved-by-4.37.json: laion/CLIP-ViT-H-14-laion2B-s32B-b79K saved by
 *   transformers 4.37 (huggingface.co/aimagelab/safeclip_vit-h_14).
 * Expected sizes are the published architectures (ViT-B/32, L/14, B/16, H/14), written out here.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ClipConfigError, parseClipConfig } from '../../src/clip/config';
import type { ClipTextConfig, ClipVisionConfig } from '../../src/clip/types';

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hf-configs');
const fixtureJson = (name: string): Record<string, unknown> => JSON.parse(readFileSync(path.join(fixtures, name), 'utf8')) as Record<string, unknown>;

const vision = (v: Partial<ClipVisionConfig>): ClipVisionConfig => ({
  hiddenSize: 768,
  intermediateSize: 3072,
  numLayers: 12,
  numHeads: 12,
  imageSize: 224,
  patchSize: 32,
  layerNormEps: 1e-5,
  hiddenAct: 'quick_gelu',
  ...v,
});

// OpenAI's vocabulary: <|startoftext|> 49406, <|endoftext|> 49407.
const text = (t: Partial<ClipTextConfig>): ClipTextConfig => ({
  hiddenSize: 512,
  intermediateSize: 2048,
  numLayers: 12,
  numHeads: 8,
  maxPositionEmbeddings: 77,
  vocabSize: 49408,
  layerNormEps: 1e-5,
  hiddenAct: 'quick_gelu',
  eosTokenId: 49407,
  bosTokenId: 49406,
  padTokenId: 1,
  ...t,
});

describe('config.json as published', () => {
  it.each([
    ['openai-clip-vit-base-patch32.json', vision({}), text({}), 512],
    ['openai-clip-vit-large-patch14-legacy-dicts.json', vision({ hiddenSize: 1024, intermediateSize: 4096, numLayers: 24, numHeads: 16, patchSize: 14 }), text({ hiddenSize: 768, intermediateSize: 3072, numHeads: 12 }), 768],
    ['openai-clip-vit-base-patch16-saved-by-4.38.json', vision({ patchSize: 16 }), text({}), 512],
    [
      'laion-clip-vit-h-14-saved-by-4.37.json',
      vision({ hiddenSize: 1280, intermediateSize: 5120, numLayers: 32, numHeads: 16, patchSize: 14, hiddenAct: 'gelu' }),
      text({ hiddenSize: 1024, intermediateSize: 4096, numLayers: 24, numHeads: 16, hiddenAct: 'gelu' }),
      1024,
    ],
  ])('%s gives the published architecture', (file, expectedVision, expectedText, projectionDim) => {
    const config = parseClipConfig(readFileSync(path.join(fixtures, file), 'utf8'), file);
    expect(config.vision).toEqual(expectedVision);
    expect(config.text).toEqual(expectedText);
    expect(config.projectionDim).toBe(projectionDim);
    expect(config.logitScale).toBeCloseTo(Math.exp(2.6592), 10);
  });
});

describe('text_config_dict and vision_config_dict, as transformers applies them', () => {
  const legacy = fixtureJson('openai-clip-vit-large-patch14-legacy-dicts.json');
  const withSubConfigs = (textConfig: Record<string, unknown>, visionConfig: Record<string, unknown>): Record<string, unknown> => ({
    ...legacy,
    text_config: { ...(legacy.text_config as object), ...textConfig },
    vision_config: { ...(legacy.vision_config as object), ...visionConfig },
  });

  it('takes a field from *_config_dict where it disagrees with *_config', () => {
    // Stale values in text_config / vision_config: CLIPConfig overwrites them with the dicts' values.
    const config = parseClipConfig(withSubConfigs({ hidden_size: 512, num_attention_heads: 8 }, { hidden_size: 768, patch_size: 32 }));
    expect(config.text.hiddenSize).toBe(768);
    expect(config.text.numHeads).toBe(12);
    expect(config.vision.hiddenSize).toBe(1024);
    expect(config.vision.patchSize).toBe(14);
  });

  it('gives a field missing from *_config_dict its default, whatever *_config says', () => {
    // CLIPConfig builds a complete CLIPTextConfig from text_config_dict and writes every field of it over text_config.
    const config = parseClipConfig(withSubConfigs({ max_position_embeddings: 32, eos_token_id: 2, layer_norm_eps: 1e-6 }, { image_size: 336 }));
    expect(config.text.maxPositionEmbeddings).toBe(77);
    expect(config.text.layerNormEps).toBe(1e-5);
    // The default end-of-text id (49407), not the legacy 2 of text_config.
    expect(config.text.eosTokenId).toBe(49407);
    expect(config.vision.imageSize).toBe(224);
  });

  it('uses *_config alone where the dict is null or absent, and defaults where both are', () => {
    const patch32 = fixtureJson('openai-clip-vit-base-patch32.json');
    expect(parseClipConfig({ ...patch32, vision_config: { ...(patch32.vision_config as object), patch_size: 16 } }).vision.patchSize).toBe(16);
    const bare = parseClipConfig({ text_config: null, vision_config: null, text_config_dict: null, vision_config_dict: null });
    expect(bare.vision).toEqual(vision({}));
    expect(bare.text).toEqual(text({}));
    expect(bare.projectionDim).toBe(512);
  });

  it('names the dict a bad value came from', () => {
    expect(() => parseClipConfig({ ...legacy, text_config_dict: { hidden_size: -3 } })).toThrow(ClipConfigError);
    expect(() => parseClipConfig({ ...legacy, text_config_dict: { hidden_size: -3 } })).toThrow(/text_config_dict\.hidden_size/);
    expect(() => parseClipConfig({ ...legacy, vision_config_dict: { hidden_size: 1000, num_attention_heads: 16 } })).toThrow(
      /vision_config_dict\.hidden_size 1000 must be divisible by num_attention_heads 16/,
    );
  });
});

describe('null fields', () => {
  it('fall back to the default, as an absent field does', () => {
    const config = parseClipConfig({
      projection_dim: null,
      logit_scale_init_value: null,
      vision_config: { hidden_size: null, patch_size: 16, layer_norm_eps: null, hidden_act: null },
      text_config: { vocab_size: null, pad_token_id: null, eos_token_id: null, bos_token_id: null, max_position_embeddings: 32 },
    });
    expect(config.vision).toEqual(vision({ patchSize: 16 }));
    expect(config.text).toEqual(text({ maxPositionEmbeddings: 32 }));
    expect(config.projectionDim).toBe(512);
    expect(config.logitScale).toBeCloseTo(Math.exp(2.6592), 10);
  });

  it('still refuses a wrong type, with the field and what came', () => {
    expect(() => parseClipConfig({ vision_config: { hidden_size: '768' } })).toThrow(/vision_config\.hidden_size: .*number/i);
    expect(() => parseClipConfig('[1, 2]')).toThrow(/expected a JSON object, got an array/);
    expect(() => parseClipConfig({ projection_dim: 0 })).toThrow(/projection_dim/);
  });
});
