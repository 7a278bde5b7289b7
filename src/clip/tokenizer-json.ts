/**
 * Builds the Hugging Face `tokenizer.json` of a CLIP tokenizer from its parts: a
 * vocabulary and BPE merges (`vocab.json` + `merges.txt`), or OpenAI's
 * `bpe_simple_vocab_16e6.txt(.gz)` from which OpenAI derives the vocabulary. The
 * pipeline mirrors OpenAI's SimpleTokenizer: NFC, whitespace runs → one space,
 * lowercase; split on CLIP's word pattern; byte-level alphabet; BPE with the `</w>`
 * end-of-word suffix.
 */

export const START_OF_TEXT = '<|startoftext|>';
export const END_OF_TEXT = '<|endoftext|>';

/** OpenAI's/GPT-2's reversible byte → printable-character table, in its insertion order. */
export function bytesToUnicode(): Map<number, string> {
  const printable: number[] = [];
  for (let b = '!'.charCodeAt(0); b <= '~'.charCodeAt(0); b++) printable.push(b);
  for (let b = '¡'.charCodeAt(0); b <= '¬'.charCodeAt(0); b++) printable.push(b);
  for (let b = '®'.charCodeAt(0); b <= 'ÿ'.charCodeAt(0); b++) printable.push(b);
  const table = new Map<number, string>(printable.map((b) => [b, String.fromCharCode(b)]));
  let next = 0;
  for (let b = 0; b < 256; b++) {
    if (!table.has(b)) table.set(b, String.fromCharCode(256 + next++));
  }
  return table;
}

export interface BpeParts {
  vocab: Record<string, number>;
  /** Merges as "left right" strings, highest priority first. */
  merges: string[];
}

/** OpenAI keeps the first 49152 - 256 - 2 merges of the file (after its version line). */
const OPENAI_MERGE_COUNT = 49152 - 256 - 2;

/**
 * The vocabulary OpenAI's SimpleTokenizer builds from the merges file: the 256 byte
 * characters, the same with `</w>`, one token per merge, then the two special tokens
 * (ids 49406 and 49407 for the full file).
 */
export function bpePartsFromOpenAiMerges(text: string, mergeCount = OPENAI_MERGE_COUNT): BpeParts {
  const lines = text.split('\n').slice(1, mergeCount + 1).filter((line) => line.length > 0);
  const symbols = [...bytesToUnicode().values()];
  const tokens = [...symbols, ...symbols.map((s) => `${s}</w>`), ...lines.map((line) => line.split(' ').join('')), START_OF_TEXT, END_OF_TEXT];
  const vocab: Record<string, number> = {};
  tokens.forEach((token, id) => {
    vocab[token] = id;
  });
  return { vocab, merges: lines };
}

/** CLIP's word pattern (OpenAI's `pat`, matched after lowercasing). */
const CLIP_WORD_PATTERN = "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/** The Hugging Face tokenizer.json for a CLIP BPE vocabulary (as `openai/clip-vit-*` ship it). */
export function clipTokenizerJson(parts: BpeParts): Record<string, unknown> {
  const special = (content: string): Record<string, unknown> => {
    const id = parts.vocab[content];
    if (id === undefined) throw new Error(`CLIP vocabulary has no ${content} token`);
    return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true };
  };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(START_OF_TEXT), special(END_OF_TEXT)],
    normalizer: {
      type: 'Sequence',
      normalizers: [{ type: 'NFC' }, { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' }, { type: 'Lowercase' }],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_WORD_PATTERN }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [END_OF_TEXT, parts.vocab[END_OF_TEXT]],
      cls: [START_OF_TEXT, parts.vocab[START_OF_TEXT]],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: END_OF_TEXT,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab: parts.vocab,
      merges: parts.merges,
    },
  };
}
