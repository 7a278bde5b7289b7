/**
 * Test utility: writes a random CLIP folder in the Hugging Face layout (config.json,
 * model.safetensors, tokenizer.json) that loadClip and loadClipTokenizer read like a
 * real checkpoint: tiny by default, up to full size (ViT-B/16 in F16 for the loading
 * benchmark), written one tensor at a time. Deterministic for a seed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { toHfConfigJson } from './config';
import { writeSafetensorsFile, type SafetensorsInput, type SafetensorsSpec } from './safetensors';
import { type BpeParts, bytesToUnicode, clipTokenizerJson, END_OF_TEXT, START_OF_TEXT } from './tokenizer-json';
import type { ClipConfig, ClipTextConfig, ClipVisionConfig } from './types';
import { clipTensorSpecs, type TensorSpec } from './weights';
import { mulberry32 } from '../common/random';

export interface RandomClipOptions {
  vision?: Partial<ClipVisionConfig>;
  /** Vocabulary size and special ids come from the generated tokenizer and cannot be set. */
  text?: Partial<Omit<ClipTextConfig, 'vocabSize' | 'eosTokenId' | 'bosTokenId' | 'padTokenId'>>;
  projectionDim?: number;
  /** Words that get whole-word BPE merges in the tiny vocabulary (others split into characters). */
  words?: readonly string[];
  /** Standard deviation of the random weights. Default 0.02 (Hugging Face's init). */
  weightStd?: number;
  /** How model.safetensors stores the weights (F16 and BF16 round the same random values). Default F32. */
  dtype?: 'F32' | 'F16' | 'BF16';
  /**
   * Also store `vision_model.embeddings.position_ids` and `text_model.embeddings.position_ids`
   * (I64 `[1, n]`, 0…n-1), as checkpoints saved by transformers before 4.31 do. Default false.
   */
  positionIds?: boolean;
  /**
   * Vocabulary size: the tiny vocabulary padded with unused tokens, the two special tokens
   * last (49408 gives OpenAI's ids, 49406 and 49407, and a full-size token embedding).
   * Default: the tiny vocabulary's own size.
   */
  vocabSize?: number;
}

export interface RandomClip {
  dir: string;
  config: ClipConfig;
}

const DEFAULT_WORDS = ['a', 'photo', 'of', 'the', 'cat', 'dog', 'car', 'tree', 'bird', 'fish'];

/** mulberry32, so a seed always gives the same checkpoint. */
export const seededRandom = mulberry32;

function normalSampler(uniform: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * A small byte-level BPE vocabulary in OpenAI's layout: the 256 byte symbols, the same
 * with `</w>`, left-to-right merges that spell each given word, then the two special tokens.
 */
export function tinyBpeParts(words: readonly string[], vocabSize?: number): BpeParts {
  const symbols = [...bytesToUnicode().values()];
  const tokens = [...symbols, ...symbols.map((s) => `${s}</w>`)];
  const known = new Set(tokens);
  const merges: string[] = [];
  for (const word of words) {
    const pieces = [...word];
    pieces[pieces.length - 1] += '</w>';
    let left = pieces[0]!;
    for (const right of pieces.slice(1)) {
      const merged = left + right;
      if (!known.has(merged)) {
        merges.push(`${left} ${right}`);
        tokens.push(merged);
        known.add(merged);
      }
      left = merged;
    }
  }
  if (vocabSize !== undefined) {
    if (vocabSize < tokens.length + 2) throw new RangeError(`vocabSize ${vocabSize} is below the tiny vocabulary's ${tokens.length + 2} tokens`);
    // Fillers no merge produces: they only move the special tokens to the end of a larger vocabulary.
    for (let i = tokens.length; i < vocabSize - 2; i++) tokens.push(`<|unused${i}|>`);
  }
  tokens.push(START_OF_TEXT, END_OF_TEXT);
  const vocab: Record<string, number> = {};
  tokens.forEach((token, id) => {
    vocab[token] = id;
  });
  return { vocab, merges };
}

function randomTensor(spec: TensorSpec, normal: () => number, std: number, logitScale: number): SafetensorsInput {
  const count = spec.shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(count);
  if (spec.role === 'weight' || spec.role === 'bias') for (let i = 0; i < count; i++) data[i] = normal() * std;
  else if (spec.role === 'normScale') for (let i = 0; i < count; i++) data[i] = 1 + normal() * 0.1;
  else data.fill(Math.log(logitScale));
  return { shape: spec.shape, data };
}

/**
 * Random tensors for every checkpoint entry of `config`, in memory (benchmarks build
 * full-size towers from this without writing hundreds of MB to disk).
 */
export function randomClipTensors(config: ClipConfig, seed = 0, weightStd = 0.02): Record<string, SafetensorsInput> {
  const normal = normalSampler(seededRandom(seed));
  const tensors: Record<string, SafetensorsInput> = {};
  for (const spec of clipTensorSpecs(config)) tensors[spec.name] = randomTensor(spec, normal, weightStd, config.logitScale);
  return tensors;
}

/** The config createRandomClip uses: tiny sizes unless overridden, special ids from the tokenizer. */
function randomClipConfig(options: RandomClipOptions, bpe: BpeParts): ClipConfig {
  return {
    vision: {
      hiddenSize: 32,
      intermediateSize: 64,
      numLayers: 2,
      numHeads: 2,
      imageSize: 32,
      patchSize: 8,
      layerNormEps: 1e-5,
      hiddenAct: 'quick_gelu',
      ...options.vision,
    },
    text: {
      hiddenSize: 32,
      intermediateSize: 64,
      numLayers: 2,
      numHeads: 2,
      maxPositionEmbeddings: 16,
      layerNormEps: 1e-5,
      hiddenAct: 'quick_gelu',
      ...options.text,
      vocabSize: Object.keys(bpe.vocab).length,
      bosTokenId: bpe.vocab[START_OF_TEXT]!,
      eosTokenId: bpe.vocab[END_OF_TEXT]!,
      padTokenId: 0,
    },
    projectionDim: options.projectionDim ?? 16,
    logitScale: 100,
  };
}

/**
 * Writes a random HF-layout CLIP folder into `dir` (created if needed). The weights are
 * those of randomClipTensors(config, seed, weightStd), drawn and written one tensor at a
 * time, so a full-size checkpoint never sits in memory whole.
 */
export async function createRandomClip(dir: string, options: RandomClipOptions = {}, seed = 0): Promise<RandomClip> {
  const bpe = tinyBpeParts(options.words ?? DEFAULT_WORDS, options.vocabSize);
  const config = randomClipConfig(options, bpe);
  const dtype = options.dtype ?? 'F32';
  const std = options.weightStd ?? 0.02;
  const positionIds = options.positionIds
    ? [
        { name: 'vision_model.embeddings.position_ids', length: (config.vision.imageSize / config.vision.patchSize) ** 2 + 1 },
        { name: 'text_model.embeddings.position_ids', length: config.text.maxPositionEmbeddings },
      ]
    : [];
  const specs = clipTensorSpecs(config);
  const files: SafetensorsSpec[] = [
    ...positionIds.map(({ name, length }) => ({ name, shape: [1, length], dtype: 'I64' as const })),
    ...specs.map(({ name, shape }) => ({ name, shape, dtype })),
  ];
  // Same draws as randomClipTensors: the writer asks for the float tensors in spec order (they share one element size).
  const normal = normalSampler(seededRandom(seed));
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const lengths = new Map(positionIds.map(({ name, length }) => [name, length]));
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(toHfConfigJson(config), null, 2));
  await writeSafetensorsFile(
    path.join(dir, 'model.safetensors'),
    files,
    ({ name }) => {
      const spec = byName.get(name);
      if (spec) return randomTensor(spec, normal, std, config.logitScale).data;
      return Float32Array.from({ length: lengths.get(name)! }, (_, i) => i);
    },
    { format: 'pt' },
  );
  await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(clipTokenizerJson(bpe)));
  return { dir, config };
}
