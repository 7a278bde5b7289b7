/**
 * Out of memory behind a wrapper: a helper replica's error reaches the trainer as the cause of
 * a TrainerReplicaError (src/trainer/parallel), whose own message the recogniser does not know.
 * isOutOfMemoryError follows `cause` links (a bounded number), and adaptiveGradients backs off
 * from such an error, or on a backend that cannot recover keeps its advice.
 */
import { describe, expect, it } from 'vitest';
import type { ImageBatch } from '../../src/contracts/batches';
import { adaptiveGradients, EngineOutOfMemoryError, isOutOfMemoryError, type BatchGradients, type StepContext } from '../../src/engine';
import { MAX_CAUSE_DEPTH } from '../../src/engine/out-of-memory';

/** What a helper's out-of-memory looks like on the trainer's side: the replica's wrapper, the helper's own error as its cause. */
function fromReplica(cause: unknown): Error {
  const detail = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
  return Object.assign(new Error(`replica 1 of 2 failed during a training step: ${detail}`, { cause }), { name: 'TrainerReplicaError' });
}

function chain(depth: number, last: Error): Error {
  let error = last;
  for (let i = 0; i < depth; i++) error = new Error(`wrapper ${i}`, { cause: error });
  return error;
}

describe('recognising an out-of-memory error through its causes', () => {
  it('knows a helper replica allocation failure by its cause, and by name when the class was lost on the way', () => {
    const helper = new RangeError('Array buffer allocation failed');
    // The wrapper alone is not recognisable: its text is no backend's out-of-memory message.
    expect(isOutOfMemoryError(new Error(fromReplica(helper).message))).toBe(false);
    expect(isOutOfMemoryError(fromReplica(helper))).toBe(true);
    expect(isOutOfMemoryError(fromReplica(Object.assign(new Error('Array buffer allocation failed'), { name: 'RangeError' })))).toBe(true);
    expect(isOutOfMemoryError(fromReplica(Object.assign(new Error('memory access out of bounds'), { name: 'RuntimeError' })))).toBe(true);
    expect(isOutOfMemoryError(fromReplica(new Error('shapes [2,3] and [4,5] are incompatible')))).toBe(false);
    expect(isOutOfMemoryError(fromReplica(new RangeError('Maximum call stack size exceeded')))).toBe(false);
  });

  it(`follows at most ${MAX_CAUSE_DEPTH} causes, and ends on a cycle`, () => {
    const oom = new RangeError('Array buffer allocation failed');
    expect(isOutOfMemoryError(chain(MAX_CAUSE_DEPTH, oom))).toBe(true);
    expect(isOutOfMemoryError(chain(MAX_CAUSE_DEPTH + 1, oom))).toBe(false);
    const a = new Error('a');
    const b = new Error('b', { cause: a });
    Object.defineProperty(a, 'cause', { value: b });
    expect(isOutOfMemoryError(a)).toBe(false);
  });
});

describe('backing off from a wrapped out-of-memory error', () => {
  const batch: ImageBatch = { images: new Float32Array(0), labels: new Int32Array(8), keys: [], n: 8, size: 1, crops: 1 };
  const context = { microBatchSize: 8 } as StepContext;
  const result: BatchGradients = { sums: [], lossSum: 0, correct: 0, count: 8 };

  it('halves the micro-batch and redoes the batch when the error comes from a helper replica', async () => {
    const tried: number[] = [];
    const adaptive = adaptiveGradients({
      microBatchSize: 4,
      recoverable: true,
      compute: (_batch, c) => {
        tried.push(c.microBatchSize);
        if (c.microBatchSize > 2) throw fromReplica(new RangeError('Array buffer allocation failed'));
        return result;
      },
    });
    expect(await adaptive.gradients(batch, context)).toBe(result);
    expect(tried).toEqual([4, 2]);
    expect(adaptive.backoffs).toEqual([{ call: 0, from: 4, to: 2, error: 'replica 1 of 2 failed during a training step: RangeError: Array buffer allocation failed' }]);
  });

  it('keeps the advice of the micro-batch to set where the backend cannot go on', async () => {
    const wrapped = fromReplica(Object.assign(new Error('Aborted(). Build with -sASSERTIONS for more info.'), { name: 'RuntimeError' }));
    const adaptive = adaptiveGradients({
      microBatchSize: 4,
      recoverable: false,
      compute: () => {
        throw wrapped;
      },
    });
    const error = await Promise.resolve(adaptive.gradients(batch, context)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineOutOfMemoryError);
    expect((error as Error).message).toMatch(/ran out of memory at micro-batch 4 \(replica 1 of 2 failed during a training step: RuntimeError: Aborted\(\)\..*\) and cannot continue in this process; run again with microBatchSize 2 or less$/);
    expect((error as Error).cause).toBe(wrapped);
  });
});
