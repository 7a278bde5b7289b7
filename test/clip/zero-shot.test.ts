import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ENSEMBLE_TEMPLATES, fillTemplate, initBackend, loadClip, loadClipTokenizer, readSafetensors, SINGLE_TEMPLATE, zeroShotClassifier, zeroShotLogits, type ClipModel, type ClipTokenizer } from '../../src/clip/index';
import { createRandomClip } from '../../src/clip/testing';
import { maxAbsDifference } from './reference';

let tmp: string;
let model: ClipModel;
let tokenizer: ClipTokenizer;
let projection: Float32Array;

const unit = (v: number[]): number[] => {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
  return v.map((x) => x / norm);
};

/** The SPEC's W^zs for one class, by hand: per-prompt unit text embeddings, mean, unit, ·P, unit. */
function expectedRows(className: string, templates: readonly string[]): { text: number[]; weight: number[] } {
  const { projectionDim } = model.config;
  const hidden = model.config.vision.hiddenSize;
  const prompts = templates.map((t) => fillTemplate(t, className));
  const batch = tokenizer.encodeBatch(prompts);
  const embeddings = model.encodeText(tf.tensor2d(batch.ids, [batch.rows, batch.contextLength], 'int32')).arraySync().map(unit);
  const mean = Array.from({ length: projectionDim }, (_, c) => embeddings.reduce((s, e) => s + e[c]!, 0) / embeddings.length);
  const text = unit(mean);
  const weight = unit(Array.from({ length: hidden }, (_, d) => text.reduce((s, t, c) => s + t * projection[c * hidden + d]!, 0)));
  return { text, weight };
}

beforeAll(async () => {
  await initBackend({ log: () => {} });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'clip-zero-shot-'));
  const clip = await createRandomClip(path.join(tmp, 'model'), { words: ['photo', 'of', 'cat', 'dog', 'house'] }, 9);
  model = await loadClip(clip.dir);
  tokenizer = await loadClipTokenizer(clip.dir);
  projection = readSafetensors(new Uint8Array(await readFile(path.join(clip.dir, 'model.safetensors')))).get('visual_projection.weight')!.data;
});

describe('templates', () => {
  it('holds the 60 distinct Appendix F templates, each with one [cls], starting and ending as the paper does', () => {
    expect(ENSEMBLE_TEMPLATES).toHaveLength(60);
    expect(new Set(ENSEMBLE_TEMPLATES).size).toBe(60);
    expect(ENSEMBLE_TEMPLATES.every((t) => t.split('[cls]').length === 2)).toBe(true);
    expect(ENSEMBLE_TEMPLATES[0]).toBe('a photo of a [cls].');
    expect(ENSEMBLE_TEMPLATES[59]).toBe('itap of the [cls].');
    expect(SINGLE_TEMPLATE).toBe('a photo of a [cls].');
  });

  it('fills the class name with underscores turned into spaces', () => {
    expect(fillTemplate('a [cls] in a video game.', 'sea_lion')).toBe('a sea lion in a video game.');
  });
});

describe('zeroShotClassifier', () => {
  it('builds W^zs from the single template as the SPEC describes, rows unit length in the image hidden space', async () => {
    const classes = ['cat', 'dog_house'];
    const result = await zeroShotClassifier(model, tokenizer, classes, { templates: 'single', cacheDir: null });
    expect(result.weights.shape).toEqual([2, model.config.vision.hiddenSize]);
    expect(result.textEmbeddings.shape).toEqual([2, model.config.projectionDim]);
    const weights = result.weights.arraySync();
    const texts = result.textEmbeddings.arraySync();
    classes.forEach((name, i) => {
      const expected = expectedRows(name, [SINGLE_TEMPLATE]);
      expect(maxAbsDifference(texts[i]!, expected.text)).toBeLessThan(1e-5);
      expect(maxAbsDifference(weights[i]!, expected.weight)).toBeLessThan(1e-5);
    });
  });

  it('averages all 60 templates in ensemble mode and caches the result on disk', async () => {
    const classes = ['cat', 'house'];
    const cacheDir = path.join(tmp, 'cache');
    const first = await zeroShotClassifier(model, tokenizer, classes, { templates: 'ensemble60', cacheDir, batchSize: 50 });
    expect(first.fromCache).toBe(false);
    const expected = expectedRows('house', ENSEMBLE_TEMPLATES);
    expect(maxAbsDifference(first.weights.arraySync()[1]!, expected.weight)).toBeLessThan(1e-5);
    const second = await zeroShotClassifier(model, tokenizer, classes, { templates: 'ensemble60', cacheDir });
    expect(second.fromCache).toBe(true);
    expect(second.cacheUri).toBe(first.cacheUri);
    expect(maxAbsDifference(second.weights.dataSync(), first.weights.dataSync())).toBeLessThan(1e-7);
    const otherMode = await zeroShotClassifier(model, tokenizer, classes, { templates: 'single', cacheDir });
    const otherClasses = await zeroShotClassifier(model, tokenizer, ['house', 'cat'], { templates: 'ensemble60', cacheDir });
    expect(new Set([first.cacheUri, otherMode.cacheUri, otherClasses.cacheUri]).size).toBe(3);
    expect(otherMode.fromCache || otherClasses.fromCache).toBe(false);
  });
});

describe('zeroShotLogits', () => {
  it('is the logit scale times the cosine of projected image features and text embeddings', async () => {
    const { textEmbeddings } = await zeroShotClassifier(model, tokenizer, ['cat', 'dog', 'house'], { templates: 'single', cacheDir: null });
    const size = model.config.vision.imageSize;
    const features = model.encodeImageFeatures(tf.randomNormal([2, size, size, 3], 0, 1, 'float32', 4) as tf.Tensor4D);
    const logits = zeroShotLogits(model, features, textEmbeddings).arraySync();
    const images = model.projectImage(features).arraySync().map(unit);
    const texts = textEmbeddings.arraySync().map(unit);
    images.forEach((image, b) => texts.forEach((text, c) => expect(logits[b]![c]!).toBeCloseTo(100 * image.reduce((s, v, i) => s + v * text[i]!, 0), 3)));
  });
});
