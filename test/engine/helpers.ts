/**
 * Test fixtures for the engine: a tiny random CLIP on disk (src/clip/testing), an
 * in-memory BatchSource over synthetic class-coloured images, and a plain-array loss.
 */
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadClip, loadClipTokenizer } from '../../src/clip';
import { createRandomClip, type RandomClipOptions } from '../../src/clip/testing';
import type { ClipModel, ClipTokenizer } from '../../src/clip/types';
import type { BatchSource, EpochOptions, ImageBatch } from '../../src/contracts/batches';
import type { Settings } from '../../src/contracts/settings';
import { logitAdjustment } from '../../src/engine/heads';
import { buildSageModel, frozenFeatures, trainingLoss, type SageModel } from '../../src/engine/model';
import { trainSage, type TrainResult, type TrainSageOptions } from '../../src/engine/train';
import { filler } from './reference';

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), `engine-${prefix}-`));
}

export async function randomClip(options: RandomClipOptions = {}, seed = 0): Promise<{ clip: ClipModel; tokenizer: ClipTokenizer; dir: string }> {
  const dir = await tempDir('clip');
  await createRandomClip(dir, options, seed);
  return { clip: await loadClip(dir, { cacheDir: path.join(dir, 'cache') }), tokenizer: await loadClipTokenizer(dir), dir };
}

/** A seeded permutation of 0..n-1 (Fisher-Yates). */
function permutation(n: number, seed: number): number[] {
  const next = filler(seed);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(((next() + 1) / 2) * (i + 1)) % (i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Items held in memory; `tte` yields five crops per item (scaled copies), item-major. */
export class MemoryBatchSource implements BatchSource {
  readonly count: number;

  constructor(
    private readonly items: { images: Float32Array[]; labels: number[] },
    private readonly size: number,
  ) {
    this.count = items.labels.length;
  }

  async labels(): Promise<Int32Array> {
    return Int32Array.from(this.items.labels);
  }

  async *batches(epoch: number, options: EpochOptions): AsyncIterable<ImageBatch> {
    const order = options.shuffle ? permutation(this.count, options.seed * 1000 + epoch + 1) : Array.from({ length: this.count }, (_, i) => i);
    const crops = options.transform === 'tte' ? 5 : 1;
    const pixels = this.size * this.size * 3;
    for (let start = options.skip ?? 0; start < this.count; start += options.batchSize) {
      const chosen = order.slice(start, start + options.batchSize);
      const images = new Float32Array(chosen.length * crops * pixels);
      chosen.forEach((item, i) => {
        for (let c = 0; c < crops; c++) {
          const source = this.items.images[item]!;
          const target = images.subarray((i * crops + c) * pixels, (i * crops + c + 1) * pixels);
          for (let p = 0; p < pixels; p++) target[p] = source[p]! * (1 - 0.05 * c);
        }
      });
      yield { images, labels: Int32Array.from(chosen.map((i) => this.items.labels[i]!)), keys: chosen.map((i) => `item-${i}`), n: chosen.length, size: this.size, crops };
    }
  }

  async close(): Promise<void> {}
}

/**
 * Synthetic images: each class has a fixed random colour pattern on a coarse grid; items add
 * noise. `perClass[i]` items of class i.
 */
export function syntheticDataset(perClass: readonly number[], size: number, seed: number, noise = 0.6): { images: Float32Array[]; labels: number[] } {
  const classNext = filler(1234);
  const grid = 4;
  const patterns = perClass.map(() => Array.from({ length: grid * grid * 3 }, () => classNext(1.5)));
  const next = filler(seed);
  const images: Float32Array[] = [];
  const labels: number[] = [];
  perClass.forEach((count, label) => {
    for (let k = 0; k < count; k++) {
      const image = new Float32Array(size * size * 3);
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const cell = Math.floor((y * grid) / size) * grid + Math.floor((x * grid) / size);
          for (let c = 0; c < 3; c++) image[(y * size + x) * 3 + c] = patterns[label]![cell * 3 + c]! + next(noise);
        }
      }
      images.push(image);
      labels.push(label);
    }
  });
  return { images, labels };
}

/** A model on `clip` whose W^zs rows are fixed pseudo-random numbers (filler(99)), as the training tests use. */
export function modelWithRandomZeroShot(clip: ClipModel, classNames: readonly string[], settings: Settings): SageModel {
  const next = filler(99);
  const width = clip.config.vision.hiddenSize;
  const zeroShot = tf.tensor2d(Array.from({ length: classNames.length * width }, () => next()), [classNames.length, width]);
  const built = buildSageModel({ clip, settings, classNames, zeroShotWeights: zeroShot });
  zeroShot.dispose();
  return built;
}

/** Trains with a signal that aborts after `steps` steps, as SIGTERM does in the trainer: the run checkpoints and stops. */
export async function trainAndStopAfter(steps: number, options: Omit<TrainSageOptions, 'signal' | 'progress'>): Promise<TrainResult> {
  const controller = new AbortController();
  let done = 0;
  const progress = { step: () => (++done === steps ? controller.abort() : undefined), epoch() {}, message() {}, warning() {}, close() {} };
  return trainSage({ ...options, signal: controller.signal, progress });
}

/** Values of every trainable variable, by name, as plain arrays. */
export function snapshot(variables: readonly { name: string; variable: tf.Variable }[]): Record<string, number[]> {
  return Object.fromEntries(variables.map((v) => [v.name, Array.from(v.variable.dataSync())]));
}

/** Mean training loss of `model` over every item of `source` (test transform, no update). */
export async function datasetLoss(model: SageModel, source: BatchSource, counts: readonly number[]): Promise<number> {
  const adjustment = tf.tensor1d(logitAdjustment(counts, model.settings));
  const size = model.clip.config.vision.imageSize;
  let total = 0;
  for await (const batch of source.batches(0, { batchSize: 32, shuffle: false, seed: 0, transform: 'test' })) {
    const value = tf.tidy(() => {
      const pixels = tf.tensor4d(batch.images, [batch.n, size, size, 3]);
      const oneHot = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), model.numClasses).toFloat() as tf.Tensor2D;
      const zeroShotFeatures = model.settings.components.fit ? frozenFeatures(model, pixels) : null;
      return trainingLoss(model, { pixels, oneHot, adjustment, zeroShotFeatures }).loss;
    });
    total += value.dataSync()[0]!;
    value.dispose();
  }
  adjustment.dispose();
  return total / source.count;
}
