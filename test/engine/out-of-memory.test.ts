/**
 * Out of memory in a training step: the errors each backend gives are recognised, and with an
 * injected allocator fault (the backend's `write` refuses tensors above a size, as TensorFlow's
 * BFC allocator does when the GPU is full) the adaptive source halves the micro-batch, redoes the
 * same batch and ends with the weights of a run that used the final micro-batch from the start,
 * leaking no tensor.
 */
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClipModel } from '../../src/clip/types';
import { resolveSettings, type Settings } from '../../src/contracts/settings';
import { trainSage } from '../../src/engine';
import { adaptiveGradients, EngineOutOfMemoryError, isOutOfMemoryError, releaseAbandonedTape, type MicroBatchBackoff } from '../../src/engine/out-of-memory';
import { batchGradients } from '../../src/engine/step';
import { MemoryBatchSource, modelWithRandomZeroShot, randomClip, snapshot, syntheticDataset } from './helpers';

const CLASSES = ['a', 'b', 'c'];
/** Node's WebAssembly.RuntimeError, what the wasm module throws (the TypeScript lib here does not declare it). */
const WasmRuntimeError = (globalThis as unknown as { WebAssembly: { RuntimeError: new (message: string) => Error } }).WebAssembly.RuntimeError;
const COUNTS = [6, 4, 2];

describe('recognising out-of-memory errors', () => {
  it('knows TensorFlow, CUDA, wasm and JavaScript allocation failures, and nothing else', () => {
    const wasmTrap = new WasmRuntimeError('memory access out of bounds');
    const wasmAbort = new WasmRuntimeError('Aborted(). Build with -sASSERTIONS for more info.');
    const oom = [
      new Error('OOM when allocating tensor with shape[256,197,3072] and type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc'),
      Object.assign(new Error('Resource exhausted: failed to allocate memory'), { name: 'ResourceExhaustedError' }),
      new Error('CUDA_ERROR_OUT_OF_MEMORY: out of memory'),
      wasmTrap,
      wasmAbort,
      new RangeError('Array buffer allocation failed'),
    ];
    for (const error of oom) expect(isOutOfMemoryError(error), error.message).toBe(true);
    const others = [new Error('shapes [2,3] and [4,5] are incompatible'), new RangeError('Maximum call stack size exceeded'), new WasmRuntimeError('unreachable'), 'OOM', null];
    for (const error of others) expect(isOutOfMemoryError(error), String(error)).toBe(false);
  });
});

interface Fault {
  limitBytes: number;
  faults: number;
  largest: number;
}

/**
 * Wraps the backend's tensor allocation inside a gradient pass (while tfjs has a tape: the
 * forward and backward of variableGrads, where a real out-of-memory hits): records the largest,
 * refuses those above the limit with TensorFlow's message.
 */
function injectAllocatorFault(fault: Fault): () => void {
  const backend = tf.backend() as unknown as { write: (values: unknown, shape: number[], dtype: string) => unknown };
  const state = (tf.engine() as unknown as { state: { activeTape: unknown[] | null } }).state;
  const original = backend.write.bind(backend);
  backend.write = (values, shape, dtype) => {
    if (!state.activeTape) return original(values, shape, dtype);
    const bytes = 4 * shape.reduce((a, b) => a * b, 1);
    fault.largest = Math.max(fault.largest, bytes);
    if (bytes > fault.limitBytes) {
      fault.faults++;
      throw new Error(`OOM when allocating tensor with shape[${shape.join(',')}] and type ${dtype} on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc`);
    }
    return original(values, shape, dtype);
  };
  return () => {
    backend.write = original;
  };
}

describe('halving the micro-batch on an allocator fault', () => {
  let clip: ClipModel;
  const size = 32;
  const items = syntheticDataset(COUNTS, size, 5);
  const source = () => new MemoryBatchSource(items, size);

  beforeAll(async () => {
    ({ clip } = await randomClip({ vision: { imageSize: size, patchSize: 8 } }, 4));
  });
  afterAll(() => clip.dispose());

  async function run(settings: Settings, gradients?: Parameters<typeof trainSage>[0]['gradients']) {
    const model = modelWithRandomZeroShot(clip, CLASSES, settings);
    const result = await trainSage({ model, train: source(), trainCounts: COUNTS, ...(gradients ? { gradients } : {}) });
    const weights = snapshot(model.trainableVariables());
    model.dispose();
    return { result, weights };
  }

  it('redoes the step at 4 and then 2 and ends with the weights of a run at micro-batch 2, leaking nothing', async () => {
    const settings = resolveSettings({ method: 'sage', epochs: 2, batchSize: 8, microBatchSize: null, seed: 3 });
    // The largest tensor a micro-batch of 2 allocates: anything larger is refused, so 8 and 4 fail.
    const probe: Fault = { limitBytes: Infinity, faults: 0, largest: 0 };
    const restoreProbe = injectAllocatorFault(probe);
    const probeModel = modelWithRandomZeroShot(clip, CLASSES, settings);
    const adjustment = tf.tensor1d([0, 0, 0]);
    const [batch] = await (async () => {
      const batches = [];
      for await (const b of source().batches(0, { batchSize: 8, shuffle: false, seed: 0, transform: 'train' })) batches.push(b);
      return batches;
    })();
    tf.dispose(batchGradients(batch!, { model: probeModel, adjustment, microBatchSize: 2 }).sums);
    const at2 = probe.largest;
    probe.largest = 0;
    tf.dispose(batchGradients(batch!, { model: probeModel, adjustment, microBatchSize: 4 }).sums);
    const at4 = probe.largest;
    restoreProbe();
    adjustment.dispose();
    probeModel.dispose();
    expect(at4).toBeGreaterThan(at2);

    const explicit = await run(resolveSettings({ ...settings, microBatchSize: 2 }));
    // A run without faults leaves a few handles of its own (initial values the model builder keeps); the faulted run may leave no more.
    const tensorsBefore = tf.memory().numTensors;
    await run(resolveSettings({ ...settings, microBatchSize: 2 }));
    const leftByCleanRun = tf.memory().numTensors - tensorsBefore;
    const fault: Fault = { limitBytes: at2, faults: 0, largest: 0 };
    const seen: MicroBatchBackoff[] = [];
    const adaptive = adaptiveGradients({ microBatchSize: 8, recoverable: true, onBackoff: (b) => seen.push(b) });
    const restore = injectAllocatorFault(fault);
    let automatic;
    try {
      automatic = await run(settings, adaptive.gradients);
    } finally {
      restore();
    }
    expect(fault.faults).toBe(2);
    expect(seen).toEqual([
      { call: 0, from: 8, to: 4, error: expect.stringContaining('OOM when allocating tensor') },
      { call: 0, from: 4, to: 2, error: expect.stringContaining('OOM when allocating tensor') },
    ]);
    expect(adaptive.backoffs).toEqual(seen);
    expect(adaptive.microBatchSize()).toBe(2);
    // Same batches, same micro-batches, same sums in the same order: the same weights, bit for bit.
    expect(automatic.weights).toEqual(explicit.weights);
    expect(automatic.result.epochs.map((e) => e.loss)).toEqual(explicit.result.epochs.map((e) => e.loss));
    // The failed passes' tensors (the tape's saved activations) were released.
    expect(tf.memory().numTensors - tensorsBefore).toBe(2 * leftByCleanRun);
  });

  it('gives up with the micro-batch when even 1 does not fit, or at once on a backend that cannot recover', async () => {
    const settings = resolveSettings({ method: 'lift', epochs: 1, batchSize: 4, seed: 1 });
    // The fault only inside the gradient pass: the model itself must build.
    const faulty = (batch: Parameters<typeof batchGradients>[0], context: Parameters<typeof batchGradients>[1]) => {
      const restore = injectAllocatorFault({ limitBytes: 64, faults: 0, largest: 0 });
      try {
        return batchGradients(batch, context);
      } finally {
        restore();
      }
    };
    try {
      const down = adaptiveGradients({ microBatchSize: 2, recoverable: true, compute: faulty });
      const error = await run(settings, down.gradients).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EngineOutOfMemoryError);
      expect((error as EngineOutOfMemoryError).message).toMatch(/even at micro-batch 1/);
      expect(down.backoffs.map((b) => [b.from, b.to])).toEqual([[2, 1]]);

      const wasm = adaptiveGradients({ microBatchSize: 4, recoverable: false, compute: faulty });
      const refused = await run(settings, wasm.gradients).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(EngineOutOfMemoryError);
      expect((refused as EngineOutOfMemoryError).message).toMatch(/cannot continue in this process; run again with microBatchSize 2 or less/);
      expect(wasm.backoffs).toEqual([]);
    } finally {
      releaseAbandonedTape();
    }
  });

  it('passes other errors through untouched', async () => {
    const failing = adaptiveGradients({
      microBatchSize: 4,
      recoverable: true,
      compute: () => {
        throw new Error('labels out of range');
      },
    });
    const settings = resolveSettings({ method: 'lift', epochs: 1, batchSize: 4 });
    await expect(run(settings, failing.gradients)).rejects.toThrow('labels out of range');
    expect(failing.backoffs).toEqual([]);
  });
});
