import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip/backend';
import type { ClipModel } from '../../src/clip/types';
import { resolveSettings, type SettingsOverrides } from '../../src/contracts/settings';
import { adaptedFeatures, frozenFeatures, type SageModel } from '../../src/engine/model';
import { EngineCheckpointError, EngineEmptyClassError, EngineNonFiniteLossError, trainSage } from '../../src/engine';
import { LocalObjectStore } from '../../src/storage';
import { datasetLoss, MemoryBatchSource, modelWithRandomZeroShot, randomClip, snapshot, syntheticDataset, tempDir, trainAndStopAfter } from './helpers';

const local = new LocalObjectStore();

const classNames = ['cat', 'dog', 'car', 'tree'];
const counts = [12, 8, 4, 2];
let clip: ClipModel;
let size: number;

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: () => {} });
  ({ clip } = await randomClip({ vision: { numLayers: 2, hiddenSize: 32, imageSize: 32, patchSize: 8 } }, 3));
  size = clip.config.vision.imageSize;
});
afterAll(() => clip.dispose());

function model(overrides: SettingsOverrides): SageModel {
  return modelWithRandomZeroShot(clip, classNames, resolveSettings({ batchSize: 8, epochs: 2, learningRate: 0.05, seed: 1, ...overrides }));
}

const trainSource = () => new MemoryBatchSource(syntheticDataset(counts, 32, 5), 32);

describe('training on a tiny random CLIP', () => {
  it('leaves the features exactly equal to the frozen ones at initialisation (W_up = 0), for both adapters', () => {
    for (const method of ['lift', 'sage'] as const) {
      const m = model({ method });
      const pixels = tf.tensor4d(syntheticDataset([2], size, 1).images[0]!, [1, size, size, 3]);
      const adapted = tf.tidy(() => adaptedFeatures(m, pixels).dataSync());
      const frozen = tf.tidy(() => frozenFeatures(m, pixels).dataSync());
      expect(Array.from(adapted)).toEqual(Array.from(frozen));
      pixels.dispose();
      m.dispose();
    }
  });

  for (const method of ['lift', 'sage'] as const) {
    it(`lowers the training loss over one epoch (${method})`, async () => {
      const m = model({ method, epochs: 1 });
      const source = trainSource();
      const before = await datasetLoss(m, source, counts);
      const result = await trainSage({ model: m, train: source, trainCounts: counts });
      const after = await datasetLoss(m, source, counts);
      expect(result.status).toBe('completed');
      expect(result.epochs).toHaveLength(1);
      expect(after).toBeLessThan(before);
      m.dispose();
    });
  }

  it('keeps the number of tensors constant from step to step (no leak)', async () => {
    const m = model({ method: 'sage', epochs: 3, microBatchSize: 4 });
    const counts: number[] = [];
    await trainSage({
      model: m,
      train: trainSource(),
      trainCounts: [12, 8, 4, 2],
      progress: { step: () => counts.push(tf.memory().numTensors), epoch() {}, message() {}, warning() {}, close() {} },
    });
    expect(counts.length).toBeGreaterThan(4);
    // After the first step the momentum slots exist; from then on nothing may accumulate.
    expect(new Set(counts.slice(1)).size).toBe(1);
    m.dispose();
  });

  it('is repeatable: the same seed and data give the same weights and losses, with or without micro-batches', async () => {
    const run = async (microBatchSize: number | null) => {
      const m = model({ method: 'sage', microBatchSize });
      const result = await trainSage({ model: m, train: trainSource(), trainCounts: counts });
      const weights = snapshot(m.trainableVariables());
      m.dispose();
      return { losses: result.epochs.map((e) => e.loss), weights };
    };
    const a = await run(null);
    const b = await run(null);
    expect(b).toEqual(a);
    const micro = await run(4);
    micro.losses.forEach((loss, i) => expect(loss).toBeCloseTo(a.losses[i]!, 4));
  });

  it('resumes from the checkpoint of a stopped run and ends exactly as an uninterrupted run', async () => {
    const uninterrupted = model({ method: 'sage', epochs: 3 });
    const full = await trainSage({ model: uninterrupted, train: trainSource(), trainCounts: counts });
    const expected = snapshot(uninterrupted.trainableVariables());
    uninterrupted.dispose();

    const checkpoint = { store: local, uri: await tempDir('ckpt') };
    const first = model({ method: 'sage', epochs: 3 });
    // Stop in the middle of the second epoch (4 steps per epoch).
    const stopped = await trainAndStopAfter(6, { model: first, train: trainSource(), trainCounts: counts, checkpoint });
    first.dispose();
    expect(stopped.status).toBe('stopped');

    const second = model({ method: 'sage', epochs: 3 });
    const resumed = await trainSage({ model: second, train: trainSource(), trainCounts: counts, checkpoint });
    expect(resumed.resumedFrom).toEqual({ epoch: 1, step: 2 });
    expect(snapshot(second.trainableVariables())).toEqual(expected);
    expect(resumed.epochs.map((e) => [e.loss, e.trainAccuracy])).toEqual(full.epochs.map((e) => [e.loss, e.trainAccuracy]));
    second.dispose();

    // A checkpoint is never resumed into a model with other settings.
    const other = model({ method: 'sage', epochs: 3, alpha: 0.5 });
    await expect(trainSage({ model: other, train: trainSource(), trainCounts: counts, checkpoint })).rejects.toThrow(EngineCheckpointError);
    other.dispose();
  });

  it('refuses a class with no training images before training, naming it', async () => {
    const m = model({ method: 'lift' });
    await expect(trainSage({ model: m, train: trainSource(), trainCounts: [12, 8, 0, 2] })).rejects.toThrow(EngineEmptyClassError);
    await expect(trainSage({ model: m, train: trainSource(), trainCounts: [12, 8, 0, 2] })).rejects.toThrow(/class 2 \("car"\)/);
    m.dispose();
  });

  it('stops on a non-finite loss naming the step and the last finite loss, and keeps the last good checkpoint', async () => {
    const checkpoint = { store: local, uri: await tempDir('nan') };
    const m = model({ method: 'lift', epochs: 2 });
    const data = syntheticDataset(counts, 32, 5);
    // Poison one image that the second epoch will meet: NaN pixels give a NaN loss.
    const poisoned = new MemoryBatchSource(data, 32);
    const original = poisoned.batches.bind(poisoned);
    poisoned.batches = async function* (epoch, options) {
      for await (const batch of original(epoch, options)) {
        if (epoch === 1) batch.images[0] = NaN;
        yield batch;
      }
    };
    const error = await trainSage({ model: m, train: poisoned, trainCounts: counts, checkpoint }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineNonFiniteLossError);
    const nonFinite = error as EngineNonFiniteLossError;
    expect(nonFinite.epoch).toBe(2);
    expect(nonFinite.step).toBe(1);
    expect(Number.isFinite(nonFinite.lastFiniteLoss)).toBe(true);
    expect(nonFinite.message).toMatch(/epoch 2, step 1/);
    const { readCheckpointHeader } = await import('../../src/engine');
    const header = await readCheckpointHeader(checkpoint);
    expect(header?.position.epoch).toBe(1);
    m.dispose();
  });
});
