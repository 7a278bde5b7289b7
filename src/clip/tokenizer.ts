/**
 * The CLIP tokenizer: @huggingface/tokenizers does the BPE; this wrapper adds CLIP's
 * framing: `<|startoftext|> … <|endoftext|>`, truncated to the context (the end token
 * is kept, as OpenAI's `clip.tokenize(truncate=True)` does) and zero-padded.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Tokenizer } from '@huggingface/tokenizers';
import { localClipFolder } from './folder';
import { type BpeParts, bpePartsFromOpenAiMerges, clipTokenizerJson, END_OF_TEXT, START_OF_TEXT } from './tokenizer-json';
import type { ClipTokenizer } from './types';
import { ClipError } from '../common/errors';

/** The tokenizer files are missing or do not describe a CLIP tokenizer. */
export class ClipTokenizerError extends ClipError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ClipTokenizerError';
  }
}

export interface LoadClipTokenizerOptions {
  /** Tokens per sequence. Default: the folder's text_config.max_position_embeddings, else 77. */
  contextLength?: number;
  /** Where S3 folders are downloaded (as for loadClip). */
  cacheDir?: string;
}

/** OpenAI's whitespace_clean: collapse whitespace runs, trim. (ftfy and HTML unescaping are not applied.) */
function cleanText(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

export class ClipTokenizerImpl implements ClipTokenizer {
  private readonly tokenizer: Tokenizer;
  readonly startId: number;
  readonly endId: number;

  constructor(
    tokenizerJson: Record<string, unknown>,
    readonly contextLength: number,
  ) {
    if (!Number.isInteger(contextLength) || contextLength < 2) throw new ClipTokenizerError(`context length must be an integer ≥ 2, got ${contextLength}`);
    this.tokenizer = new Tokenizer(tokenizerJson, {});
    const idOf = (token: string): number => {
      const id = this.tokenizer.token_to_id(token);
      if (id === undefined) throw new ClipTokenizerError(`tokenizer has no ${token} token (expected CLIP's ${START_OF_TEXT} and ${END_OF_TEXT})`);
      return id;
    };
    this.startId = idOf(START_OF_TEXT);
    this.endId = idOf(END_OF_TEXT);
  }

  /** BPE ids of the text without start/end tokens. */
  encodeWords(text: string): number[] {
    return this.tokenizer.encode(cleanText(text), { add_special_tokens: false }).ids;
  }

  encode(text: string): Int32Array {
    const row = new Int32Array(this.contextLength);
    this.writeRow(text, row);
    return row;
  }

  encodeBatch(texts: readonly string[]): { ids: Int32Array; rows: number; contextLength: number } {
    const ids = new Int32Array(texts.length * this.contextLength);
    texts.forEach((text, i) => this.writeRow(text, ids.subarray(i * this.contextLength, (i + 1) * this.contextLength)));
    return { ids, rows: texts.length, contextLength: this.contextLength };
  }

  private writeRow(text: string, row: Int32Array): void {
    const words = this.encodeWords(text).slice(0, this.contextLength - 2);
    row[0] = this.startId;
    row.set(words, 1);
    row[words.length + 1] = this.endId;
  }
}

async function readOptional(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return null;
  }
}

function parseJson(text: string, where: string): Record<string, unknown> {
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new ClipTokenizerError(`${where} is not JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** vocab.json + merges.txt (Hugging Face's slow-tokenizer files) → BPE parts. */
function bpePartsFromVocabAndMerges(vocabText: string, mergesText: string, where: string): BpeParts {
  const vocab = parseJson(vocabText, `${where}/vocab.json`) as Record<string, number>;
  const merges = mergesText.split('\n').filter((line) => line.length > 0 && !line.startsWith('#version'));
  return { vocab, merges };
}

async function contextFromConfig(dir: string): Promise<number | null> {
  const text = await readOptional(path.join(dir, 'config.json'));
  if (text === null) return null;
  const config = parseJson(text, 'config.json') as { text_config?: { max_position_embeddings?: number } };
  return config.text_config?.max_position_embeddings ?? 77;
}

/**
 * Loads a CLIP tokenizer from a folder (local or `s3://`) holding `tokenizer.json`,
 * or `vocab.json` + `merges.txt`; or from OpenAI's `bpe_simple_vocab_16e6.txt(.gz)`.
 */
export async function loadClipTokenizer(location: string, options: LoadClipTokenizerOptions = {}): Promise<ClipTokenizer> {
  if (/\.txt(\.gz)?$/.test(location)) {
    let raw: Buffer;
    try {
      raw = await readFile(location);
    } catch (error) {
      throw new ClipTokenizerError(`cannot read the BPE merges file ${location}`, { cause: error });
    }
    const text = location.endsWith('.gz') ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
    return new ClipTokenizerImpl(clipTokenizerJson(bpePartsFromOpenAiMerges(text)), options.contextLength ?? 77);
  }
  const folder = await localClipFolder(location, options.cacheDir);
  const contextLength = options.contextLength ?? (await contextFromConfig(folder.dir)) ?? 77;
  const tokenizerText = await readOptional(path.join(folder.dir, 'tokenizer.json'));
  if (tokenizerText !== null) return new ClipTokenizerImpl(parseJson(tokenizerText, `${location}/tokenizer.json`), contextLength);
  const vocabText = await readOptional(path.join(folder.dir, 'vocab.json'));
  const mergesText = await readOptional(path.join(folder.dir, 'merges.txt'));
  if (vocabText === null || mergesText === null) {
    throw new ClipTokenizerError(`${location} has no tokenizer: expected tokenizer.json, or vocab.json and merges.txt`);
  }
  return new ClipTokenizerImpl(clipTokenizerJson(bpePartsFromVocabAndMerges(vocabText, mergesText, location)), contextLength);
}
