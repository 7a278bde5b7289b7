/**
 * The automatic micro-batch's back-off through runJob (src/trainer/run-job.ts), on the cpu
 * backend (the one here that goes on after running out; wasm does not) and one replica: the
 * first gradient pass runs out of memory once (an injected allocator fault: the backend's
 * `write` refuses one tensor inside the gradient pass with TensorFlow's message), the step is
 * redone at half the micro-batch, and the back-off is in log.jsonl (an `out-of-memory` warning)
 * and in metrics.json's `microBatch` (`final`, `backoffs`); the run ends with the metrics of a run
 * given that micro-batch from the start.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/clip';
import type { JobSpec } from '../../src/contracts/job';
import { MetricsDocument } from '../../src/contracts/metrics';
import { silentProgress } from '../../src/engine';
import { runJob } from '../../src/trainer';
import { writeTinyClip, writeTinyDataset } from '../cli/fixtures';

const quiet = { progress: silentProgress, log: () => {}, workers: 0, attempt: {} };
let cacheDir: string;

/** Refuses the first tensor allocated inside a gradient pass, once; returns how to take it off and how many it refused. */
function failOnce(): { restore: () => void; refused: () => number } {
  const backend = tf.backend() as unknown as { write: (values: unknown, shape: number[], dtype: string) => unknown };
  const state = (tf.engine() as unknown as { state: { activeTape: unknown[] | null } }).state;
  const original = backend.write;
  let refused = 0;
  backend.write = function (this: unknown, values, shape, dtype) {
    if (state.activeTape && refused === 0) {
      refused++;
      throw new Error(`OOM when allocating tensor with shape[${shape.join(',')}] and type ${dtype} on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc`);
    }
    return original.call(this, values, shape, dtype);
  };
  return {
    restore: () => {
      backend.write = original;
    },
    refused: () => refused,
  };
}

function outcome(metrics: MetricsDocument) {
  return { accuracy: metrics.accuracy, perClass: metrics.perClass, confusion: metrics.confusion, epochs: metrics.epochs.map(({ seconds: _seconds, ...rest }) => rest) };
}

describe('an out-of-memory back-off in a job', () => {
  let root: string;
  let manifestUri: string;

  beforeAll(async () => {
    await initBackend({ backend: 'cpu', log: () => {} });
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-backoff-'));
    // The text classifier computed once for both runs.
    cacheDir = path.join(root, 'cache');
    const weights = await writeTinyClip(path.join(root, 'clip'));
    // 18 training images in batches of 8: 3 steps.
    manifestUri = await writeTinyDataset(root, weights, { training: { method: 'sage', epochs: 1, batchSize: 8, replicas: 1 } });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  function spec(name: string): JobSpec {
    return { runId: name, manifestUri, resultsUri: path.join(root, name, 'results'), checkpointUri: path.join(root, name, 'checkpoints'), sweepIndex: 0 };
  }

  it('redoes the step at half the micro-batch and records it in log.jsonl and metrics.json', async () => {
    const explicit = await runJob(spec('explicit'), { ...quiet, cacheDir, overrides: { microBatchSize: 4 } });
    const fault = failOnce();
    let automatic;
    try {
      automatic = await runJob(spec('automatic'), { ...quiet, cacheDir });
    } finally {
      fault.restore();
    }
    expect(fault.refused()).toBe(1);
    expect(automatic.metrics.config.engine).toMatchObject({ replicas: 1 });
    expect(automatic.metrics.device).toMatchObject({ backend: 'cpu' });

    const dir = path.join(root, 'automatic', 'results', '0');
    const written = MetricsDocument.parse(JSON.parse(await readFile(path.join(dir, 'metrics.json'), 'utf8')));
    expect(written.microBatch).toMatchObject({
      chosen: 8,
      reason: 'batch',
      final: 4,
      backoffs: [{ epoch: 1, step: 1, from: 8, to: 4, error: expect.stringMatching(/^OOM when allocating tensor with shape\[/) }],
    });
    const log = (await readFile(path.join(dir, 'log.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { type: string; kind?: string; message?: string; details?: unknown });
    const warnings = log.filter((r) => r.type === 'warning' && r.kind === 'out-of-memory');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.message).toMatch(/^out of memory at epoch 1, step 1 with micro-batch 8: redoing the step with 4 \(OOM when allocating tensor/);
    expect(warnings[0]!.details).toEqual({ epoch: 1, step: 1, from: 8, to: 4, error: expect.stringMatching(/^OOM when allocating tensor/), device: 'cpu' });
    expect(log.filter((r) => r.type === 'step')).toHaveLength(3);

    // The same batches cut the same way after the back-off: the run given micro-batch 4 from the start.
    expect(outcome(automatic.metrics)).toEqual(outcome(explicit.metrics));
    expect(explicit.metrics.microBatch).toMatchObject({ chosen: 4, reason: 'set', final: 4, backoffs: [] });
  });

  it("keeps an earlier attempt's back-off: metrics.json lists it and the next attempt starts at the smaller micro-batch", async () => {
    const explicit = await runJob(spec('explicit-2'), { ...quiet, cacheDir, overrides: { microBatchSize: 4 } });
    // Attempt 1 runs out once at step 1, then meets its deadline (10 virtual seconds a step, 35 s an attempt, margin 30 s).
    let now = 0;
    const progress = { ...silentProgress, step: () => void (now += 10) };
    const fault = failOnce();
    const first = await runJob(spec('two-attempts'), { ...quiet, cacheDir, progress, attempt: { attemptSeconds: 35, attempt: 1 }, deadline: { clock: () => now, startedAt: 0, minMarginSeconds: 0 } }).catch((e: unknown) => e);
    fault.restore();
    expect(fault.refused()).toBe(1);
    expect((first as Error).message).toMatch(/^to be continued/);
    const second = await runJob(spec('two-attempts'), { ...quiet, cacheDir, attempt: { attempt: 2 } });
    expect(second.metrics.microBatch).toMatchObject({
      chosen: 4,
      reason: 'memory-model',
      detail: expect.stringContaining('an earlier attempt ran out of memory at 8 and went on with 4 (epoch 1, step 1)'),
      final: 4,
      backoffs: [{ epoch: 1, step: 1, from: 8, to: 4, error: expect.stringMatching(/^OOM when allocating tensor with shape\[/) }],
    });
    // Every step at micro-batch 4, in either attempt: the run given 4 from the start.
    expect(outcome(second.metrics)).toEqual(outcome(explicit.metrics));
  });
});
