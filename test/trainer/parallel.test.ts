/**
 * Data-parallel replicas (src/trainer/parallel) on the mini-CLIP (fixtures/mini-clip, wasm):
 * the gradients of W = 2 against the same micro-batches summed by hand in replica order, W = 1
 * against W = 2 after several steps, bit-repeatability at a fixed W over both transports,
 * evaluation and the text classifier against the single-thread path, checkpoints, stops and
 * resumes, NaN, and helpers that throw or exit.
 *
 * Tolerance across W: the parts of a batch's gradient are the same numbers added in another
 * order, so each step's gradient differs by float32 rounding (≤ (m − 1)·2⁻²⁴ of Σ|gᵢ| for m
 * parts). After 8 SGD steps (lr 0.05, momentum 0.9) on weights up to about 3 in magnitude the
 * measured difference is 3.6e-7; the test allows 1e-5 absolute (about 40 ulp of the largest
 * weight), and the same predictions.
 */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, loadClip, loadClipTokenizer, zeroShotClassifier } from '../../src/clip';
import { loadNativeGemm } from '../../src/clip/native-matmul';
import type { ClipModel, ClipTokenizer } from '../../src/clip/types';
import type { ImageBatch } from '../../src/contracts/batches';
import { resolveSettings, type SettingsOverrides } from '../../src/contracts/settings';
import { createSageModel, EngineNonFiniteLossError, evaluate, microBatchGradients, trainSage, type SageModel } from '../../src/engine';
import { logitAdjustment } from '../../src/engine/heads';
import { localLogits } from '../../src/engine/logit-source';
import { LocalObjectStore } from '../../src/storage';
import { dealMicroBatches, ReplicaPool, TrainerReplicaError, type ReplicaTransport } from '../../src/trainer/parallel';
import { MemoryBatchSource, snapshot, syntheticDataset, tempDir, trainAndStopAfter } from '../engine/helpers';

const location = fileURLToPath(new URL('../../fixtures/mini-clip', import.meta.url));
const classNames = ['cat', 'dog', 'car', 'tree'];
const counts = [12, 8, 4, 2];
const size = 36;
const data = syntheticDataset(counts, size, 5);
const testData = syntheticDataset([3, 3, 3, 3], size, 11);
const local = new LocalObjectStore();

let clip: ClipModel;
let tokenizer: ClipTokenizer;
const pools: ReplicaPool[] = [];

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: () => {} });
  clip = await loadClip(location);
  tokenizer = await loadClipTokenizer(location);
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  clip.dispose();
});

function openPool(transport: ReplicaTransport = 'threads', replicas = 2): ReplicaPool {
  const pool = ReplicaPool.open({ replicas, transport, backend: 'wasm', clip: { location } });
  pools.push(pool);
  return pool;
}

async function model(overrides: SettingsOverrides = {}): Promise<SageModel> {
  const settings = resolveSettings({ method: 'sage', batchSize: 8, epochs: 2, learningRate: 0.05, seed: 1, ...overrides });
  return createSageModel({ clip, tokenizer, classNames, settings, cacheDir: null });
}

const trainSource = () => new MemoryBatchSource(data, size);
const testSource = () => new MemoryBatchSource(testData, size);

function maxDifference(a: Record<string, number[]>, b: Record<string, number[]>): number {
  let max = 0;
  for (const name of Object.keys(a)) a[name]!.forEach((v, i) => (max = Math.max(max, Math.abs(v - b[name]![i]!))));
  return max;
}

async function firstBatch(n: number): Promise<ImageBatch> {
  for await (const batch of trainSource().batches(0, { batchSize: n, shuffle: true, seed: 3, transform: 'train' })) return batch;
  throw new Error('no batch');
}

describe('the replica plan', () => {
  it('deals micro-batch k to replica k mod W, and splits a batch of one micro-batch W ways', () => {
    expect(dealMicroBatches(8, 2, 2)).toEqual([
      [
        { start: 0, count: 2 },
        { start: 4, count: 2 },
      ],
      [
        { start: 2, count: 2 },
        { start: 6, count: 2 },
      ],
    ]);
    expect(dealMicroBatches(8, 8, 2)).toEqual([[{ start: 0, count: 4 }], [{ start: 4, count: 4 }]]);
    expect(dealMicroBatches(3, 8, 2)).toEqual([[{ start: 0, count: 2 }], [{ start: 2, count: 1 }]]);
    expect(dealMicroBatches(1, 8, 2)).toEqual([[{ start: 0, count: 1 }], []]);
    expect(dealMicroBatches(10, 3, 3).map((parts) => parts.map((p) => p.start))).toEqual([[0, 9], [3], [6]]);
  });
});

describe('data-parallel training over two replicas', () => {
  it('sums the same micro-batches as this thread does, in replica order, bit for bit, with the weights of the last update', async () => {
    const pool = openPool();
    const m = await model({ microBatchSize: 2 });
    await pool.attach(m);
    // Weights that are not the initial ones, so a helper that kept its own would be caught.
    const next = (() => {
      let s = 7;
      return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296 - 0.5) * 0.02;
    })();
    for (const v of m.trainableVariables()) {
      const values = v.variable.dataSync().map((x) => x + next());
      v.variable.assign(tf.tensor(values, v.variable.shape));
    }
    const batch = await firstBatch(8);
    const adjustment = tf.tensor1d(logitAdjustment(counts, m.settings));
    const context = { model: m, adjustment, microBatchSize: 2 };
    const parallel = await pool.gradients(batch, context);

    // By hand: replica 0 has micro-batches 0 and 2, replica 1 has 1 and 3; each sums its own, then 0 + 1.
    const part = (k: number) => microBatchGradients(context, batch, 2 * k, 2);
    const [p0, p1, p2, p3] = [part(0), part(1), part(2), part(3)];
    const replica0 = p0.sums.map((s, i) => tf.add(s, p2.sums[i]!));
    const replica1 = p1.sums.map((s, i) => tf.add(s, p3.sums[i]!));
    const expected = replica0.map((s, i) => tf.add(s, replica1[i]!));
    expect(parallel.count).toBe(8);
    expect(parallel.lossSum).toBe(p0.lossSum + p2.lossSum + (p1.lossSum + p3.lossSum));
    expect(parallel.correct).toBe(p0.correct + p1.correct + p2.correct + p3.correct);
    expect(parallel.sums.map((s) => Array.from(s.dataSync()))).toEqual(expected.map((s) => Array.from(s.dataSync())));
    tf.dispose([...parallel.sums, ...expected, ...replica0, ...replica1, ...[p0, p1, p2, p3].flatMap((p) => p.sums), adjustment]);
    m.dispose();
  });

  it('trains to the parameters of W = 1 within 1e-5 after 8 steps with the same predictions, and repeats bit for bit at W = 2 over threads and processes', async () => {
    const run = async (pool: ReplicaPool | null) => {
      const m = await model();
      if (pool) await pool.attach(m);
      const result = await trainSage({ model: m, train: trainSource(), trainCounts: counts, ...(pool ? { gradients: pool.gradients, logits: pool.logits } : {}) });
      const evaluation = await evaluate({ model: m, test: testSource(), trainCounts: counts, batchSize: 4, ...(pool ? { logits: pool.logits } : {}) });
      const weights = snapshot(m.trainableVariables());
      m.dispose();
      return { losses: result.epochs.map((e) => e.loss), weights, accuracy: evaluation.accuracy, perClass: evaluation.perClass };
    };
    const single = await run(null);
    const threads = openPool('threads');
    const first = await run(threads);
    const again = await run(threads);
    const processes = await run(openPool('processes'));

    expect(maxDifference(single.weights, first.weights)).toBeLessThan(1e-5);
    expect(maxDifference(single.weights, first.weights)).toBeGreaterThan(0); // another summation order, not the same path
    first.losses.forEach((loss, i) => expect(loss).toBeCloseTo(single.losses[i]!, 5));
    expect(first.accuracy).toEqual(single.accuracy);
    expect(first.perClass).toEqual(single.perClass);
    expect(again).toEqual(first);
    expect(processes).toEqual(first);
  });

  it('stops with a checkpoint and resumes to the uninterrupted run bit for bit, and resumes a W = 1 checkpoint', async () => {
    const pool = openPool();
    const uninterrupted = await model();
    await pool.attach(uninterrupted);
    await trainSage({ model: uninterrupted, train: trainSource(), trainCounts: counts, gradients: pool.gradients });
    const expected = snapshot(uninterrupted.trainableVariables());
    uninterrupted.dispose();

    const checkpoint = { store: local, uri: await tempDir('parallel-resume') };
    const stopped = await model();
    await pool.attach(stopped);
    expect((await trainAndStopAfter(3, { model: stopped, train: trainSource(), trainCounts: counts, checkpoint, gradients: pool.gradients })).status).toBe('stopped');
    stopped.dispose();
    const resumed = await model();
    await pool.attach(resumed);
    const result = await trainSage({ model: resumed, train: trainSource(), trainCounts: counts, checkpoint, gradients: pool.gradients });
    expect(result.resumedFrom).toEqual({ epoch: 0, step: 3 });
    expect(snapshot(resumed.trainableVariables())).toEqual(expected);
    resumed.dispose();

    // A checkpoint written with replicas 1 resumes with replicas 2: the setting changes no weight.
    const single = { store: local, uri: await tempDir('parallel-resume-w1') };
    const w1 = await model({ replicas: 1 });
    await trainAndStopAfter(2, { model: w1, train: trainSource(), trainCounts: counts, checkpoint: single });
    w1.dispose();
    const w2 = await model({ replicas: 2 });
    await pool.attach(w2);
    expect((await trainSage({ model: w2, train: trainSource(), trainCounts: counts, checkpoint: single, gradients: pool.gradients })).resumedFrom).toEqual({ epoch: 0, step: 2 });
    w2.dispose();
  });

  it('stops on a NaN loss computed by a helper, naming the step', async () => {
    const pool = openPool();
    const m = await model({ microBatchSize: 2, epochs: 1 });
    await pool.attach(m);
    const poisoned = trainSource();
    const original = poisoned.batches.bind(poisoned);
    poisoned.batches = async function* (epoch, options) {
      let step = 0;
      for await (const batch of original(epoch, options)) {
        // Item 2 is in micro-batch 1, which replica 1 computes.
        if (++step === 2) batch.images[2 * size * size * 3] = NaN;
        yield batch;
      }
    };
    const error = await trainSage({ model: m, train: poisoned, trainCounts: counts, gradients: pool.gradients }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineNonFiniteLossError);
    expect((error as EngineNonFiniteLossError).step).toBe(2);
    m.dispose();
  });
});

describe('parallel evaluation and text classifier', () => {
  it('gives the logits of this thread bit for bit, batches in order, with crops and a last short group', async () => {
    const pool = openPool('threads', 3);
    const m = await model();
    await pool.attach(m);
    for (const transform of ['test', 'tte'] as const) {
      const batches = () => testSource().batches(0, { batchSize: 3, shuffle: false, seed: 0, transform });
      const collect = async (source: typeof localLogits) => {
        const out: { keys: string[]; logits: number[] }[] = [];
        for await (const { batch, logits } of source(m, batches())) {
          out.push({ keys: batch.keys, logits: Array.from(logits.dataSync()) });
          logits.dispose();
        }
        return out;
      };
      const expected = await collect(localLogits);
      expect(expected).toHaveLength(4); // 12 images in batches of 3 over 3 replicas: one full group and one of 1
      expect(await collect(pool.logits)).toEqual(expected);
    }
    m.dispose();
  });

  it('evaluates zero-shot CLIP (no trainable layout) to the same logits and metrics as this thread', async () => {
    const pool = openPool('threads', 2);
    const m = await model({ method: 'zero-shot' });
    expect(m.trainableVariables()).toHaveLength(0);
    await pool.attach(m);
    const single = await evaluate({ model: m, test: testSource(), trainCounts: counts, batchSize: 4 });
    const parallel = await evaluate({ model: m, test: testSource(), trainCounts: counts, batchSize: 4, logits: pool.logits });
    expect(parallel.accuracy).toEqual(single.accuracy);
    expect(parallel.perClass).toEqual(single.perClass);
    expect(parallel.confusion).toEqual(single.confusion);
    m.dispose();
  });

  it('encodes the prompts of the text classifier over the replicas to the same W^zs and text embeddings', async () => {
    const pool = openPool();
    await pool.ready();
    const options = { templates: 'ensemble60' as const, cacheDir: null, batchSize: 16 };
    const alone = await zeroShotClassifier(clip, tokenizer, classNames, options);
    const shared = await zeroShotClassifier(clip, tokenizer, classNames, { ...options, encoder: pool.encodePrompts });
    expect(Array.from(shared.weights.dataSync())).toEqual(Array.from(alone.weights.dataSync()));
    expect(Array.from(shared.textEmbeddings.dataSync())).toEqual(Array.from(alone.textEmbeddings.dataSync()));
    tf.dispose([alone.weights, alone.textEmbeddings, shared.weights, shared.textEmbeddings]);
  });
});

describe('a helper that fails', () => {
  for (const transport of ['threads', 'processes'] as const) {
    it(`rejects the step naming the replica when it throws, and for good when it exits (${transport})`, async () => {
      const pool = openPool(transport);
      const m = await model({ microBatchSize: 2 });
      await pool.attach(m);
      const batch = await firstBatch(8);
      const adjustment = tf.tensor1d(logitAdjustment(counts, m.settings));
      const context = { model: m, adjustment, microBatchSize: 2 };

      await pool.injectFault(1, 'throw');
      const thrown = await Promise.resolve(pool.gradients(batch, context)).then(() => null, (e: unknown) => e);
      expect(thrown).toBeInstanceOf(TrainerReplicaError);
      expect((thrown as TrainerReplicaError).replica).toBe(1);
      expect((thrown as Error).message).toMatch(/^replica 1 of 2 failed during a training step: Error: injected fault/);

      await pool.injectFault(1, 'exit');
      const exited = await Promise.resolve(pool.gradients(batch, context)).then(() => null, (e: unknown) => e);
      expect(exited).toBeInstanceOf(TrainerReplicaError);
      expect((exited as Error).message).toMatch(transport === 'threads' ? /replica 1 of 2 failed during a training step: its worker thread exited with code 7/ : /replica 1 of 2 failed during a training step: its child process \(pid \d+\) exited with code 7/);
      // Dead for good: the next step is refused at once, with the same reason.
      await expect(Promise.resolve(pool.gradients(batch, context))).rejects.toThrow(/replica 1 of 2 failed during a training step: its (worker thread|child process.*) exited with code 7/);
      // The trainer's own tensors are all released on the way out.
      const before = tf.memory().numTensors;
      await Promise.resolve(pool.gradients(batch, context)).catch(() => {});
      expect(tf.memory().numTensors).toBe(before);
      adjustment.dispose();
      m.dispose();
    });
  }
});

// With the OpenBLAS addon built (and not turned off), the trainer's products run on it.
describe.skipIf(!loadNativeGemm().gemm || process.env.SAGE_MATMUL === 'wasm')('replicas on other matrix kernels', () => {
  it('refuses a helper whose products run on XNNPACK while the trainer runs OpenBLAS, naming both', async () => {
    const pool = ReplicaPool.open({ replicas: 2, transport: 'processes', backend: 'wasm', clip: { location }, environments: [{ SAGE_MATMUL: 'wasm' }] });
    pools.push(pool);
    const error = await pool.ready().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainerReplicaError);
    expect((error as Error).message).toMatch(/^replica 1 of 2 failed during start-up: its matrix products run on xnnpack, the trainer's on openblas; replicas must compute alike/);
  });
});
