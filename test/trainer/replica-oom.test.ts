/**
 * Out of memory in a helper replica (W = 2, mini-CLIP on wasm): the helper's backend is made to
 * refuse, inside the gradient pass, every tensor larger than the largest a micro-batch of 2
 * allocates (the pool's `out-of-memory` fault, as test/engine/out-of-memory.test.ts does on the
 * trainer's thread). Its `RangeError: Array buffer allocation failed` reaches the trainer as the
 * cause of a TrainerReplicaError, class and name intact over threads and processes; the
 * adaptive source recognises it, halves the micro-batch 4 → 2 and redoes the step, and the run
 * ends bit for bit as a W = 2 run given micro-batch 2 from the start (the same micro-batches on
 * the same replicas, summed in the same order). The helper frees what the failed pass left on
 * its gradient tape. On a backend that cannot recover (wasm itself) the error keeps its advice.
 */
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend, loadClip, loadClipTokenizer } from '../../src/clip';
import type { ClipModel, ClipTokenizer } from '../../src/clip/types';
import type { ImageBatch } from '../../src/contracts/batches';
import { resolveSettings, type SettingsOverrides } from '../../src/contracts/settings';
import { adaptiveGradients, batchGradients, createSageModel, EngineOutOfMemoryError, trainSage, type BatchGradients, type MicroBatchBackoff, type SageModel } from '../../src/engine';
import { logitAdjustment } from '../../src/engine/heads';
import { ReplicaPool, TrainerReplicaError, type ReplicaTransport } from '../../src/trainer/parallel';
import { reviveError, serialiseError } from '../../src/trainer/parallel/protocol';
import { MemoryBatchSource, snapshot, syntheticDataset } from '../engine/helpers';

const location = fileURLToPath(new URL('../../fixtures/mini-clip', import.meta.url));
const classNames = ['cat', 'dog', 'car', 'tree'];
const counts = [12, 8, 4, 2];
const size = 36;
const data = syntheticDataset(counts, size, 5);
const trainSource = () => new MemoryBatchSource(data, size);
const WasmRuntimeError = (globalThis as unknown as { WebAssembly: { RuntimeError: new (message: string) => Error } }).WebAssembly.RuntimeError;

let clip: ClipModel;
let tokenizer: ClipTokenizer;
const pools: ReplicaPool[] = [];
/** The largest tensor (bytes) a gradient pass allocates at micro-batch 2. */
let at2 = 0;

async function model(overrides: SettingsOverrides = {}): Promise<SageModel> {
  const settings = resolveSettings({ method: 'sage', batchSize: 8, epochs: 2, learningRate: 0.05, seed: 1, microBatchSize: null, ...overrides });
  return createSageModel({ clip, tokenizer, classNames, settings, cacheDir: null });
}

function openPool(transport: ReplicaTransport): ReplicaPool {
  const pool = ReplicaPool.open({ replicas: 2, transport, backend: 'wasm', clip: { location } });
  pools.push(pool);
  return pool;
}

async function firstBatch(n: number): Promise<ImageBatch> {
  for await (const batch of trainSource().batches(0, { batchSize: n, shuffle: true, seed: 3, transform: 'train' })) return batch;
  throw new Error('no batch');
}

/** The largest tensor allocated while tfjs has a gradient tape, during `run`. */
function largestInGradientPass(run: () => BatchGradients): number {
  const backend = tf.backend() as unknown as { write: (values: unknown, shape: number[], dtype: string) => unknown };
  const state = (tf.engine() as unknown as { state: { activeTape: unknown[] | null } }).state;
  const original = backend.write;
  let largest = 0;
  backend.write = function (this: unknown, values, shape, dtype) {
    if (state.activeTape) largest = Math.max(largest, 4 * shape.reduce((a, b) => a * b, 1));
    return original.call(this, values, shape, dtype);
  };
  try {
    tf.dispose(run().sums);
  } finally {
    backend.write = original;
  }
  return largest;
}

beforeAll(async () => {
  await initBackend({ backend: 'wasm', log: () => {} });
  clip = await loadClip(location);
  tokenizer = await loadClipTokenizer(location);
  const m = await model();
  const batch = await firstBatch(8);
  const adjustment = tf.tensor1d(logitAdjustment(counts, m.settings));
  at2 = largestInGradientPass(() => batchGradients(batch, { model: m, adjustment, microBatchSize: 2 }));
  const at4 = largestInGradientPass(() => batchGradients(batch, { model: m, adjustment, microBatchSize: 4 }));
  adjustment.dispose();
  m.dispose();
  // A limit between the two: micro-batches of 4 fail, of 2 fit.
  expect(at4).toBeGreaterThan(at2);
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.close()));
  clip.dispose();
});

describe('a helper error on its way to the trainer', () => {
  it('keeps its class, name, message, stack and causes', () => {
    const inner = new WasmRuntimeError('memory access out of bounds');
    const outer = Object.assign(new Error('the step failed', { cause: inner }), { name: 'EngineSomethingError' });
    const revived = reviveError(structuredClone(serialiseError(new RangeError('Array buffer allocation failed', { cause: outer }))));
    expect(revived).toBeInstanceOf(RangeError);
    expect([revived.name, revived.message]).toEqual(['RangeError', 'Array buffer allocation failed']);
    expect(revived.stack).toMatch(/replica-oom\.test\.ts/);
    const cause = revived.cause as Error;
    expect([cause.constructor, cause.name, cause.message]).toEqual([Error, 'EngineSomethingError', 'the step failed']);
    expect(cause.cause).toBeInstanceOf(WasmRuntimeError);
    expect((cause.cause as Error).message).toBe('memory access out of bounds');
    expect(reviveError(serialiseError('thrown text'))).toMatchObject({ name: 'Error', message: 'thrown text' });
  });
});

describe('out of memory in a helper replica', () => {
  it('halves the micro-batch, redoes the step, frees the failed pass in the helper and ends as a run at micro-batch 2 bit for bit (threads)', async () => {
    const pool = openPool('threads');
    const run = async (m: SageModel, gradients: Parameters<typeof trainSage>[0]['gradients']) => {
      const result = await trainSage({ model: m, train: trainSource(), trainCounts: counts, gradients });
      const weights = snapshot(m.trainableVariables());
      m.dispose();
      return { losses: result.epochs.map((e) => e.loss), weights };
    };
    const explicitModel = await model({ microBatchSize: 2 });
    await pool.attach(explicitModel);
    const explicit = await run(explicitModel, pool.gradients);

    const automaticModel = await model();
    await pool.attach(automaticModel);
    const before = await pool.injectFault(1, { type: 'out-of-memory', limitBytes: at2 });
    const seen: MicroBatchBackoff[] = [];
    const adaptive = adaptiveGradients({ microBatchSize: 4, recoverable: true, compute: pool.gradients, onBackoff: (b) => seen.push(b) });
    const automatic = await run(automaticModel, adaptive.gradients);
    const after = await pool.injectFault(1, null);

    expect(after.refused - before.refused).toBe(1);
    expect(seen).toEqual([{ call: 0, from: 4, to: 2, error: 'replica 1 of 2 failed during a training step: RangeError: Array buffer allocation failed' }]);
    expect(adaptive.microBatchSize()).toBe(2);
    expect(automatic.weights).toEqual(explicit.weights);
    expect(automatic.losses).toEqual(explicit.losses);
    // The helper's model is the same; what the failed pass saved on its tape is gone.
    expect(after.tensors).toBe(before.tensors);
  });

  it('does the same over the process transport, and where the backend cannot recover gives the micro-batch to set', async () => {
    const pool = openPool('processes');
    const m = await model();
    await pool.attach(m);
    const batch = await firstBatch(8);
    const adjustment = tf.tensor1d(logitAdjustment(counts, m.settings));
    const context = { model: m, adjustment, microBatchSize: 4 };
    const expected = await pool.gradients(batch, { ...context, microBatchSize: 2 });

    const before = await pool.injectFault(1, { type: 'out-of-memory', limitBytes: at2 });
    const adaptive = adaptiveGradients({ microBatchSize: 4, recoverable: true, compute: pool.gradients });
    const redone = await adaptive.gradients(batch, context);
    const after = await pool.injectFault(1, { type: 'out-of-memory', limitBytes: at2 });
    expect(after.refused - before.refused).toBe(1);
    expect(after.tensors).toBe(before.tensors);
    expect(adaptive.backoffs.map((b) => [b.from, b.to])).toEqual([[4, 2]]);
    expect(redone.sums.map((s) => Array.from(s.dataSync()))).toEqual(expected.sums.map((s) => Array.from(s.dataSync())));
    expect([redone.lossSum, redone.correct, redone.count]).toEqual([expected.lossSum, expected.correct, expected.count]);

    // The wasm default: no back-off (an abort ends a wasm instance), but the advice of the micro-batch to set.
    const wasm = adaptiveGradients({ microBatchSize: 4, compute: pool.gradients });
    const error = await Promise.resolve(wasm.gradients(batch, context)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineOutOfMemoryError);
    expect((error as Error).message).toMatch(/^the wasm backend ran out of memory at micro-batch 4 \(replica 1 of 2 failed during a training step: RangeError: Array buffer allocation failed\) .* run again with microBatchSize 2 or less$/);
    const replicaError = (error as Error).cause;
    expect(replicaError).toBeInstanceOf(TrainerReplicaError);
    expect((replicaError as Error).cause).toBeInstanceOf(RangeError);
    expect(((replicaError as Error).cause as Error).stack).toMatch(/replica\.ts/);
    expect(wasm.backoffs).toEqual([]);
    tf.dispose([...expected.sums, ...redone.sums, adjustment]);
    m.dispose();
  });
});
