/**
 * Builds a small CLIP tokenizer (Hugging Face `tokenizer.json`) for the mini-CLIP: the same
 * normaliser, pre-tokeniser, byte-level alphabet, `</w>` end-of-word suffix and special tokens
 * as OpenAI CLIP's (the document itself comes from src/clip's builder), but merges learned from
 * the caption words only, so every caption word is one token while any other text still
 * tokenizes, byte by byte, without an unknown token.
 */
import { bpePartsFromOpenAiMerges, bytesToUnicode, clipTokenizerJson, END_OF_TEXT, START_OF_TEXT } from '../../src/clip/tokenizer-json';

const WORD_SUFFIX = '</w>';

/** CLIP's pre-tokeniser pattern for ordinary text (the Split step of the reference tokenizer.json). */
const CLIP_SPLIT_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/** The words CLIP's pre-tokeniser sees in a text (lower-cased, whitespace collapsed). */
export function preTokenize(text: string): string[] {
  const normalised = text.normalize('NFC').replace(/\s+/gu, ' ').toLowerCase();
  return normalised.match(new RegExp(CLIP_SPLIT_PATTERN, 'gu')) ?? [];
}

/** A word as byte-level symbols with the end-of-word suffix on the last one. */
function wordSymbols(word: string, byteTable: readonly string[]): string[] {
  const symbols = Array.from(new TextEncoder().encode(word), (b) => byteTable[b] as string);
  symbols[symbols.length - 1] += WORD_SUFFIX;
  return symbols;
}

/**
 * Classic BPE training on a word-frequency table, run until every word is a single symbol.
 * Ties break on the pair text, so the merge list depends only on the word set and counts.
 */
export function learnMerges(wordCounts: ReadonlyMap<string, number>, byteTable: readonly string[]): [string, string][] {
  const words = [...wordCounts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([word, count]) => ({ symbols: wordSymbols(word, byteTable), count }));
  const merges: [string, string][] = [];
  for (;;) {
    const pairCounts = new Map<string, number>();
    for (const { symbols, count } of words) {
      for (let i = 0; i + 1 < symbols.length; i++) {
        const key = `${symbols[i]} ${symbols[i + 1]}`;
        pairCounts.set(key, (pairCounts.get(key) ?? 0) + count);
      }
    }
    if (pairCounts.size === 0) return merges;
    let best = '';
    let bestCount = -1;
    for (const [key, count] of pairCounts) {
      if (count > bestCount || (count === bestCount && key < best)) {
        best = key;
        bestCount = count;
      }
    }
    const [left, right] = best.split(' ') as [string, string];
    merges.push([left, right]);
    for (const word of words) {
      const merged: string[] = [];
      for (let i = 0; i < word.symbols.length; i++) {
        if (i + 1 < word.symbols.length && word.symbols[i] === left && word.symbols[i + 1] === right) {
          merged.push(left + right);
          i++;
        } else {
          merged.push(word.symbols[i] as string);
        }
      }
      word.symbols = merged;
    }
  }
}

export interface BuiltTokenizer {
  /** The `tokenizer.json` document (Hugging Face CLIP layout). */
  tokenizerJson: Record<string, unknown>;
  /** The `tokenizer_config.json` document. */
  tokenizerConfig: Record<string, unknown>;
  vocabSize: number;
  bosTokenId: number;
  eosTokenId: number;
}

/**
 * A CLIP tokenizer whose vocabulary is built exactly as OpenAI builds CLIP's from its merges
 * file (256 byte symbols, the same with `</w>`, one token per merge, then `<|startoftext|>` and
 * `<|endoftext|>` as the last two ids), with merges learned from the caption words.
 */
export function buildClipTokenizer(texts: Iterable<string>, contextLength: number): BuiltTokenizer {
  const unicodeOf = bytesToUnicode();
  const byteTable = Array.from({ length: 256 }, (_, b) => unicodeOf.get(b) as string);
  const counts = new Map<string, number>();
  for (const text of texts) for (const word of preTokenize(text)) counts.set(word, (counts.get(word) ?? 0) + 1);
  const merges = learnMerges(counts, byteTable).map(([left, right]) => `${left} ${right}`);
  const parts = bpePartsFromOpenAiMerges(['#version: mini-clip', ...merges].join('\n'), merges.length);
  const bosTokenId = parts.vocab[START_OF_TEXT] as number;
  const eosTokenId = parts.vocab[END_OF_TEXT] as number;
  const tokenizerConfig = {
    tokenizer_class: 'CLIPTokenizer',
    model_max_length: contextLength,
    do_lower_case: true,
    bos_token: START_OF_TEXT,
    eos_token: END_OF_TEXT,
    unk_token: END_OF_TEXT,
    pad_token: END_OF_TEXT,
    add_prefix_space: false,
    errors: 'replace',
  };
  return { tokenizerJson: clipTokenizerJson(parts), tokenizerConfig, vocabSize: Object.keys(parts.vocab).length, bosTokenId, eosTokenId };
}
