import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip/backend';
import type { ClipModel } from '../../src/clip/types';
import { MetricsDocument } from '../../src/contracts/metrics';
import { resolveSettings } from '../../src/contracts/settings';
import { batchLogits, buildMetricsDocument, evaluate, loadAdapter, perBlockFormula, predict, saveAdapter, summarizePredictions, trainSage, type SageModel } from '../../src/engine';
import { buildSageModel } from '../../src/engine/model';
import { LocalObjectStore } from '../../src/storage';
import { MemoryBatchSource, randomClip, syntheticDataset, tempDir } from './helpers';
import { filler } from './reference';

const classNames = ['cat', 'dog', 'car'];
let clip: ClipModel;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: () => {} });
  ({ clip } = await randomClip({}, 4));
});
afterAll(() => clip.dispose());

function model(method: 'lift' | 'sage', overrides = {}): SageModel {
  const width = clip.config.vision.hiddenSize;
  const next = filler(42);
  const zeroShot = tf.tensor2d(Array.from({ length: 3 * width }, () => next()), [3, width]);
  const text = tf.tensor2d(Array.from({ length: 3 * clip.config.projectionDim }, () => next()), [3, clip.config.projectionDim]);
  const m = buildSageModel({ clip, settings: resolveSettings({ method, batchSize: 4, epochs: 1, ...overrides }), classNames, zeroShotWeights: zeroShot, textEmbeddings: text });
  tf.dispose([zeroShot, text]);
  return m;
}

describe('accuracy summaries', () => {
  it('computes top-1, per-class accuracy and head/medium/tail means by training count', () => {
    const labels = [0, 0, 0, 1, 1, 2, 2, 2, 2];
    const predictions = [0, 1, 0, 1, 1, 0, 2, 1, 1];
    const { accuracy, perClass } = summarizePredictions({ labels, predictions, classNames, trainCounts: [150, 50, 5] });
    expect(accuracy.all).toBeCloseTo(5 / 9, 10);
    expect(perClass.map((c) => c.accuracy)).toEqual([2 / 3, 1, 1 / 4]);
    expect(perClass.map((c) => c.group)).toEqual(['head', 'medium', 'tail']);
    expect(perClass.map((c) => c.testCount)).toEqual([3, 2, 4]);
    expect([accuracy.head, accuracy.medium, accuracy.tail]).toEqual([2 / 3, 1, 1 / 4]);
  });

  it('groups by groupCounts when given (CIFAR β = 50, 10 reuse the β = 100 split) and reports null for an empty group', () => {
    const { accuracy, perClass } = summarizePredictions({ labels: [0, 1, 2], predictions: [0, 1, 0], classNames, trainCounts: [500, 400, 300], groupCounts: [500, 30, 25] });
    expect(perClass.map((c) => c.group)).toEqual(['head', 'medium', 'medium']);
    expect(perClass.map((c) => c.trainCount)).toEqual([500, 400, 300]);
    expect(accuracy.tail).toBeNull();
    expect(accuracy.medium).toBe(0.5);
  });
});

describe('evaluation and prediction', () => {
  it('averages the logits of the five TTE crops of each image', () => {
    const m = model('lift');
    const size = clip.config.vision.imageSize;
    const pixels = size * size * 3;
    const images = syntheticDataset([1, 1], size, 3).images;
    const crops = new Float32Array(2 * 5 * pixels);
    images.forEach((image, item) => {
      for (let c = 0; c < 5; c++) crops.set(image.map((v) => v * (1 + 0.1 * c)), (item * 5 + c) * pixels);
    });
    const averaged = tf.tidy(() => batchLogits(m, { images: crops, n: 2, size, crops: 5 }).arraySync());
    const single = tf.tidy(() => batchLogits(m, { images: crops, n: 10, size, crops: 1 }).arraySync());
    for (let item = 0; item < 2; item++) {
      for (let k = 0; k < 3; k++) {
        const mean = [0, 1, 2, 3, 4].reduce((a, c) => a + single[item * 5 + c]![k]!, 0) / 5;
        expect(averaged[item]![k]).toBeCloseTo(mean, 4);
      }
    }
    m.dispose();
  });

  it('scores the zero-shot method with CLIP’s 100·cos(projected f, text embedding)', () => {
    const m = model('lift', { method: 'zero-shot' });
    const size = clip.config.vision.imageSize;
    const image = syntheticDataset([1], size, 8).images[0]!;
    const logits = tf.tidy(() => batchLogits(m, { images: image, n: 1, size, crops: 1 }).dataSync());
    const projected = tf.tidy(() => Array.from(clip.projectImage(clip.encodeImageFeatures(tf.tensor4d(image, [1, size, size, 3]))).dataSync()));
    const text = m.textEmbeddings!.arraySync();
    const norm = (v: number[]) => Math.sqrt(v.reduce((a, x) => a + x * x, 0));
    text.forEach((t, k) => expect(logits[k]).toBeCloseTo((100 * t.reduce((a, x, i) => a + x * projected[i]!, 0)) / (norm(t) * norm(projected)), 3));
    m.dispose();
  });

  it('reports parameters counted from the model’s variables, matching the per-block formulas', () => {
    const { hiddenSize: d, numLayers } = clip.config.vision;
    const lift = model('lift');
    const sage = model('sage');
    const noProj = model('sage', { sgProjection: false });
    expect(lift.parameterReport()).toEqual({ adapters: numLayers * perBlockFormula('adaptformer', d, 1), classifier: 3 * d, fitScalars: 0, total: numLayers * perBlockFormula('adaptformer', d, 1) + 3 * d, perBlock: perBlockFormula('adaptformer', d, 1), bottleneck: 1 });
    expect(sage.parameterReport().perBlock).toBe(perBlockFormula('sg', d, 1));
    expect(sage.parameterReport().fitScalars).toBe(2);
    expect(noProj.parameterReport().perBlock).toBe(perBlockFormula('sg-no-proj', d, 1));
    [lift, sage, noProj].forEach((m) => m.dispose());
  });

  it('saves a trained adapter that loads into a new model giving the same predictions, and writes a valid metrics document', async () => {
    const size = clip.config.vision.imageSize;
    const counts = [6, 4, 2];
    const train = new MemoryBatchSource(syntheticDataset(counts, size, 1), size);
    const test = new MemoryBatchSource(syntheticDataset([3, 3, 3], size, 2), size);
    const m = model('sage', { epochs: 1 });
    const startedAt = new Date();
    const result = await trainSage({ model: m, train, trainCounts: counts });
    const evaluation = await evaluate({ model: m, test, trainCounts: counts, tte: true });
    const doc = buildMetricsDocument({ runId: 'r1', datasetName: 'synthetic', settings: m.settings, train: result, evaluation, backend: 'wasm', startedAt, finishedAt: new Date() });
    expect(MetricsDocument.parse(JSON.parse(JSON.stringify(doc)))).toEqual(doc);
    expect(doc.method).toBe('sage');
    expect(doc.config).toMatchObject({ engine: { fitZeroShotFeatures: 'forward-only' } });
    expect(doc.perClass).toHaveLength(3);
    expect(doc.epochs).toHaveLength(1);

    const dir = await tempDir('adapter');
    const folder = { store: new LocalObjectStore(), uri: dir };
    await saveAdapter(m, folder);
    const loaded = await loadAdapter(folder, { clip });
    const images = syntheticDataset([1, 1, 1], size, 9).images;
    const batch = { images: new Float32Array(images.flatMap((i) => Array.from(i))), n: 3, size, crops: 1, keys: ['a', 'b', 'c'] };
    const [before, after] = [await predict(m, batch, { k: 2 }), await predict(loaded, batch, { k: 2 })];
    // W^zs is stored normalised and re-normalised on load: equal up to float rounding.
    expect(after.map((p) => p.top.map((t) => t.index))).toEqual(before.map((p) => p.top.map((t) => t.index)));
    after.forEach((p, i) => p.top.forEach((t, j) => expect(t.probability).toBeCloseTo(before[i]!.top[j]!.probability, 5)));
    expect(before[0]!.top).toHaveLength(2);
    expect(before[0]!.key).toBe('a');
    expect(before[0]!.top[0]!.probability).toBeGreaterThanOrEqual(before[0]!.top[1]!.probability);
    m.dispose();
    loaded.dispose();
  });
});
