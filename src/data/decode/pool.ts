/**
 * A pool of worker threads that decode and transform images off the main thread, where the
 * engine runs tfjs. `workers: 0` runs the same code in-process (tests, debugging).
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { transformImage, type TransformRequest } from '../transforms/apply';
import type { DecodeResultMessage, DecodeTask, DecodeTaskMessage } from './protocol';
import { DataError } from '../../common/errors';

export interface DecodePoolOptions {
  /** Worker threads; default = CPU cores. 0 decodes on the calling thread. */
  workers?: number;
  /** Images a worker receives in one message and transforms concurrently; default 4. */
  tasksPerWorker?: number;
}

/**
 * Groups of tasks a worker holds at once: the second is queued in the worker while the first's
 * last image finishes, so libvips never waits for a message round trip.
 */
const GROUPS_PER_WORKER = 2;

/** A worker thread died or the pool was used after close(). */
export class DecodePoolError extends DataError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { ...options, kind: 'failure' });
    this.name = 'DecodePoolError';
  }
}

/** The image could not be decoded or transformed; `message` is the decoder's reason. */
export class ImageDecodeError extends DataError {
  constructor(message: string) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

interface Pending {
  resolve: () => void;
  reject: (error: Error) => void;
}

interface PoolWorker {
  worker: Worker;
  /** Groups of tasks sent and not yet answered. */
  groups: number;
}

interface QueuedTask {
  task: DecodeTask;
  pending: Pending;
}

/** Where the worker module is and whether it needs tsx to load (running from .ts sources). */
function workerLaunch(): { entry: URL; workerData: { module: string; registerTsx: boolean } } {
  const fromSource = import.meta.url.endsWith('.ts');
  const module = new URL(fromSource ? './worker.ts' : './worker.js', import.meta.url).href;
  // Neither vitest's nor the tsx CLI's loader reaches worker threads: the worker registers its own.
  return { entry: new URL('./worker-entry.mjs', import.meta.url), workerData: { module, registerTsx: fromSource } };
}

export class DecodePool {
  readonly workers: number;
  private readonly tasksPerWorker: number;
  private readonly threads: PoolWorker[] = [];
  private readonly launch = workerLaunch();
  private readonly pending = new Map<number, Pending>();
  private readonly queue: QueuedTask[] = [];
  private nextId = 0;
  private dispatchScheduled = false;
  private closed = false;
  private failure: Error | undefined;

  private constructor(workers: number, tasksPerWorker: number) {
    this.workers = workers;
    this.tasksPerWorker = tasksPerWorker;
  }

  static async open(options: DecodePoolOptions = {}): Promise<DecodePool> {
    const workers = options.workers ?? os.availableParallelism();
    const tasksPerWorker = options.tasksPerWorker ?? 4;
    if (!Number.isInteger(workers) || workers < 0) throw new DecodePoolError(`workers must be a non-negative integer, got ${workers}`);
    if (!Number.isInteger(tasksPerWorker) || tasksPerWorker < 1) throw new DecodePoolError(`tasksPerWorker must be a positive integer, got ${tasksPerWorker}`);
    // sharp's native module must be loaded by the main thread before any worker loads it.
    await import('sharp');
    return new DecodePool(workers, tasksPerWorker);
  }

  /** Threads start with the first image, so a source that is opened but not yet read (the test split during training) costs nothing. */
  private ensureThreads(): void {
    while (this.threads.length < this.workers) this.threads.push(this.spawn());
  }

  private spawn(): PoolWorker {
    const worker = new Worker(this.launch.entry, { workerData: this.launch.workerData });
    // An idle worker does not keep the process alive; a busy one does (see dispatch).
    worker.unref();
    const entry: PoolWorker = { worker, groups: 0 };
    worker.on('message', (results: DecodeResultMessage) => {
      entry.groups--;
      if (entry.groups === 0) worker.unref();
      for (const result of results) {
        const pending = this.pending.get(result.id);
        this.pending.delete(result.id);
        if (!pending) continue;
        if (result.ok) pending.resolve();
        else pending.reject(new ImageDecodeError(result.message));
      }
      this.dispatch();
    });
    worker.on('error', (error) => this.fail(new DecodePoolError(`a decode worker failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => {
      if (!this.closed) this.fail(new DecodePoolError(`a decode worker exited unexpectedly with code ${code}`));
    });
    return entry;
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
    for (const queued of this.queue.splice(0)) queued.pending.reject(error);
  }

  /** Dispatches once the current burst of run() calls has queued its tasks, so they travel in full groups. */
  private scheduleDispatch(): void {
    if (this.dispatchScheduled) return;
    this.dispatchScheduled = true;
    queueMicrotask(() => {
      this.dispatchScheduled = false;
      this.dispatch();
    });
  }

  /**
   * Sends queued tasks in groups of `tasksPerWorker`, one message per group and one answer per
   * group: each message wakes a thread on another core, which costs about as much as
   * normalising an image on this machine, so images share messages.
   */
  private dispatch(): void {
    while (this.queue.length > 0) {
      let idlest: PoolWorker | undefined;
      for (const thread of this.threads) if (thread.groups < GROUPS_PER_WORKER && (!idlest || thread.groups < idlest.groups)) idlest = thread;
      if (!idlest) return;
      const tasks: DecodeTaskMessage = [];
      for (const { task, pending } of this.queue.splice(0, this.tasksPerWorker)) {
        this.pending.set(task.id, pending);
        tasks.push(task);
      }
      if (idlest.groups === 0) idlest.worker.ref();
      idlest.groups++;
      idlest.worker.postMessage(tasks, tasks.map((task) => task.bytes.buffer as ArrayBuffer));
    }
  }

  /**
   * Transforms one encoded image into `target` (`floatsPerItem` floats); rejects with
   * ImageDecodeError when the image is bad. With worker threads, `target` must be a view of a
   * SharedArrayBuffer: the worker writes into it directly.
   */
  run(bytes: Uint8Array, request: TransformRequest, target: Float32Array): Promise<void> {
    if (this.closed) return Promise.reject(new DecodePoolError('the decode pool is closed'));
    if (this.failure) return Promise.reject(this.failure);
    if (this.workers === 0) {
      return transformImage(bytes, request, target).then(
        () => undefined,
        (error: unknown) => {
          throw new ImageDecodeError(error instanceof Error ? error.message : String(error));
        },
      );
    }
    if (!(target.buffer instanceof SharedArrayBuffer)) {
      return Promise.reject(new DecodePoolError('a decode worker can only write into shared memory: target must be a view of a SharedArrayBuffer'));
    }
    this.ensureThreads();
    // A private copy that can be transferred: the caller's bytes may be a view into a larger buffer.
    const owned = new Uint8Array(bytes);
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ task: { id: this.nextId++, bytes: owned, request, target }, pending: { resolve, reject } });
      this.scheduleDispatch();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fail(new DecodePoolError('the decode pool was closed with work outstanding'));
    await Promise.all(this.threads.map(({ worker }) => worker.terminate()));
  }
}
