/**
 * The messages between the trainer (replica 0) and its helper replicas (1..W-1), the same for
 * both transports: worker threads (SharedArrayBuffers for the trainable values and the gradient
 * sums) and child processes (one per GPU; everything travels in the message over IPC with
 * Node's `advanced` serialisation, which carries typed arrays but no shared memory).
 *
 * Every request has an `id`; the helper answers each with one reply of the same id, in order.
 */
import type { BackendName } from '../../clip';
import type { Settings } from '../../contracts/settings';

/** `threads`: worker_threads, each with its own tfjs (wasm) instance. `processes`: one child process per replica (per GPU). */
export type ReplicaTransport = 'threads' | 'processes';

/** What a helper needs to start: the backend to load and the CLIP folder it reads itself. */
export interface ReplicaStart {
  /** 1..W-1 (the trainer is replica 0). */
  index: number;
  backend: BackendName;
  clip: { location: string; cacheDir?: string };
}

/** One trainable variable in the fixed order (model.trainableVariables()) the values and gradients follow. */
export interface VariableLayout {
  name: string;
  shape: number[];
}

/** Thread transport: the memory a helper shares with the trainer, sized to the trainable parameters. */
export interface SharedBuffers {
  /** The trainer's trainable values (written by the trainer only, between requests). */
  values: SharedArrayBuffer;
  /** This helper's gradient sums of its last step (written by the helper only, before it replies). */
  gradients: SharedArrayBuffer;
}

/**
 * The trainable values a request runs with: `version` increases whenever the trainer publishes
 * them; `values` carries them over IPC (processes), null when they are in SharedBuffers.values
 * (threads) or unchanged since the helper's last request.
 */
export interface ValuesUpdate {
  version: number;
  values: Float32Array | null;
}

/**
 * Tests make a helper fail on purpose: throw inside its next step, or exit in the middle of it;
 * `out-of-memory`: from now on its backend refuses, inside a gradient pass, every tensor above
 * `limitBytes` with JavaScript's `RangeError: Array buffer allocation failed`, as an allocator
 * would when memory is short; null clears the fault.
 */
export type ReplicaFault = 'throw' | 'exit' | { type: 'out-of-memory'; limitBytes: number } | null;

/**
 * An error as it crosses to the trainer: structured clone and IPC would drop its class, and
 * the trainer needs its name, message and causes (the out-of-memory recogniser reads them).
 */
export interface ReplicaErrorInfo {
  name: string;
  message: string;
  stack?: string;
  cause?: ReplicaErrorInfo;
}

export type ReplicaRequest =
  | { type: 'start'; id: number; start: ReplicaStart }
  | { type: 'prompts'; id: number; ids: Int32Array; rows: number; contextLength: number }
  | {
      type: 'attach';
      id: number;
      settings: Settings;
      classNames: string[];
      /** The frozen `[d, C]` W^zs exactly as the trainer's model holds it. */
      zeroShotWeightsT: Float32Array;
      /** `[C, p]`, or null when the model has none. */
      textEmbeddings: Float32Array | null;
      variables: VariableLayout[];
      shared: SharedBuffers | null;
    }
  | {
      type: 'step';
      id: number;
      values: ValuesUpdate;
      /** This helper's micro-batches, concatenated: `[Σ counts, size, size, 3]`. */
      images: Float32Array;
      labels: Int32Array;
      size: number;
      /** Images per micro-batch, in the order they are computed and summed. */
      counts: number[];
      /** τ log n (+ log Λ), `[C]`. */
      adjustment: Float32Array;
    }
  | { type: 'logits'; id: number; values: ValuesUpdate; images: Float32Array; n: number; size: number; crops: number }
  | { type: 'fault'; id: number; fault: ReplicaFault };

export type ReplicaResult =
  /** matmul: what runs the matrix products on wasm (`openblas` or `xnnpack`); absent on other backends. */
  | { type: 'start'; backend: string; matmul?: string }
  | { type: 'prompts'; embeddings: Float32Array; rows: number; dim: number }
  | { type: 'attach' }
  | {
      type: 'step';
      lossSum: number;
      correct: number;
      count: number;
      /** Gradient sums in VariableLayout order over IPC; null when written into SharedBuffers.gradients. */
      gradients: Float32Array | null;
    }
  | { type: 'logits'; logits: Float32Array; n: number; classes: number }
  | {
      type: 'fault';
      /** The helper's live tensors (tf.memory()) when the request arrived: tests check a failed step left none. */
      tensors: number;
      /** Allocations its out-of-memory fault refused so far. */
      refused: number;
    };

export type ReplicaReply = { id: number; ok: true; result: ReplicaResult } | { id: number; ok: false; error: ReplicaErrorInfo };

/** Causes followed when an error is sent (a cycle or a long chain ends there). */
const MAX_CAUSES = 8;

/** A helper's error (or anything it threw) as it travels, with its chain of causes. */
export function serialiseError(error: unknown, depth = 0): ReplicaErrorInfo {
  const e = error instanceof Error ? error : new Error(String(error));
  const info: ReplicaErrorInfo = { name: e.name, message: e.message };
  if (e.stack) info.stack = e.stack;
  if (e.cause !== undefined && depth < MAX_CAUSES) info.cause = serialiseError(e.cause, depth + 1);
  return info;
}

const WebAssemblyErrors = (globalThis as unknown as { WebAssembly?: Record<'RuntimeError' | 'CompileError' | 'LinkError', ErrorConstructor | undefined> }).WebAssembly;
/** The built-in classes an error is revived as, by name (so `instanceof RangeError` holds on the trainer's side too). */
const BUILT_IN_ERRORS: Record<string, ErrorConstructor | undefined> = {
  Error,
  RangeError,
  TypeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
  RuntimeError: WebAssemblyErrors?.RuntimeError,
  CompileError: WebAssemblyErrors?.CompileError,
  LinkError: WebAssemblyErrors?.LinkError,
};

/** The trainer's copy of a helper's error: a built-in class where the name is one, else an Error of that name; the helper's stack; its causes. */
export function reviveError(info: ReplicaErrorInfo): Error {
  const cause = info.cause ? reviveError(info.cause) : undefined;
  const Class = BUILT_IN_ERRORS[info.name] ?? Error;
  const error = new Class(info.message);
  // As `new Error(message, { cause })` would set it (WebAssembly's classes may not take the option).
  if (cause !== undefined) Object.defineProperty(error, 'cause', { value: cause, writable: true, configurable: true });
  if (error.name !== info.name) error.name = info.name;
  if (info.stack) error.stack = info.stack;
  return error;
}

/** Floats in the variables, laid end to end in order. */
export function layoutSize(variables: readonly VariableLayout[]): number {
  return variables.reduce((total, v) => total + v.shape.reduce((a, b) => a * b, 1), 0);
}
