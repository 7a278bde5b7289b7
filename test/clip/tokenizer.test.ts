import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadClipTokenizer, type ClipTokenizer } from '../../src/clip/index';
import { createRandomClip } from '../../src/clip/testing';
import { ReferenceBpe } from './reference-bpe';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const sharedClip = path.resolve(repoRoot, '..', 'shared', 'clip');
const vocabFile = path.join(sharedClip, 'bpe_simple_vocab_16e6.txt.gz');
const haveVocab = existsSync(vocabFile);
if (!haveVocab) console.warn(`skipping OpenAI vocabulary tokenizer tests: ${vocabFile} is absent`);

const withoutPadding = (ids: Int32Array): number[] => Array.from(ids.subarray(0, ids.indexOf(49407) + 1));

describe.skipIf(!haveVocab)("CLIP tokenizer from OpenAI's bpe_simple_vocab_16e6.txt.gz", () => {
  let tokenizer: ClipTokenizer;
  let reference: ReferenceBpe;
  let classNames: string[];

  beforeAll(async () => {
    tokenizer = await loadClipTokenizer(vocabFile);
    reference = new ReferenceBpe(gunzipSync(await readFile(vocabFile)).toString('utf8'));
    classNames = JSON.parse(await readFile(path.join(sharedClip, 'cifar100_classnames.json'), 'utf8')) as string[];
  });

  it('gives OpenAI\'s ids for "a photo of a cat." in a 77-token, zero-padded row', () => {
    const ids = tokenizer.encode('a photo of a cat.');
    expect(ids.length).toBe(77);
    expect(withoutPadding(ids)).toEqual([49406, 320, 1125, 539, 320, 2368, 269, 49407]);
    expect(Array.from(ids.subarray(8)).every((id) => id === 0)).toBe(true);
  });

  it('matches an independent BPE on class names with spaces, underscores and hyphens', () => {
    for (const name of ['aquarium fish', 'maple_tree', 'sweet pepper', 't-shirt', 'black-footed ferret', 'lawn_mower', 'willow tree']) {
      const text = `a photo of a ${name}.`;
      expect(withoutPadding(tokenizer.encode(text)), text).toEqual([49406, ...reference.encode(text), 49407]);
    }
  });

  it('matches the independent BPE on all CIFAR-100 class names in two templates', () => {
    const texts = classNames.flatMap((name) => [`a photo of a ${name}.`, `itap of the ${name}.`]);
    const batch = tokenizer.encodeBatch(texts);
    expect(batch.rows).toBe(texts.length);
    texts.forEach((text, i) => {
      const row = batch.ids.subarray(i * 77, (i + 1) * 77);
      expect(withoutPadding(row), text).toEqual([49406, ...reference.encode(text), 49407]);
    });
  });

  it('lowercases, collapses whitespace and splits digits, punctuation and contractions as CLIP does', () => {
    const text = "  The  DOG's 2024\tphotos:  isn't it   café-like?!  ";
    expect(withoutPadding(tokenizer.encode(text))).toEqual([49406, ...reference.encode(text), 49407]);
    // Digits are single tokens: "2024" → "2","0","2","4" (ids of the digit</w> symbols: '0' is byte 48 → 256 + 15).
    expect(withoutPadding(tokenizer.encode('2024'))).toEqual([49406, 256 + 17, 256 + 15, 256 + 17, 256 + 19, 49407]);
  });

  it('truncates to 77 tokens and keeps the end token last', () => {
    const text = Array.from({ length: 120 }, (_, i) => classNames[i % classNames.length]).join(' ');
    const ids = tokenizer.encode(text);
    expect(ids.length).toBe(77);
    expect(ids[0]).toBe(49406);
    expect(ids[76]).toBe(49407);
    expect(Array.from(ids.subarray(1, 76))).toEqual(reference.encode(text).slice(0, 75));
  });
});

describe('CLIP tokenizer from Hugging Face files', () => {
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'clip-tokenizer-'));
  });

  it('loads a small HF tokenizer.json (BPE, </w> suffix) and reads the context length from config.json', async () => {
    const { config } = await createRandomClip(path.join(dir, 'tiny'), { words: ['photo', 'of', 'cat'] }, 0);
    const tokenizer = await loadClipTokenizer(path.join(dir, 'tiny'));
    expect(tokenizer.contextLength).toBe(16);
    const json = JSON.parse(await readFile(path.join(dir, 'tiny', 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number> } };
    const vocab = json.model.vocab;
    // Hand-derived from the vocabulary: whole-word tokens exist for the merged words, '.' stays a single symbol.
    const expected = [config.text.bosTokenId, vocab['a</w>'], vocab['photo</w>'], vocab['of</w>'], vocab['a</w>'], vocab['cat</w>'], vocab['.</w>'], config.text.eosTokenId];
    expect(expected.every((id) => typeof id === 'number')).toBe(true);
    expect(Array.from(tokenizer.encode('a photo of a cat.').subarray(0, 8))).toEqual(expected);
    // A word without merges falls apart into its byte symbols, the last one with </w>.
    expect(Array.from(tokenizer.encode('dog').subarray(1, 4))).toEqual([vocab['d'], vocab['o'], vocab['g</w>']]);
  });

  it('gives the same ids from vocab.json + merges.txt as from tokenizer.json', async () => {
    const source = path.join(dir, 'tiny');
    const split = path.join(dir, 'split');
    await createRandomClip(split, { words: ['photo', 'of', 'cat'] }, 0);
    const json = JSON.parse(await readFile(path.join(source, 'tokenizer.json'), 'utf8')) as { model: { vocab: Record<string, number>; merges: string[] } };
    await rm(path.join(split, 'tokenizer.json'));
    await writeFile(path.join(split, 'vocab.json'), JSON.stringify(json.model.vocab));
    await writeFile(path.join(split, 'merges.txt'), `#version: 0.2\n${json.model.merges.join('\n')}\n`);
    const [fromJson, fromParts] = await Promise.all([loadClipTokenizer(source), loadClipTokenizer(split)]);
    for (const text of ['a photo of a cat.', 'The CAT of a dog!']) expect(Array.from(fromParts.encode(text))).toEqual(Array.from(fromJson.encode(text)));
  });

  it('says which files it expected when a folder has no tokenizer', async () => {
    await expect(loadClipTokenizer(path.join(dir, 'nothing-here'))).rejects.toThrow(/expected tokenizer\.json, or vocab\.json and merges\.txt/);
  });
});
