/**
 * Reads a Hugging Face `CLIPConfig` (`config.json`) into the typed ClipConfig, as
 * transformers' CLIPConfig resolves it: missing or null fields take the Hugging Face
 * defaults (so `{}` describes a ViT-B/32), and the legacy `text_config_dict` /
 * `vision_config_dict` of early exports take precedence over `text_config` / `vision_config`.
 */
import { z } from 'zod';
import type { ClipConfig, ClipTextConfig, ClipVisionConfig } from './types';

export type { ClipConfig, ClipTextConfig, ClipVisionConfig };
import { ClipError } from '../common/errors';

/** config.json is not a usable CLIP config: names the field and what was expected. */
export class ClipConfigError extends ClipError {
  constructor(message: string) {
    super(message);
    this.name = 'ClipConfigError';
  }
}

const positiveInt = z.number().int().positive();
const activation = z.enum(['quick_gelu', 'gelu']);

const visionSchema = z.object({
  hidden_size: positiveInt.default(768),
  intermediate_size: positiveInt.default(3072),
  num_hidden_layers: positiveInt.default(12),
  num_attention_heads: positiveInt.default(12),
  image_size: positiveInt.default(224),
  patch_size: positiveInt.default(32),
  num_channels: z.literal(3).default(3),
  layer_norm_eps: z.number().positive().default(1e-5),
  hidden_act: activation.default('quick_gelu'),
});

const textSchema = z.object({
  hidden_size: positiveInt.default(512),
  intermediate_size: positiveInt.default(2048),
  num_hidden_layers: positiveInt.default(12),
  num_attention_heads: positiveInt.default(8),
  max_position_embeddings: positiveInt.default(77),
  vocab_size: positiveInt.default(49408),
  layer_norm_eps: z.number().positive().default(1e-5),
  hidden_act: activation.default('quick_gelu'),
  eos_token_id: z.number().int().nonnegative().default(49407),
  bos_token_id: z.number().int().nonnegative().default(49406),
  pad_token_id: z.number().int().nonnegative().default(1),
});

const topSchema = z.object({
  projection_dim: positiveInt.default(512),
  logit_scale_init_value: z.number().default(2.6592),
});

/** The fields of config.json this reader uses (all optional; anything else is ignored). */
export interface HfClipConfigJson extends z.input<typeof topSchema> {
  vision_config?: z.input<typeof visionSchema> | null;
  text_config?: z.input<typeof textSchema> | null;
  vision_config_dict?: z.input<typeof visionSchema> | null;
  text_config_dict?: z.input<typeof textSchema> | null;
}

/**
 * Legacy OpenAI conversions store `eos_token_id: 2` / `bos_token_id: 0` although the
 * real end-of-text token is the last id of the vocabulary (Hugging Face then takes the
 * argmax of the ids instead). We read the feature at the first position of the eos id,
 * so map the legacy ids to the ones the tokenizer actually emits.
 */
function textConfigFrom(text: z.output<typeof textSchema>): ClipTextConfig {
  const legacy = text.eos_token_id === 2;
  return {
    hiddenSize: text.hidden_size,
    intermediateSize: text.intermediate_size,
    numLayers: text.num_hidden_layers,
    numHeads: text.num_attention_heads,
    maxPositionEmbeddings: text.max_position_embeddings,
    vocabSize: text.vocab_size,
    layerNormEps: text.layer_norm_eps,
    hiddenAct: text.hidden_act,
    eosTokenId: legacy ? text.vocab_size - 1 : text.eos_token_id,
    bosTokenId: legacy ? text.vocab_size - 2 : text.bos_token_id,
    padTokenId: text.pad_token_id,
  };
}

function visionConfigFrom(vision: z.output<typeof visionSchema>, where: string): ClipVisionConfig {
  if (vision.image_size % vision.patch_size !== 0) {
    throw new ClipConfigError(`${where}.image_size ${vision.image_size} must be a multiple of patch_size ${vision.patch_size}`);
  }
  return {
    hiddenSize: vision.hidden_size,
    intermediateSize: vision.intermediate_size,
    numLayers: vision.num_hidden_layers,
    numHeads: vision.num_attention_heads,
    imageSize: vision.image_size,
    patchSize: vision.patch_size,
    layerNormEps: vision.layer_norm_eps,
    hiddenAct: vision.hidden_act,
  };
}

function checkHeads(where: string, hidden: number, heads: number): void {
  if (hidden % heads !== 0) throw new ClipConfigError(`${where}.hidden_size ${hidden} must be divisible by num_attention_heads ${heads}`);
}

type JsonObject = Record<string, unknown>;

const isObject = (value: unknown): value is JsonObject => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A null field means "not set" (the default applies), as an absent one does. */
function withoutNulls(object: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== null));
}

/**
 * The sub-config transformers' CLIPConfig builds for `key` (`text_config` or
 * `vision_config`). Old exports also carry `<key>_dict`; where it is present, CLIPConfig
 * makes a complete CLIPTextConfig / CLIPVisionConfig from it (defaults for every field it
 * lacks) and writes all of those fields over `<key>`, so each field read here comes from
 * `<key>_dict` or the default, never from `<key>`. A null `<key>` or `<key>_dict` counts
 * as absent.
 */
function subConfigSource(json: JsonObject, key: 'text_config' | 'vision_config'): { source: JsonObject; where: string } {
  const override = json[`${key}_dict`];
  if (isObject(override)) return { source: withoutNulls(override), where: `${key}_dict` };
  const base = json[key];
  return { source: isObject(base) ? withoutNulls(base) : {}, where: key };
}

function parsePart<T extends z.ZodType>(schema: T, source: JsonObject, where: string, problems: string[]): z.output<T> | null {
  const parsed = schema.safeParse(source);
  if (parsed.success) return parsed.data;
  problems.push(...parsed.error.issues.map((issue) => `${[where, ...issue.path.map(String)].filter((p) => p !== '').join('.') || '(root)'}: ${issue.message}`));
  return null;
}

/** Parses config.json text (or an already parsed object) into a ClipConfig. */
export function parseClipConfig(input: string | unknown, where = 'config.json'): ClipConfig {
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (error) {
      throw new ClipConfigError(`${where} is not JSON: ${(error as Error).message}`);
    }
  }
  if (!isObject(json)) throw new ClipConfigError(`${where} is not a CLIP config: expected a JSON object, got ${Array.isArray(json) ? 'an array' : String(json)}`);
  const problems: string[] = [];
  const top = parsePart(topSchema, withoutNulls(json), '', problems);
  const visionPart = subConfigSource(json, 'vision_config');
  const textPart = subConfigSource(json, 'text_config');
  const vision = parsePart(visionSchema, visionPart.source, visionPart.where, problems);
  const text = parsePart(textSchema, textPart.source, textPart.where, problems);
  if (!top || !vision || !text) throw new ClipConfigError(`${where} is not a CLIP config: ${problems.join('; ')}`);
  checkHeads(visionPart.where, vision.hidden_size, vision.num_attention_heads);
  checkHeads(textPart.where, text.hidden_size, text.num_attention_heads);
  return {
    vision: visionConfigFrom(vision, visionPart.where),
    text: textConfigFrom(text),
    projectionDim: top.projection_dim,
    logitScale: Math.exp(top.logit_scale_init_value),
  };
}

/** The HF config.json for a ClipConfig (what createRandomClip and the mini-CLIP writer store). */
export function toHfConfigJson(config: ClipConfig): Record<string, unknown> {
  const { vision, text } = config;
  return {
    architectures: ['CLIPModel'],
    model_type: 'clip',
    projection_dim: config.projectionDim,
    logit_scale_init_value: Math.log(config.logitScale),
    vision_config: {
      model_type: 'clip_vision_model',
      hidden_size: vision.hiddenSize,
      intermediate_size: vision.intermediateSize,
      num_hidden_layers: vision.numLayers,
      num_attention_heads: vision.numHeads,
      image_size: vision.imageSize,
      patch_size: vision.patchSize,
      num_channels: 3,
      layer_norm_eps: vision.layerNormEps,
      hidden_act: vision.hiddenAct,
      projection_dim: config.projectionDim,
    },
    text_config: {
      model_type: 'clip_text_model',
      hidden_size: text.hiddenSize,
      intermediate_size: text.intermediateSize,
      num_hidden_layers: text.numLayers,
      num_attention_heads: text.numHeads,
      max_position_embeddings: text.maxPositionEmbeddings,
      vocab_size: text.vocabSize,
      layer_norm_eps: text.layerNormEps,
      hidden_act: text.hiddenAct,
      eos_token_id: text.eosTokenId,
      bos_token_id: text.bosTokenId,
      pad_token_id: text.padTokenId,
      projection_dim: config.projectionDim,
    },
  };
}
