/**
 * Test utility: writes a tiny random CLIP folder in the Hugging Face layout
 * (config.json, model.safetensors, tokenizer.json) that loadClip and
 * loadClipTokenizer read like a real checkpoint. Deterministic for a seed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { toHfConfigJson } from './config';
import { writeSafetensors, type SafetensorsInput } from './safetensors';
import { type BpeParts, bytesToUnicode, clipTokenizerJson, END_OF_TEXT, START_OF_TEXT } from './tokenizer-json';
import type { ClipConfig, ClipTextConfig, ClipVisionConfig } from './types';
import { clipTensorSpecs, type TensorSpec } from './weights';
import { mulberry32 } from '../common/mulberry32';

export interface RandomClipOptions {
  vision?: Partial<ClipVisionConfig>;
  /** Vocabulary size and special ids come from the generated tokenizer and cannot be set. */
  text?: Partial<Omit<ClipTextConfig, 'vocabSize' | 'eosTokenId' | 'bosTokenId' | 'padTokenId'>>;
  projectionDim?: number;
  /** Words that get whole-word BPE merges in the tiny vocabulary (others split into characters). */
  words?: readonly string[];
  /** Standard deviation of the random weights. Default 0.02 (Hugging Face's init). */
  weightStd?: number;
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
export function tinyBpeParts(words: readonly string[]): BpeParts {
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
  for (let i = 0; i < count; i++) {
    if (spec.role === 'weight' || spec.role === 'bias') data[i] = normal() * std;
    else if (spec.role === 'normScale') data[i] = 1 + normal() * 0.1;
    else data[i] = Math.log(logitScale);
  }
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

/** Writes a tiny random HF-layout CLIP folder into `dir` (created if needed). */
export async function createRandomClip(dir: string, options: RandomClipOptions = {}, seed = 0): Promise<RandomClip> {
  const bpe = tinyBpeParts(options.words ?? DEFAULT_WORDS);
  const vocabSize = Object.keys(bpe.vocab).length;
  const config: ClipConfig = {
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
      vocabSize,
      bosTokenId: bpe.vocab[START_OF_TEXT]!,
      eosTokenId: bpe.vocab[END_OF_TEXT]!,
      padTokenId: 0,
    },
    projectionDim: options.projectionDim ?? 16,
    logitScale: 100,
  };
  const tensors = randomClipTensors(config, seed, options.weightStd);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'config.json'), JSON.stringify(toHfConfigJson(config), null, 2));
  await writeFile(path.join(dir, 'model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
  await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(clipTokenizerJson(bpe)));
  return { dir, config };
}
