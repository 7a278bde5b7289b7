/**
 * Evaluation during training (evalEvery), the best evaluated weights (keep: best) and the
 * evaluation's top-5 and confusion information, on the mini-CLIP (fixtures/mini-clip) and its
 * procedural world, whose features tell classes apart (a random CLIP's barely do, so every
 * epoch would evaluate alike). The weights a run ends with are compared tensor by tensor with
 * those it held at the end of each epoch.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, loadClip, loadClipTokenizer } from '../../src/clip';
import type { ClipModel, ClipTokenizer } from '../../src/clip/types';
import { MetricsDocument, type EpochMetrics } from '../../src/contracts/metrics';
import { resolveSettings, type SettingsOverrides } from '../../src/contracts/settings';
import { batchGradients, batchLogits, buildMetricsDocument, createSageModel, evaluate, readCheckpointHeader, summarizePredictions, trainSage, type GradientSource, type ProgressReporter } from '../../src/engine';
import { confusionOf } from '../../src/engine/evaluate';
import type { SageModel } from '../../src/engine/model';
import { MemoryObjectStore } from '../../src/storage/memory';
import { MINI_CLIP_FIXTURE } from '../../src/procedural/dataset';
import type { DomainName } from '../../src/procedural/domain';
import { renderClassImage, STREAM, toClipPixels } from '../../src/procedural/samples';
import { CLASS_NAMES } from '../../src/procedural/world';
import { MemoryBatchSource, snapshot, tempDir } from './helpers';

const hasFixture = existsSync(path.join(MINI_CLIP_FIXTURE, 'model.safetensors'));
if (!hasFixture) console.warn(`skipping the evaluation-during-training tests: ${MINI_CLIP_FIXTURE} has no model.safetensors (run scripts/make-mini-clip.ts)`);

const classIndices = [0, 6, 12, 1, 7, 13];
const classNames = classIndices.map((i) => CLASS_NAMES[i]!);
const counts = [12, 9, 6, 4, 3, 2];
const domain: DomainName = 'pretraining';
let clip: ClipModel;
let tokenizer: ClipTokenizer;
let cacheDir: string;
let size: number;

function split(perClass: readonly number[], stream: number, seed: number, indices: readonly number[] = classIndices, seen: DomainName = domain): { images: Float32Array[]; labels: number[] } {
  const images: Float32Array[] = [];
  const labels: number[] = [];
  perClass.forEach((count, label) => {
    for (let i = 0; i < count; i++) {
      images.push(toClipPixels([renderClassImage(indices[label]!, i, size, seed, stream, seen)], size));
      labels.push(label);
    }
  });
  return { images, labels };
}

beforeAll(async () => {
  if (!hasFixture) return;
  await initBackend({ backend: 'wasm', log: () => {} });
  clip = await loadClip(MINI_CLIP_FIXTURE);
  tokenizer = await loadClipTokenizer(MINI_CLIP_FIXTURE);
  size = clip.config.vision.imageSize;
  cacheDir = await tempDir('eval-cache');
});
afterAll(() => clip?.dispose());

async function model(overrides: SettingsOverrides = {}, names: readonly string[] = classNames): Promise<SageModel> {
  const settings = resolveSettings({ method: 'lift', batchSize: 8, epochs: 3, learningRate: 0.01, seed: 1, tte: false, ...overrides });
  return createSageModel({ clip, tokenizer, classNames: names, settings, cacheDir });
}
// 36 training images: 5 steps an epoch of batch 8.
const trainSource = () => new MemoryBatchSource(split(counts, STREAM.datasetTrain, 5), size);
const valSource = () => new MemoryBatchSource(split([5, 5, 5, 5, 5, 5], STREAM.datasetTest, 5), size);

/**
 * Ordinary gradients until `sabotaged.on`, then their negation times 30: gradient ascent on
 * the loss, which wrecks what the first epoch learnt, so a later epoch evaluates worse.
 */
function sabotage(): { gradients: GradientSource; sabotaged: { on: boolean } } {
  const sabotaged = { on: false };
  const gradients: GradientSource = (batch, context) => {
    const step = batchGradients(batch, context);
    if (!sabotaged.on) return step;
    const sums = step.sums.map((g) => tf.tidy(() => g.mul(-30)));
    tf.dispose(step.sums);
    return { ...step, sums };
  };
  return { gradients, sabotaged };
}

/** Records the weights at each epoch end and turns the sabotage on after epoch 1; optionally aborts after `stopAfterSteps`. */
function recorder(sabotaged: { on: boolean }, m: SageModel, stopAfterSteps?: number): { progress: ProgressReporter; weights: Map<number, Record<string, number[]>>; messages: string[]; signal: AbortSignal } {
  const weights = new Map<number, Record<string, number[]>>();
  const messages: string[] = [];
  const controller = new AbortController();
  let steps = 0;
  const progress: ProgressReporter = {
    step: () => (++steps === stopAfterSteps ? controller.abort() : undefined),
    epoch: (info) => {
      weights.set(info.epoch, snapshot(m.trainableVariables()));
      if (info.epoch >= 1) sabotaged.on = true;
    },
    message: (text) => messages.push(text),
    warning() {},
    close() {},
  };
  return { progress, weights, messages, signal: controller.signal };
}

function evaluations(epochs: readonly EpochMetrics[]): { epoch: number; all: number }[] {
  return epochs.filter((e) => e.evaluation).map((e) => ({ epoch: e.epoch, all: e.evaluation!.accuracy.all }));
}

describe.skipIf(!hasFixture)('top-5 accuracy and confusion', () => {
  it('counts an image as a top-5 hit when its label is among the five highest logits, checked against the logits', async () => {
    // 16 classes in a domain the mini-CLIP has not seen, so that top-5 is not every image.
    const indices = Array.from({ length: 16 }, (_, i) => i);
    const m = await model({}, indices.map((i) => CLASS_NAMES[i]!));
    const source = new MemoryBatchSource(split(indices.map(() => 3), STREAM.datasetTest, 7, indices, 'tungsten'), size);
    const evaluation = await evaluate({ model: m, test: source, trainCounts: indices.map(() => 10) });
    let hits = 0;
    let total = 0;
    for await (const batch of source.batches(0, { batchSize: 7, shuffle: false, seed: 0, transform: 'test' })) {
      const logits = tf.tidy(() => batchLogits(m, batch).arraySync());
      logits.forEach((row, i) => {
        const label = batch.labels[i]!;
        // Rank = how many classes score strictly higher than the label.
        const rank = row.filter((v) => v > row[label]!).length;
        if (rank < 5) hits += 1;
        total += 1;
      });
    }
    expect(hits).toBeLessThan(total);
    expect(evaluation.accuracy.top5).toBeCloseTo(hits / total, 10);
    expect(evaluation.accuracy.top5).toBeGreaterThanOrEqual(evaluation.accuracy.all);
    m.dispose();
  });

  it('gives top-5 = 1 with fewer than five classes', async () => {
    const m = await model({}, classNames.slice(0, 3));
    const evaluation = await evaluate({ model: m, test: new MemoryBatchSource(split([3, 3, 3], STREAM.datasetTest, 2), size), trainCounts: [5, 4, 3] });
    expect(evaluation.accuracy.top5).toBe(1);
    m.dispose();
  });

  it('counts confusions by hand: the matrix, and the most frequent mistakes first', () => {
    const labels = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3];
    const predictions = [0, 1, 1, 0, 1, 1, 1, 0, 2, 2];
    const confusion = confusionOf(labels, predictions, 4);
    expect(confusion.matrix).toEqual([
      [1, 2, 0, 0],
      [1, 1, 0, 0],
      [1, 2, 1, 0],
      [0, 0, 1, 0],
    ]);
    // 0→1 and 2→1 twice (label order breaks the tie), then the single mistakes by label.
    expect(confusion.pairs).toEqual([
      { label: 0, predicted: 1, count: 2 },
      { label: 2, predicted: 1, count: 2 },
      { label: 1, predicted: 0, count: 1 },
      { label: 2, predicted: 0, count: 1 },
      { label: 3, predicted: 2, count: 1 },
    ]);
    const summary = summarizePredictions({ labels, predictions, topKHits: [1, 1, 1, 1, 1, 1, 0, 1, 1, 1], classNames: ['a', 'b', 'c', 'd'], trainCounts: [5, 5, 5, 5] });
    expect(summary.confusion).toEqual(confusion);
    expect(summary.accuracy.top5).toBeCloseTo(0.9, 12);
  });

  it('keeps only the top 20 pairs and no matrix above 100 classes', () => {
    const numClasses = 150;
    const labels: number[] = [];
    const predictions: number[] = [];
    // Class c is mistaken for c + 1 exactly c + 1 times (c < 30): the largest counts are at the end.
    for (let c = 0; c < 30; c++) for (let k = 0; k <= c; k++) {
      labels.push(c);
      predictions.push(c + 1);
    }
    const confusion = confusionOf(labels, predictions, numClasses);
    expect(confusion.matrix).toBeUndefined();
    expect(confusion.pairs).toHaveLength(20);
    expect(confusion.pairs[0]).toEqual({ label: 29, predicted: 30, count: 30 });
    expect(confusion.pairs.at(-1)).toEqual({ label: 10, predicted: 11, count: 11 });
    expect(confusionOf(labels, predictions, 100).matrix![29]![30]).toBe(30);
  });
});

describe.skipIf(!hasFixture)('evaluation during training', () => {
  it('evaluates every evalEvery epochs and after the last, writing test accuracy and the evaluation per epoch', async () => {
    const m = await model({ epochs: 3, evalEvery: 2 });
    const records: { type: string; testAccuracy?: number }[] = [];
    const result = await trainSage({ model: m, train: trainSource(), trainCounts: counts, test: valSource(), log: { append: (r) => records.push(r), flush: async () => {} } });
    expect(result.epochs.map((e) => e.evaluation?.split ?? null)).toEqual([null, 'test', 'test']);
    expect(result.epochs[0]!.testAccuracy).toBeUndefined();
    // The last epoch's figures are those of a fresh evaluation of the final weights.
    const fresh = await evaluate({ model: m, test: valSource(), trainCounts: counts });
    expect(result.epochs[2]!.testAccuracy).toBe(fresh.accuracy.all);
    expect(result.epochs[2]!.evaluation!.accuracy).toEqual(fresh.accuracy);
    expect(result.kept).toEqual({ rule: 'last', epoch: 3 });
    expect(result.keptEvaluation!.accuracy).toEqual(fresh.accuracy);
    expect(records.filter((r) => r.type === 'epoch').map((r) => r.testAccuracy)).toEqual(result.epochs.map((e) => e.testAccuracy));
    m.dispose();
  });

  it('labels evaluations of the held-out split as val', async () => {
    const m = await model({ epochs: 1, evalEvery: 1 });
    const result = await trainSage({ model: m, train: trainSource(), trainCounts: counts, test: valSource(), evaluationSplit: 'val' });
    expect(result.epochs[0]!.valAccuracy).toBe(result.epochs[0]!.evaluation!.accuracy.all);
    expect(result.epochs[0]!.testAccuracy).toBeUndefined();
    expect(result.epochs[0]!.evaluation!.split).toBe('val');
    m.dispose();
  });

  it('refuses keep: best without a folder for the best weights', async () => {
    const m = await model({ evalEvery: 1, keep: 'best' });
    await expect(trainSage({ model: m, train: trainSource(), trainCounts: counts, test: valSource() })).rejects.toThrow("keep 'best' needs evaluations during training (evalEvery 1, a split to evaluate) and a folder for the best weights (none given)");
    m.dispose();
  });
});

describe.skipIf(!hasFixture)('keep: best', () => {
  /** The uninterrupted 3-epoch run whose epochs 2 and 3 undo epoch 1. */
  let reference: { weights: Map<number, Record<string, number[]>>; final: Record<string, number[]>; result: Awaited<ReturnType<typeof trainSage>>; store: MemoryObjectStore };

  beforeAll(async () => {
    const m = await model({ evalEvery: 1, keep: 'best' });
    const { gradients, sabotaged } = sabotage();
    const { progress, weights } = recorder(sabotaged, m);
    const store = new MemoryObjectStore();
    const result = await trainSage({ model: m, train: trainSource(), trainCounts: counts, test: valSource(), gradients, progress, best: { store, uri: 's3://r/run/0/best/' } });
    reference = { weights, final: snapshot(m.trainableVariables()), result, store };
    m.dispose();
  });

  it('ends a run whose later epochs are worse with the weights of the best epoch, not the last', () => {
    const evaluated = evaluations(reference.result.epochs);
    // The sabotage worked: each later epoch evaluates worse than the first.
    expect(evaluated[1]!.all).toBeLessThan(evaluated[0]!.all);
    expect(evaluated[2]!.all).toBeLessThan(evaluated[0]!.all);
    expect(reference.result.kept).toEqual({ rule: 'best', epoch: 1, best: { epoch: 1, split: 'test', metric: 'all', value: evaluated[0]!.all } });
    expect(reference.final).toEqual(reference.weights.get(1));
    expect(reference.final).not.toEqual(reference.weights.get(3));
    expect(reference.result.keptEvaluation!.accuracy).toEqual(reference.result.epochs[0]!.evaluation!.accuracy);
  });

  it('records which weights metrics.json measured', async () => {
    const m = await model({ evalEvery: 1, keep: 'best' });
    const { loadAdapterWeights } = await import('../../src/engine/adapter-file');
    await loadAdapterWeights(m, { store: reference.store, uri: 's3://r/run/0/best/' });
    expect(snapshot(m.trainableVariables())).toEqual(reference.weights.get(1));
    const evaluation = await evaluate({ model: m, test: valSource(), trainCounts: counts });
    const doc = MetricsDocument.parse(
      buildMetricsDocument({ runId: 'r', datasetName: 'd', settings: m.settings, train: reference.result, evaluation, backend: 'wasm', startedAt: new Date(0), finishedAt: new Date(1000) }),
    );
    expect(doc.kept).toEqual(reference.result.kept);
    expect(doc.accuracy).toEqual(reference.result.epochs[0]!.evaluation!.accuracy);
    expect(doc.confusion!.matrix!.flat().reduce((a, b) => a + b, 0)).toBe(30);
    m.dispose();
  });

  it('picks by the chosen metric: tail instead of all', async () => {
    const m = await model({ evalEvery: 1, keep: 'best', keepMetric: 'tail' });
    const { gradients, sabotaged } = sabotage();
    const { progress, weights } = recorder(sabotaged, m);
    const result = await trainSage({ model: m, train: trainSource(), trainCounts: counts, test: valSource(), gradients, progress, best: { store: new MemoryObjectStore(), uri: 's3://r/t/' } });
    const tails = result.epochs.map((e) => e.evaluation!.accuracy.tail!);
    const bestEpoch = tails.indexOf(Math.max(...tails)) + 1; // the first of equal maxima
    expect(result.kept!.epoch).toBe(bestEpoch);
    expect(result.kept!.best!.value).toBe(tails[bestEpoch - 1]);
    expect(snapshot(m.trainableVariables())).toEqual(weights.get(bestEpoch));
    m.dispose();
  });

  it('keeps the best so far across a resume: a run stopped in epoch 2 ends with epoch 1 weights', async () => {
    const checkpoint = { store: new MemoryObjectStore(), uri: 's3://a/ckpt/0/' };
    const best = { store: new MemoryObjectStore(), uri: 's3://r/run/0/best/' };
    const first = await model({ evalEvery: 1, keep: 'best' });
    const one = sabotage();
    // Stop after the second step of epoch 2.
    const stopped = recorder(one.sabotaged, first, 7);
    const partial = await trainSage({ model: first, train: trainSource(), trainCounts: counts, test: valSource(), gradients: one.gradients, progress: stopped.progress, signal: stopped.signal, checkpoint, best });
    expect(partial.status).toBe('stopped');
    first.dispose();
    expect((await readCheckpointHeader(checkpoint))!.position.best).toEqual(reference.result.kept!.best);

    const second = await model({ evalEvery: 1, keep: 'best' });
    const two = sabotage();
    two.sabotaged.on = true; // resuming inside epoch 2, past the first epoch
    const resumed = recorder(two.sabotaged, second);
    const result = await trainSage({ model: second, train: trainSource(), trainCounts: counts, test: valSource(), gradients: two.gradients, progress: resumed.progress, checkpoint, best });
    expect(result.resumedFrom).toEqual({ epoch: 1, step: 2 });
    expect(result.kept).toEqual(reference.result.kept);
    expect(evaluations(result.epochs)).toEqual(evaluations(reference.result.epochs));
    expect(snapshot(second.trainableVariables())).toEqual(reference.weights.get(1));
    // The evaluation of epoch 1 was made before the stop: this call has none of the kept weights to hand over.
    expect(result.keptEvaluation).toBeNull();
    expect(resumed.messages.some((m) => m.startsWith('keeping the weights of epoch 1 of 3: all'))).toBe(true);
    second.dispose();
  });
});
