/**
 * Loading as real checkpoints come: F16 / BF16 weights, transformers' I64 position_ids,
 * and the stage lines loadClip and zeroShotClassifier print for a log.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ClipFolderError, initBackend, loadClip, loadClipTokenizer, readSafetensors, zeroShotClassifier } from '../../src/clip/index';
import { StageProgress } from '../../src/clip/progress';
import { createRandomClip, randomClipTensors, seededRandom, tinyBpeParts, type RandomClip } from '../../src/clip/testing';
import { clipTensorSpecs } from '../../src/clip/weights';

let tmp: string;
let f32: RandomClip;

const tableOf = async (dir: string): Promise<ReturnType<typeof readSafetensors>> => readSafetensors(new Uint8Array(await readFile(path.join(dir, 'model.safetensors'))));

beforeAll(async () => {
  await initBackend({ log: () => {} });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'clip-loading-'));
  f32 = await createRandomClip(path.join(tmp, 'f32'), {}, 4);
});

afterEach(() => vi.restoreAllMocks());

describe('createRandomClip', () => {
  it('writes exactly randomClipTensors(config, seed) as F32, one tensor at a time', async () => {
    const table = await tableOf(f32.dir);
    const expected = randomClipTensors(f32.config, 4);
    expect([...table.keys()].sort()).toEqual(Object.keys(expected).sort());
    for (const [name, tensor] of Object.entries(expected)) {
      expect(table.get(name)!.shape).toEqual(tensor.shape);
      expect(table.get(name)!.data).toEqual(tensor.data);
    }
  });

  it('pads the vocabulary so the special tokens take OpenAI ids', () => {
    const parts = tinyBpeParts(['cat'], 49408);
    expect(Object.keys(parts.vocab)).toHaveLength(49408);
    expect(parts.vocab['<|startoftext|>']).toBe(49406);
    expect(parts.vocab['<|endoftext|>']).toBe(49407);
    expect(() => tinyBpeParts(['cat'], 100)).toThrow(/vocabSize 100 is below/);
  });
});

describe('F16 and BF16 checkpoints with position_ids', () => {
  // Half precision keeps 11 significant bits: rounding moves a value by at most 2^-11 of it
  // (2^-25 absolute in the subnormal range); bfloat16 keeps 8 bits (2^-8).
  it.each([
    ['F16', 2 ** -11, 2 ** -25],
    ['BF16', 2 ** -8, 0],
  ] as const)('%s: each weight is the F32 one rounded, position_ids are I64 0..n-1, and the model loads', async (dtype, relative, absolute) => {
    const half = await createRandomClip(path.join(tmp, dtype), { dtype, positionIds: true }, 4);
    const table = await tableOf(half.dir);
    const reference = await tableOf(f32.dir);
    for (const spec of clipTensorSpecs(half.config)) {
      const got = table.get(spec.name)!;
      expect(got.dtype).toBe(dtype);
      const want = reference.get(spec.name)!.data;
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got.data[i]! - want[i]!) - (Math.abs(want[i]!) * relative + absolute));
      expect(worst).toBeLessThanOrEqual(0);
    }
    const tokens = (half.config.vision.imageSize / half.config.vision.patchSize) ** 2 + 1;
    expect(table.get('vision_model.embeddings.position_ids')).toEqual({ dtype: 'I64', shape: [1, tokens], data: Float32Array.from({ length: tokens }, (_, i) => i) });
    expect(table.get('text_model.embeddings.position_ids')!.data).toEqual(Float32Array.from({ length: half.config.text.maxPositionEmbeddings }, (_, i) => i));

    // End to end: the half-precision model's features stay close to the F32 model's.
    const [full, rounded] = [await loadClip(f32.dir), await loadClip(half.dir)];
    const random = seededRandom(2);
    const size = half.config.vision.imageSize;
    const pixels = tf.tensor4d(Float32Array.from({ length: 2 * size * size * 3 }, () => random() * 4 - 2), [2, size, size, 3]);
    const a = full.encodeImageFeatures(pixels).dataSync() as Float32Array;
    const b = rounded.encodeImageFeatures(pixels).dataSync() as Float32Array;
    const norm = Math.sqrt(a.reduce((s, x) => s + x * x, 0));
    const gap = Math.sqrt(a.reduce((s, x, i) => s + (x - b[i]!) ** 2, 0));
    expect(gap / norm).toBeLessThan(dtype === 'F16' ? 1e-2 : 5e-2);
    expect(gap).toBeGreaterThan(0);
    tf.dispose(pixels);
    full.dispose();
    rounded.dispose();
  });
});

describe('a folder without weights', () => {
  it('is refused with ClipFolderError naming the folder and the layout expected', async () => {
    const clip = await createRandomClip(path.join(tmp, 'no-weights'), {}, 1);
    await rm(path.join(clip.dir, 'model.safetensors'));
    await expect(loadClip(clip.dir)).rejects.toThrow(ClipFolderError);
    await expect(loadClip(clip.dir)).rejects.toThrow(`CLIP folder ${clip.dir} has no readable model.safetensors (expected config.json and model.safetensors in the Hugging Face layout)`);
  });
});

describe('stage lines', () => {
  it('StageProgress prints at each crossed step, once per update, and the first unit when asked', () => {
    const lines: Array<[number, number]> = [];
    const progress = new StageProgress(100, (done, total) => lines.push([done, total]), { steps: 4, first: true });
    for (const done of [5, 10, 30, 40, 80, 99, 100]) progress.update(done);
    // 5: first; 30 crosses 25; 80 crosses 50 and 75 in one update; 100 crosses 100.
    expect(lines.map(([done]) => done)).toEqual([5, 30, 80, 100]);
    const quiet: number[] = [];
    const plain = new StageProgress(10, (done) => quiet.push(done));
    for (let done = 1; done <= 10; done++) plain.update(done);
    expect(quiet).toEqual([3, 5, 8, 10]);
  });

  it('loadClip says what it reads, decodes and builds when given a log, and prints nothing otherwise', async () => {
    const half = await createRandomClip(path.join(tmp, 'logged'), { dtype: 'F16', positionIds: true }, 4);
    const lines: string[] = [];
    const model = await loadClip(half.dir, { log: (line) => lines.push(line) });
    model.dispose();
    const tensors = clipTensorSpecs(half.config).length;
    const source = `CLIP ${half.dir}`;
    expect(lines[0]).toBe(`${source}: vision 2 layers × 32, patch 8 at 32 px; text 2 layers × 32; projection 16`);
    expect(lines[1]).toMatch(new RegExp(`^${source}: reading model\\.safetensors \\(0\\.\\d MB of tensors\\)$`));
    const read = lines.find((line) => line.includes('weights read in'));
    expect(read).toMatch(new RegExp(`\\(2 I64, ${tensors} F16 tensors; reading .* s, decoding .* s\\), 0\\.\\d MB as float32$`));
    expect(lines.at(-2)).toBe(`${source}: building the towers (vision 2 blocks, text 2 blocks)`);
    expect(lines.at(-1)).toMatch(new RegExp(`^${source}: ready in [\\d.]+ s \\(towers built in [\\d.]+ s\\)$`));
    for (const line of lines.filter((l) => l.includes(': weights ') && l.includes('%'))) expect(line).toMatch(/weights \d+ % \([\d.]+ MB of [\d.]+ MB\), [\d.]+ s, ETA [\d.]+ s$/);

    const stderr = vi.spyOn(process.stderr, 'write');
    const stdout = vi.spyOn(process.stdout, 'write');
    const silent = vi.spyOn(console, 'log');
    (await loadClip(half.dir)).dispose();
    expect([stderr.mock.calls.length, stdout.mock.calls.length, silent.mock.calls.length]).toEqual([0, 0, 0]);
  });

  it('zeroShotClassifier counts classes × templates, reports prompts with an ETA, and the cache hit', async () => {
    const model = await loadClip(f32.dir);
    const tokenizer = await loadClipTokenizer(f32.dir);
    const lines: string[] = [];
    const options = { cacheDir: path.join(tmp, 'classifiers'), batchSize: 16, log: (line: string) => lines.push(line) };
    const first = await zeroShotClassifier(model, tokenizer, ['cat', 'dog', 'tree'], options);
    expect(first.fromCache).toBe(false);
    expect(lines[0]).toBe('text classifier: 3 classes × 60 templates = 180 prompts, 12 batches of up to 16');
    const progress = lines.filter((line) => line.includes('ETA'));
    const counts = progress.map((line) => Number(/: (\d+)\/180 prompts/.exec(line)![1]));
    // After the first batch, then at each tenth crossed (a batch of 16 can cross 18-prompt steps only once).
    expect(counts[0]).toBe(16);
    expect(counts.every((c, i) => i === 0 || c > counts[i - 1]!)).toBe(true);
    expect(counts.at(-1)).toBeLessThan(180);
    expect(progress.length).toBeGreaterThanOrEqual(9);
    expect(progress.length).toBeLessThanOrEqual(11);
    expect(lines.some((line) => /^text classifier: 180 prompts encoded in [\d.]+ s$/.test(line))).toBe(true);
    expect(lines.at(-1)).toBe(`text classifier: cached at ${first.cacheUri}`);

    lines.length = 0;
    const second = await zeroShotClassifier(model, tokenizer, ['cat', 'dog', 'tree'], options);
    expect(second.fromCache).toBe(true);
    expect(lines).toEqual([`text classifier: 3 classes read from the cache ${second.cacheUri}`]);
    tf.dispose([first.weights, first.textEmbeddings, second.weights, second.textEmbeddings]);
    model.dispose();
  });
});
