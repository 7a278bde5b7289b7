import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend, loadClip, loadClipTokenizer } from '../../src/clip/index';

const fixture = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'mini-clip');
const present = existsSync(path.join(fixture, 'model.safetensors'));
if (!present) console.warn(`skipping mini-CLIP fixture loading test: ${fixture} has no model.safetensors yet`);

describe.skipIf(!present)('the mini-CLIP fixture', () => {
  it('loads through the real loader and tokenizer and runs both towers', async () => {
    await initBackend({ log: () => {} });
    const model = await loadClip(fixture);
    const tokenizer = await loadClipTokenizer(fixture);
    const { vision, text, projectionDim } = model.config;
    expect(tokenizer.contextLength).toBe(text.maxPositionEmbeddings);
    const row = tokenizer.encode('a photo of a thing.');
    expect(row[0]).toBe(text.bosTokenId);
    expect(Array.from(row)).toContain(text.eosTokenId);
    const features = model.encodeImageFeatures(tf.zeros([2, vision.imageSize, vision.imageSize, 3]) as tf.Tensor4D);
    expect(features.shape).toEqual([2, vision.hiddenSize]);
    const embedded = model.encodeText(tf.tensor2d(row, [1, row.length], 'int32'));
    expect(embedded.shape).toEqual([1, projectionDim]);
    expect(Array.from(embedded.dataSync()).every(Number.isFinite)).toBe(true);
    model.dispose();
  });
});
