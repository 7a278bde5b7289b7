/**
 * The mini-CLIP trainer's own forward pass must compute what Hugging Face CLIP computes, since
 * its weights are exported to the HF layout and read back by src/clip. These tests write a
 * randomly initialised (biases and LayerNorms perturbed too) trainer model to a folder, load it
 * through the real loader and compare, and check the loss, the optimiser and the custom
 * gradients against plain-array hand computations.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Tokenizer } from '@huggingface/tokenizers';
import { imagesToPatches, encodeCaptionIds } from '../../scripts/mini-clip/batches';
import { writeMiniClipFolder } from '../../scripts/mini-clip/export';
import { causalMask, constantTimesWeight, contrastiveLoss, imageFeatures, linearWithBias, textEmbeddings } from '../../scripts/mini-clip/model';
import { AdamW } from '../../scripts/mini-clip/optimizer';
import { paramSpecs, type ParamSpec } from '../../scripts/mini-clip/params';
import { clipConfigFor, DEFAULT_RECIPE } from '../../scripts/mini-clip/recipe';
import { buildClipTokenizer } from '../../scripts/mini-clip/tokenizer';
import { initBackend, loadClip, loadClipTokenizer, type ClipModel, type ClipTokenizer } from '../../src/clip';
import { createRng } from '../../src/common/random';
import { renderImage } from '../../src/procedural/render';
import { toClipPixels } from '../../src/procedural/samples';
import { sampleShapeSpec } from '../../src/procedural/world';

const CAPTIONS = ['a photo of a red circle.', 'a drawing of the striped blue star on a dark background.', 'itap of the green cross.'];

/** Random values for every tensor: unlike the trainer's init, biases and LayerNorm are not 0/1, so a mis-wired one shows. */
function perturbedValues(specs: readonly ParamSpec[], seed: number): Map<string, Float32Array> {
  const rng = createRng(seed);
  const values = new Map<string, Float32Array>();
  for (const spec of specs) {
    const count = spec.shape.reduce((a, b) => a * b, 1);
    const base = spec.init === 'ones' ? 1 : 0;
    const std = typeof spec.init === 'number' ? Math.max(spec.init, 0.05) : 0.1;
    values.set(spec.name, Float32Array.from({ length: count }, () => base + std * rng.normal()));
  }
  values.set('logit_scale', Float32Array.of(Math.log(20)));
  return values;
}

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return max;
}

describe('the mini-CLIP trainer against the runtime loader', () => {
  const recipe = { ...DEFAULT_RECIPE, imageSize: 16, patchSize: 8, visionHidden: 16, textHidden: 16, visionHeads: 2, textHeads: 2, maxPositionEmbeddings: 16, trainContext: 14 };
  const built = buildClipTokenizer(CAPTIONS, recipe.maxPositionEmbeddings);
  const config = clipConfigFor(recipe, built);
  const specs = paramSpecs(config);
  const values = perturbedValues(specs, 11);
  const params = new Map<string, tf.Tensor>();
  let dir = '';
  let model: ClipModel;
  let tokenizer: ClipTokenizer;

  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: () => undefined });
    for (const spec of specs) params.set(spec.name, tf.tensor(values.get(spec.name) as Float32Array, spec.shape));
    dir = await mkdtemp(path.join(os.tmpdir(), 'mini-clip-model-'));
    await writeMiniClipFolder(dir, { config, specs, values, tokenizerJson: built.tokenizerJson, tokenizerConfig: built.tokenizerConfig, metadata: {} });
    model = await loadClip(dir);
    tokenizer = await loadClipTokenizer(dir);
  });
  afterAll(async () => {
    model?.dispose();
    tf.dispose([...params.values()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('computes the same image features f as the loaded model', () => {
    const rng = createRng(3);
    const images = [0, 7, 20].map((c) => renderImage(sampleShapeSpec(c, rng), recipe.imageSize, rng));
    const tokens = (recipe.imageSize / recipe.patchSize) ** 2 + 1;
    const ours = tf.tidy(() =>
      imageFeatures(params, config, tf.tensor2d(imagesToPatches(images, recipe.imageSize, recipe.patchSize), [images.length * tokens, 3 * recipe.patchSize ** 2]), images.length).dataSync(),
    );
    const theirs = tf.tidy(() => model.encodeImageFeatures(tf.tensor4d(toClipPixels(images, recipe.imageSize), [images.length, recipe.imageSize, recipe.imageSize, 3])).dataSync());
    expect(maxAbsDifference(ours, theirs)).toBeLessThan(1e-4);
    expect(Math.max(...Array.from(theirs, Math.abs))).toBeGreaterThan(0.1);
  });

  it('computes the same text embeddings as the loaded model, with a training context shorter than the model context', () => {
    const tok = new Tokenizer(built.tokenizerJson, built.tokenizerConfig);
    const ids = CAPTIONS.map((caption) => tok.encode(caption).ids);
    const { oneHot, eosMask } = encodeCaptionIds(ids, CAPTIONS, recipe.trainContext, config.text.vocabSize, config.text.eosTokenId);
    const ours = tf.tidy(() =>
      textEmbeddings(
        params,
        config,
        tf.tensor2d(oneHot, [CAPTIONS.length * recipe.trainContext, config.text.vocabSize]),
        tf.tensor3d(eosMask, [CAPTIONS.length, recipe.trainContext, 1]),
        causalMask(recipe.trainContext),
      ).dataSync(),
    );
    const batch = tokenizer.encodeBatch(CAPTIONS);
    expect(batch.contextLength).toBe(recipe.maxPositionEmbeddings);
    const theirs = tf.tidy(() => model.encodeText(tf.tensor2d(batch.ids, [batch.rows, batch.contextLength], 'int32')).dataSync());
    expect(maxAbsDifference(ours, theirs)).toBeLessThan(1e-4);
  });

  it('exports the learned logit scale, which the loader reads as exp(logit_scale)', () => {
    expect(model.config.logitScale).toBeCloseTo(20, 4);
  });
});

describe('the mini-CLIP training pieces', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: () => undefined });
  });

  it('computes the symmetric contrastive loss of a hand-worked example', () => {
    const image = [
      [1, 0],
      [0, 2],
      [3, 4],
    ];
    const text = [
      [2, 0],
      [1, 1],
      [0, -1],
    ];
    const scale = 10;
    const unit = (v: number[]): number[] => v.map((x) => x / Math.hypot(...v));
    const logits = image.map((i) => text.map((t) => scale * unit(i).reduce((s, x, k) => s + x * (unit(t)[k] as number), 0)));
    const crossEntropy = (rows: number[][]): number =>
      rows.reduce((sum, row, r) => sum - ((row[r] as number) - Math.log(row.reduce((s, x) => s + Math.exp(x), 0))), 0) / rows.length;
    const transposed = logits.map((_, r) => logits.map((row) => row[r] as number));
    const expected = 0.5 * (crossEntropy(logits) + crossEntropy(transposed));
    const loss = tf.tidy(() => contrastiveLoss(new Map([['logit_scale', tf.scalar(Math.log(scale))]]), tf.tensor2d(image), tf.tensor2d(text)).dataSync()[0]);
    expect(loss).toBeCloseTo(expected, 4);
  });

  it('clamps the logit scale at 100 as CLIP does', () => {
    const image = tf.tensor2d([[1, 0], [0, 1]]);
    const text = tf.tensor2d([[1, 0], [0, 1]]);
    const at100 = contrastiveLoss(new Map([['logit_scale', tf.scalar(Math.log(100))]]), image, text).dataSync()[0];
    const at1000 = contrastiveLoss(new Map([['logit_scale', tf.scalar(Math.log(1000))]]), image, text).dataSync()[0];
    expect(at1000).toBeCloseTo(at100 as number, 6);
    expect(at100).toBeCloseTo(Math.log(1 + Math.exp(-100)), 6);
  });

  it('gives the same gradients through the custom linear ops as plain autodiff', () => {
    const x = tf.tensor2d([[0.5, -1, 2], [1.5, 0.25, -0.75]]);
    const w = tf.tensor2d([[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]]);
    const b = tf.tensor1d([0.05, -0.02]);
    const custom = tf.grads((xs: tf.Tensor, ws: tf.Tensor, bs: tf.Tensor) => tf.sum(tf.square(linearWithBias(xs, ws, bs))))([x, w, b]);
    const plain = tf.grads((xs: tf.Tensor, ws: tf.Tensor, bs: tf.Tensor) => tf.sum(tf.square(tf.add(tf.matMul(xs as tf.Tensor2D, ws as tf.Tensor2D), bs))))([x, w, b]);
    custom.forEach((g, i) => expect(maxAbsDifference(g.dataSync(), (plain[i] as tf.Tensor).dataSync())).toBeLessThan(1e-5));
    const [, dw] = tf.grads((xs: tf.Tensor, ws: tf.Tensor) => tf.sum(tf.square(constantTimesWeight(xs, ws))))([x, w]);
    const [, plainDw] = tf.grads((xs: tf.Tensor, ws: tf.Tensor) => tf.sum(tf.square(tf.matMul(xs as tf.Tensor2D, ws as tf.Tensor2D))))([x, w]);
    expect(maxAbsDifference((dw as tf.Tensor).dataSync(), (plainDw as tf.Tensor).dataSync())).toBeLessThan(1e-5);
  });

  it('takes AdamW steps equal to the formula worked by hand, decaying only the marked variables', () => {
    const decayed = tf.variable(tf.tensor1d([1, -2]));
    const kept = tf.variable(tf.tensor1d([0.5]));
    const optimizer = new AdamW([{ variable: decayed, decay: true }, { variable: kept, decay: false }], { beta1: 0.9, beta2: 0.98, epsilon: 1e-6, weightDecay: 0.1 });
    const lr = 0.01;
    const gradients = [
      [[0.2, -0.4], [0.3]],
      [[-0.1, 0.5], [0.1]],
    ];
    // Hand computation of the same two steps.
    const expected = { decayed: [1, -2], kept: [0.5] };
    const moments = { decayed: { m: [0, 0], v: [0, 0] }, kept: { m: [0], v: [0] } };
    gradients.forEach(([gd, gk], step) => {
      for (const [name, grad, decay] of [['decayed', gd, true], ['kept', gk, false]] as const) {
        const state = moments[name];
        const value = expected[name];
        grad.forEach((g, i) => {
          state.m[i] = 0.9 * (state.m[i] as number) + 0.1 * g;
          state.v[i] = 0.98 * (state.v[i] as number) + 0.02 * g * g;
          const mHat = (state.m[i] as number) / (1 - 0.9 ** (step + 1));
          const vHat = (state.v[i] as number) / (1 - 0.98 ** (step + 1));
          value[i] = (value[i] as number) * (decay ? 1 - lr * 0.1 : 1) - (lr * mHat) / (Math.sqrt(vHat) + 1e-6);
        });
      }
      optimizer.apply([tf.tensor1d(gd), tf.tensor1d(gk)], lr);
    });
    expect(maxAbsDifference(decayed.dataSync(), expected.decayed)).toBeLessThan(1e-6);
    expect(maxAbsDifference(kept.dataSync(), expected.kept)).toBeLessThan(1e-6);
    optimizer.dispose();
  });
});
