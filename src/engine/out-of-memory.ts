/**
 * Out of memory in a training step (SPEC section 6, "Memory"): how each backend reports it, how
 * to free what a failed gradient pass leaves behind, and a GradientSource that halves the
 * micro-batch and redoes the same effective batch. The batch, the order of its images and the
 * arithmetic (sums over the micro-batches, one update per batch) do not change, so a run that
 * backs off ends as a run started with the final micro-batch does.
 */
import * as tf from '@tensorflow/tfjs';
import type { ImageBatch } from '../contracts/batches';
import { EngineError } from '../common/errors';
import { batchGradients, type BatchGradients, type GradientSource, type StepContext } from './step';

/** A step does not fit in memory even at the smallest micro-batch, or the backend cannot continue after running out. */
export class EngineOutOfMemoryError extends EngineError {
  constructor(
    message: string,
    readonly microBatchSize: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'EngineOutOfMemoryError';
  }
}

/**
 * Whether an error is the backend running out of memory:
 * - tfjs-node(-gpu): TensorFlow's ResourceExhaustedError, "OOM when allocating tensor with
 *   shape[...]", "Resource exhausted: ...", CUDA's "out of memory";
 * - wasm: the module aborts ("Aborted(...)", a WebAssembly.RuntimeError) or traps on the null
 *   pointer malloc returned ("memory access out of bounds");
 * - JavaScript (the cpu backend, any typed array): RangeError "Array buffer allocation failed".
 *
 * An error that carries one as its `cause` (at most MAX_CAUSE_DEPTH links down) is one too: a
 * helper replica's out-of-memory reaches the trainer as a TrainerReplicaError caused by it.
 */
export function isOutOfMemoryError(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth <= MAX_CAUSE_DEPTH && current instanceof Error; depth++) {
    if (isOwnOutOfMemory(current)) return true;
    current = current.cause;
  }
  return false;
}

/** Causes followed by isOutOfMemoryError below the error itself (so a cycle ends). */
export const MAX_CAUSE_DEPTH = 8;

function isOwnOutOfMemory(error: Error): boolean {
  const text = `${error.name}: ${error.message}`;
  if (/\bOOM\b|resource ?exhausted|out of memory/i.test(text)) return true;
  // By name too: an error revived from another thread or process keeps its name.
  if (error instanceof RangeError || error.name === 'RangeError') return /allocation failed|array buffer length|invalid typed array length/i.test(error.message);
  // WebAssembly.RuntimeError (the TypeScript lib here has no WebAssembly value to test instanceof against).
  if (error.name === 'RuntimeError') return /memory access out of bounds|^Aborted\(/i.test(error.message);
  return false;
}

/** Whether the backend stays usable after running out. The wasm module does not: measured, after its abort even a micro-batch of 1 fails. */
export function recoversFromOutOfMemory(backend: string = tf.getBackend()): boolean {
  return backend !== 'wasm';
}

interface TapeNode {
  saved?: tf.Tensor[];
}

/**
 * Disposes the tensors a failed `tf.variableGrads` left on the gradient tape. tfjs-core keeps the
 * forward pass's saved tensors on the engine's active tape and disposes them only when the
 * backward pass finishes; after a throw they stay, referenced by nothing that frees them (the
 * next tape replaces the list). Returns how many tensors it disposed.
 */
export function releaseAbandonedTape(): number {
  const state = (tf.engine() as unknown as { state: { activeTape: TapeNode[] | null; gradientDepth: number } }).state;
  if (state.gradientDepth !== 0 || !state.activeTape) return 0;
  let released = 0;
  for (const node of state.activeTape) {
    for (const tensor of node.saved ?? []) {
      if (!tensor.isDisposed) {
        tensor.dispose();
        released++;
      }
    }
  }
  state.activeTape = null;
  return released;
}

export interface MicroBatchBackoff {
  /** 0-based index of the call (the effective batch) in this source's life. */
  call: number;
  from: number;
  to: number;
  /** The backend's error message, first line. */
  error: string;
}

export interface AdaptiveGradientsOptions {
  /** Where to start (the memory model's choice). */
  microBatchSize: number;
  /** Whether the backend can go on after running out (default: not on wasm). */
  recoverable?: boolean;
  /** Told about each halving, before the batch is redone. */
  onBackoff?: (backoff: MicroBatchBackoff) => void;
  /** Computes one effective batch at a given micro-batch (default batchGradients); the test's fault injection wraps it. */
  compute?: GradientSource;
}

export interface AdaptiveGradients {
  /** The GradientSource for trainSage's `gradients`. */
  gradients: GradientSource;
  /** The micro-batch now (after every back-off so far). */
  microBatchSize(): number;
  backoffs: MicroBatchBackoff[];
}

/**
 * A GradientSource whose micro-batch halves (rounded down, at least 1) when a batch runs out of
 * memory, and which then redoes that batch from its first image; later batches keep the smaller
 * micro-batch. The context's microBatchSize is ignored: this source owns it.
 */
export function adaptiveGradients(options: AdaptiveGradientsOptions): AdaptiveGradients {
  let current = Math.max(1, Math.floor(options.microBatchSize));
  let calls = 0;
  const backoffs: MicroBatchBackoff[] = [];
  const compute = options.compute ?? batchGradients;
  const recoverable = options.recoverable ?? recoversFromOutOfMemory();
  const gradients = async (batch: ImageBatch, context: StepContext): Promise<BatchGradients> => {
    const call = calls++;
    for (;;) {
      try {
        return await compute(batch, { ...context, microBatchSize: current });
      } catch (error) {
        if (!isOutOfMemoryError(error)) throw error;
        releaseAbandonedTape();
        const message = ((error as Error).message.split('\n')[0] ?? '').slice(0, 300);
        if (!recoverable) {
          throw new EngineOutOfMemoryError(
            `the ${tf.getBackend()} backend ran out of memory at micro-batch ${current} (${message}) and cannot continue in this process; ` +
              `run again with microBatchSize ${Math.max(1, Math.floor(current / 2))} or less`,
            current,
            { cause: error },
          );
        }
        if (current === 1) {
          throw new EngineOutOfMemoryError(`a training step does not fit in memory even at micro-batch 1 (${message}); use a GPU with more memory or a smaller model`, 1, { cause: error });
        }
        const next = Math.max(1, Math.floor(current / 2));
        const backoff = { call, from: current, to: next, error: message };
        backoffs.push(backoff);
        options.onBackoff?.(backoff);
        current = next;
      }
    }
  };
  return { gradients, microBatchSize: () => current, backoffs };
}
