import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip/backend';
import { EncoderLayer } from '../../src/clip/encoder';
import { ClipWeightsError, loadClip, loadClipTokenizer, readSafetensors, writeSafetensors, type ClipModel, type ClipTokenizer } from '../../src/clip/index';
import { createRandomClip, seededRandom, type RandomClip } from '../../src/clip/testing';
import { TextTower } from '../../src/clip/text';
import { VisionTower } from '../../src/clip/vision';
import * as ref from './reference';

const random = seededRandom(11);
const randomPixels = (n: number): Float32Array => Float32Array.from({ length: n }, () => random() * 4 - 2);

let tmp: string;
let quick: RandomClip;
let model: ClipModel;
let tokenizer: ClipTokenizer;
let table: ReturnType<typeof readSafetensors>;

const visionDims = (clip: RandomClip): ref.VisionDims => ({
  width: clip.config.vision.hiddenSize,
  intermediate: clip.config.vision.intermediateSize,
  heads: clip.config.vision.numHeads,
  eps: clip.config.vision.layerNormEps,
  act: clip.config.vision.hiddenAct,
  layers: clip.config.vision.numLayers,
  imageSize: clip.config.vision.imageSize,
  patchSize: clip.config.vision.patchSize,
});

async function tableOf(dir: string): Promise<ReturnType<typeof readSafetensors>> {
  return readSafetensors(new Uint8Array(await readFile(path.join(dir, 'model.safetensors'))));
}

beforeAll(async () => {
  await initBackend({ log: () => {} });
  tmp = await mkdtemp(path.join(os.tmpdir(), 'clip-model-'));
  quick = await createRandomClip(path.join(tmp, 'quick'), { vision: { numHeads: 4 } }, 3);
  model = await loadClip(quick.dir);
  tokenizer = await loadClipTokenizer(quick.dir);
  table = await tableOf(quick.dir);
});

describe('vision tower', () => {
  it('embeds patches exactly as the stride-p convolution does, class token and positions included', () => {
    const tower = new VisionTower(table, quick.config.vision);
    const size = quick.config.vision.imageSize;
    const pixels = randomPixels(2 * size * size * 3);
    const embedded = tower.embed(tf.tensor4d(pixels, [2, size, size, 3])).arraySync();
    for (let b = 0; b < 2; b++) {
      const expected = ref.visionEmbeddings(pixels.subarray(b * size * size * 3, (b + 1) * size * size * 3), table, visionDims(quick));
      expect(ref.maxAbsDifference(embedded.slice(b * tower.tokens, (b + 1) * tower.tokens).flat(), expected.flat())).toBeLessThan(1e-4);
    }
    tower.dispose();
  });

  it('runs one encoder block like the plain-loop block (attention, residuals, MLP)', () => {
    const dims = visionDims(quick);
    const layer = new EncoderLayer(table, 'vision_model.encoder.layers.1', { ...dims, activation: dims.act }, {});
    const tokens = 6;
    const x = randomPixels(2 * tokens * dims.width);
    const xt = tf.tensor2d(x, [2 * tokens, dims.width]);
    const xTilde = layer.attend(xt, 2, tokens, null);
    const out = tf.add(xTilde, layer.mlp(xTilde)).arraySync() as number[][];
    for (let b = 0; b < 2; b++) {
      const sample = Array.from({ length: tokens }, (_, t) => Array.from(x.subarray((b * tokens + t) * dims.width, (b * tokens + t + 1) * dims.width)));
      const rows = ref.encoderLayer(sample, table, 'vision_model.encoder.layers.1', dims, false);
      expect(ref.maxAbsDifference(out.slice(b * tokens, (b + 1) * tokens).flat(), rows.flat())).toBeLessThan(1e-4);
    }
    layer.dispose();
  });

  it('gives f (post-LN class token) equal to the plain-loop forward for each image of a batch', () => {
    const size = quick.config.vision.imageSize;
    const pixels = randomPixels(3 * size * size * 3);
    const features = model.encodeImageFeatures(tf.tensor4d(pixels, [3, size, size, 3]));
    expect(features.shape).toEqual([3, quick.config.vision.hiddenSize]);
    const rows = features.arraySync();
    for (let b = 0; b < 3; b++) {
      expect(ref.maxAbsDifference(rows[b]!, ref.visionFeature(pixels.subarray(b * size * size * 3, (b + 1) * size * size * 3), table, visionDims(quick)))).toBeLessThan(1e-4);
    }
    const projected = model.projectImage(features);
    const expected = ref.linear(rows, table.get('visual_projection.weight')!.data, null, quick.config.projectionDim);
    expect(ref.maxAbsDifference(projected.dataSync(), expected.flat())).toBeLessThan(1e-4);
  });

  it('supports the erf gelu and a non-default LayerNorm eps from the config', async () => {
    const clip = await createRandomClip(path.join(tmp, 'gelu'), { vision: { hiddenAct: 'gelu', layerNormEps: 1e-2, imageSize: 24, patchSize: 6, numLayers: 1 } }, 5);
    const geluModel = await loadClip(clip.dir);
    const pixels = randomPixels(24 * 24 * 3);
    const f = geluModel.encodeImageFeatures(tf.tensor4d(pixels, [1, 24, 24, 3]));
    expect(ref.maxAbsDifference(f.dataSync(), ref.visionFeature(pixels, await tableOf(clip.dir), visionDims(clip)))).toBeLessThan(1e-4);
    geluModel.dispose();
  });

  it('refuses pixels of the wrong size with both shapes in the message', () => {
    expect(() => model.encodeImageFeatures(tf.zeros([1, 16, 16, 3]) as tf.Tensor4D)).toThrow(/NHWC \[batch, 32, 32, 3\], got \[1, 16, 16, 3\]/);
  });
});

describe('text tower', () => {
  it('reads the feature at the first end-of-text token and projects it, like the plain-loop forward', () => {
    const texts = ['a photo of a cat.', 'the dog', 'a bird, a fish and a tree!'];
    const batch = tokenizer.encodeBatch(texts);
    const tower = new TextTower(table, quick.config.text, quick.config.projectionDim);
    const pooled = tower.pooled(tf.tensor2d(batch.ids, [batch.rows, batch.contextLength], 'int32')).arraySync();
    const textDims: ref.TextDims = {
      width: quick.config.text.hiddenSize,
      intermediate: quick.config.text.intermediateSize,
      heads: quick.config.text.numHeads,
      eps: quick.config.text.layerNormEps,
      act: quick.config.text.hiddenAct,
      layers: quick.config.text.numLayers,
      eosTokenId: quick.config.text.eosTokenId,
    };
    for (let r = 0; r < texts.length; r++) {
      const ids = Array.from(batch.ids.subarray(r * batch.contextLength, (r + 1) * batch.contextLength));
      expect(ref.maxAbsDifference(pooled[r]!, ref.textPooled(ids, table, textDims))).toBeLessThan(1e-4);
    }
    const embedded = model.encodeText(tf.tensor2d(batch.ids, [batch.rows, batch.contextLength], 'int32'));
    expect(ref.maxAbsDifference(embedded.dataSync(), ref.linear(pooled, table.get('text_projection.weight')!.data, null, quick.config.projectionDim).flat())).toBeLessThan(1e-4);
    tower.dispose();
  });

  it('ignores whatever follows the end-of-text token (causal attention)', () => {
    const row = tokenizer.encode('a photo of a cat.');
    const noisy = Int32Array.from(row);
    const end = noisy.indexOf(quick.config.text.eosTokenId);
    for (let t = end + 1; t < noisy.length; t++) noisy[t] = 300 + t;
    const ids = tf.tensor2d([...row, ...noisy], [2, row.length], 'int32');
    const [a, b] = model.encodeText(ids).arraySync();
    expect(ref.maxAbsDifference(a!, b!)).toBeLessThan(1e-6);
  });
});

describe('loader', () => {
  it('names the tensor and both shapes when a tensor is mis-shaped', async () => {
    const dir = path.join(tmp, 'misshaped');
    await createRandomClip(dir, {}, 1);
    const tensors = await tableOf(dir);
    const broken: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [name, entry] of tensors) broken[name] = { shape: entry.shape, data: entry.data };
    broken['vision_model.encoder.layers.1.mlp.fc1.weight']!.shape = [32, 64];
    await writeFile(path.join(dir, 'model.safetensors'), writeSafetensors(broken));
    const attempt = loadClip(dir);
    await expect(attempt).rejects.toThrow(ClipWeightsError);
    await expect(loadClip(dir)).rejects.toThrow(/"vision_model\.encoder\.layers\.1\.mlp\.fc1\.weight" has shape \[32, 64\], expected \[64, 32\]/);
  });

  it('names a missing tensor and the shape it expected', async () => {
    const dir = path.join(tmp, 'missing');
    await createRandomClip(dir, {}, 1);
    const tensors = await tableOf(dir);
    const partial: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [name, entry] of tensors) if (name !== 'text_projection.weight') partial[name] = { shape: entry.shape, data: entry.data };
    await writeFile(path.join(dir, 'model.safetensors'), writeSafetensors(partial));
    await expect(loadClip(dir)).rejects.toThrow(/tensor "text_projection\.weight" is missing \(expected shape \[16, 32\]/);
  });

  it('takes the logit scale from the checkpoint', () => {
    expect(model.config.logitScale).toBeCloseTo(100, 3);
  });
});

describe('resources and gradients', () => {
  it('leaves no tensor behind across repeated forward passes', () => {
    const size = quick.config.vision.imageSize;
    const pixels = tf.tensor4d(randomPixels(2 * size * size * 3), [2, size, size, 3]);
    const batch = tokenizer.encodeBatch(['a cat', 'a dog']);
    const ids = tf.tensor2d(batch.ids, [batch.rows, batch.contextLength], 'int32');
    const pass = (): void => {
      const f = model.encodeImageFeatures(pixels);
      const p = model.projectImage(f);
      const t = model.encodeText(ids);
      tf.dispose([f, p, t]);
    };
    pass();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) pass();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('hands hooks the full token stream, except in the last block where only the class tokens reach f', () => {
    const size = quick.config.vision.imageSize;
    const pixels = tf.tensor4d(randomPixels(3 * size * size * 3), [3, size, size, 3]);
    const seen: { layer: number; shape: number[]; tokens: number }[] = [];
    const f = model.encodeImageFeatures(pixels, {
      blockHook: (layer, xTilde, info) => {
        seen.push({ layer, shape: xTilde.shape, tokens: info.tokens });
        return null;
      },
    });
    const { numLayers, hiddenSize, imageSize, patchSize } = quick.config.vision;
    const tokens = (imageSize / patchSize) ** 2 + 1;
    expect(seen).toEqual(
      Array.from({ length: numLayers }, (_, layer) =>
        layer === numLayers - 1 ? { layer, shape: [3, hiddenSize], tokens: 1 } : { layer, shape: [3 * tokens, hiddenSize], tokens },
      ),
    );
    expect(f.shape).toEqual([3, hiddenSize]);
    tf.dispose([f, pixels]);
  });

  it('passes gradients to an adapter attached at block 0, matching finite differences', () => {
    const size = quick.config.vision.imageSize;
    const width = quick.config.vision.hiddenSize;
    const pixels = tf.tensor4d(randomPixels(2 * size * size * 3), [2, size, size, 3]);
    const adapter = tf.variable(tf.tensor2d(randomPixels(width * width).map((v) => v * 0.05), [width, width]));
    const objective = (): tf.Scalar =>
      tf.sum(
        tf.square(
          model.encodeImageFeatures(pixels, {
            blockHook: (layer, xTilde) => (layer === 0 ? tf.matMul<tf.Tensor2D>(xTilde, adapter) : null),
          }),
        ),
      );
    const { grads } = tf.variableGrads(objective, [adapter]);
    const gradient = grads[adapter.name]!.dataSync();
    expect(Math.max(...Array.from(gradient, Math.abs))).toBeGreaterThan(1e-3);
    const h = 1e-2;
    for (const index of [0, 5 * width + 7, width * width - 1]) {
      const original = adapter.dataSync()[index]!;
      const at = (value: number): number => {
        const data = adapter.dataSync().slice();
        data[index] = value;
        adapter.assign(tf.tensor2d(data, [width, width]));
        return tf.tidy(() => objective().dataSync()[0]!);
      };
      const numeric = (at(original + h) - at(original - h)) / (2 * h);
      at(original);
      expect(gradient[index]!).toBeCloseTo(numeric, 2);
    }
  });
});
