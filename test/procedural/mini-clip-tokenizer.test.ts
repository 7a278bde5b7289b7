import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '@huggingface/tokenizers';
import { TRAINING_FRAMES } from '../../scripts/mini-clip/build';
import { buildClipTokenizer, learnMerges, preTokenize } from '../../scripts/mini-clip/tokenizer';
import { loadClipTokenizer } from '../../src/clip';
import { CLASS_NAMES } from '../../src/procedural/world';

const identityBytes = Array.from({ length: 256 }, (_, b) => String.fromCharCode(b));

describe('the mini-CLIP tokenizer builder', () => {
  it('learns merges that join every training word into one symbol, most frequent pair first', () => {
    const merges = learnMerges(
      new Map([
        ['low', 5],
        ['lower', 2],
      ]),
      identityBytes,
    );
    // "l o" occurs 7 times, then "lo w" 5 times ("low</w>" is "l o w</w>", "lower" is "l o w e r</w>").
    expect(merges[0]).toEqual(['l', 'o']);
    expect(merges.map((m) => m.join(''))).toContain('low</w>');
    expect(merges.map((m) => m.join(''))).toContain('lower</w>');
  });

  it('splits text the way CLIP\'s pre-tokeniser does', () => {
    expect(preTokenize('A  Close-up photo of the RED circle.')).toEqual(['a', 'close', '-', 'up', 'photo', 'of', 'the', 'red', 'circle', '.']);
  });

  it('makes every word of every template and class name a single token, framed by the special tokens', () => {
    const built = buildClipTokenizer(
      TRAINING_FRAMES.flatMap((frame) => CLASS_NAMES.map((name) => frame.replace('[cls]', name))),
      32,
    );
    expect(built.eosTokenId).toBe(built.vocabSize - 1);
    expect(built.bosTokenId).toBe(built.vocabSize - 2);
    const tokenizer = new Tokenizer(built.tokenizerJson, built.tokenizerConfig);
    for (const frame of TRAINING_FRAMES) {
      const text = frame.replace('[cls]', 'purple crescent');
      const { ids } = tokenizer.encode(text);
      expect([text, ids.length]).toEqual([text, preTokenize(text).length + 2]);
      expect(ids[0]).toBe(built.bosTokenId);
      expect(ids[ids.length - 1]).toBe(built.eosTokenId);
    }
  });

  it('still tokenizes unseen words, byte by byte, without an unknown token', () => {
    const built = buildClipTokenizer(['a photo of a red circle.'], 32);
    const tokenizer = new Tokenizer(built.tokenizerJson, built.tokenizerConfig);
    const { tokens } = tokenizer.encode('a zebra!');
    expect(tokens).toEqual(['<|startoftext|>', 'a</w>', 'z', 'e', 'b', 'r', 'a</w>', '!</w>', '<|endoftext|>']);
  });

  it('is read by the runtime tokenizer with the context of max_position_embeddings', async () => {
    const built = buildClipTokenizer(['a photo of a red circle.'], 16);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mini-clip-tokenizer-'));
    try {
      await writeFile(path.join(dir, 'tokenizer.json'), JSON.stringify(built.tokenizerJson));
      await writeFile(path.join(dir, 'config.json'), JSON.stringify({ text_config: { max_position_embeddings: 16 } }));
      const runtime = await loadClipTokenizer(dir);
      const reference = new Tokenizer(built.tokenizerJson, built.tokenizerConfig).encode('a photo of a red circle.').ids;
      const row = runtime.encode('a photo of a red circle.');
      expect(runtime.contextLength).toBe(16);
      expect(Array.from(row.subarray(0, reference.length))).toEqual(reference);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
