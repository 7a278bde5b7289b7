/**
 * Data-parallel replicas of one training job (SPEC section 7). The trainer's own thread is
 * replica 0 (its model is the one the optimizer updates, checkpoints and saves); replicas
 * 1..W-1 are helpers, each with its own backend, CLIP and copy of the model. Work is dealt in a
 * fixed order:
 *
 * - a training step's micro-batches: micro-batch k to replica k mod W; each replica sums its own
 *   in order, and the trainer adds the replicas' sums in replica order (0, 1, …, W-1) into the
 *   batch's gradients. Before dealing a step the trainer publishes its trainable values, so every
 *   replica computes with the weights of the last update (and of a restored checkpoint);
 * - test batches: batch j to replica j mod W, logits returned in the batches' order;
 * - the text classifier's prompt batches: batch k to replica k mod W.
 *
 * For a fixed W this is deterministic, so runs repeat bit for bit; across W only the order of the
 * gradient summation differs. When the effective batch is one micro-batch (microBatchSize null),
 * it is split into W equal parts so every replica has work.
 *
 * A helper that fails a request, throws or exits rejects the request with TrainerReplicaError
 * naming it (a helper's own error is its cause, so an out-of-memory in a helper is recognised
 * and backed off from as one in the trainer's thread); a dead helper rejects every later
 * request at once, never a hang.
 */
import * as tf from '@tensorflow/tfjs';
import { type BackendName, type ClipModel, encodePromptBatch, matmulFacts, type PromptEncoder, type TokenBatch } from '../../clip';
import type { ImageBatch } from '../../contracts/batches';
import { TrainerError } from '../../common/errors';
import { batchGradients, type BatchGradients, batchLogits, checkTrainingBatch, type GradientSource, type LogitSource, type SageModel, type StepContext } from '../../engine';
import { processLink, threadLink, type ReplicaLink } from './links';
import { layoutSize, reviveError, type ReplicaFault, type ReplicaReply, type ReplicaRequest, type ReplicaResult, type ReplicaTransport, type ValuesUpdate, type VariableLayout } from './protocol';

/** A helper replica failed: its index, the transport, and why (its own error, or how it ended). */
export class TrainerReplicaError extends TrainerError {
  constructor(
    readonly replica: number,
    readonly replicas: number,
    readonly during: string,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`replica ${replica} of ${replicas} failed during ${during}: ${reason}`, options);
    this.name = 'TrainerReplicaError';
  }
}

export interface ReplicaPoolOptions {
  /** W, the replicas in all, this thread included (≥ 2: with 1 there is no pool). */
  replicas: number;
  transport: ReplicaTransport;
  /** This process's backend; every helper loads the same one, so all replicas compute alike. */
  backend: BackendName;
  /** The CLIP folder each helper loads itself (as the trainer did: same location and cache). */
  clip: { location: string; cacheDir?: string };
  /** Processes: extra environment per helper 1..W-1 (index i-1), e.g. `{ CUDA_VISIBLE_DEVICES: '1' }`. */
  environments?: readonly Record<string, string>[];
}

/** A request on its way: what to do with the reply. */
interface Pending {
  during: string;
  resolve(result: ReplicaResult): void;
  reject(error: Error): void;
}

interface Helper {
  index: number;
  link: ReplicaLink;
  pending: Map<number, Pending>;
  /** Set once it died: every later request is refused with it. */
  failure: string | null;
  /** Thread transport: the helper's gradient sums. */
  gradients: Float32Array | null;
  /** The values version the helper last received (processes send values only when it changed). */
  sentVersion: number;
  started: Promise<ReplicaResult>;
}

const noop = () => {};

/**
 * The micro-batches `{ start, count }` of each of `replicas` replicas for a batch of `n`: the k-th
 * micro-batch to replica k mod W. A micro-batch larger than n / W (microBatchSize null means the
 * whole batch) would leave replicas idle, so it is cut to ceil(n / W).
 */
export function dealMicroBatches(n: number, microBatchSize: number, replicas: number): { start: number; count: number }[][] {
  const size = Math.max(1, Math.min(microBatchSize, Math.ceil(n / replicas)));
  const parts = Array.from({ length: replicas }, () => [] as { start: number; count: number }[]);
  for (let k = 0, start = 0; start < n; k++, start += size) parts[k % replicas]!.push({ start, count: Math.min(size, n - start) });
  return parts;
}

export class ReplicaPool {
  readonly size: number;
  readonly transport: ReplicaTransport;
  private readonly helpers: Helper[] = [];
  private nextId = 0;
  private closed = false;
  private layout: VariableLayout[] | null = null;
  private attachedTo: SageModel | null = null;
  /** Thread transport: the trainable values every helper reads. */
  private sharedValues: Float32Array | null = null;
  private values: ValuesUpdate & { data: Float32Array | null } = { version: 0, values: null, data: null };

  private constructor(options: ReplicaPoolOptions) {
    this.size = options.replicas;
    this.transport = options.transport;
  }

  /** Starts the helpers; they load their backend and CLIP in the background (ready() waits for them). */
  static open(options: ReplicaPoolOptions): ReplicaPool {
    if (!Number.isInteger(options.replicas) || options.replicas < 2) throw new RangeError(`a replica pool needs at least 2 replicas; got ${options.replicas}`);
    const pool = new ReplicaPool(options);
    for (let index = 1; index < options.replicas; index++) pool.helpers.push(pool.spawn(index, options));
    return pool;
  }

  private spawn(index: number, options: ReplicaPoolOptions): Helper {
    // The link's events arrive only after this function returns (a thread or process starts asynchronously).
    let self: Helper | null = null;
    const events = {
      reply: (reply: ReplicaReply) => self && this.settle(self, reply),
      died: (reason: string) => self && this.died(self, reason),
    };
    const link = options.transport === 'threads' ? threadLink(events) : processLink(events, options.environments?.[index - 1] ?? {});
    const helper: Helper = { index, link, pending: new Map(), failure: null, gradients: null, sentVersion: -1, started: Promise.resolve({ type: 'attach' }) };
    self = helper;
    helper.started = this.request(helper, 'start-up', { type: 'start', id: this.nextId++, start: { index, backend: options.backend, clip: options.clip } }, []);
    return helper;
  }

  private settle(helper: Helper, reply: ReplicaReply): void {
    const pending = helper.pending.get(reply.id);
    if (!pending) return;
    helper.pending.delete(reply.id);
    if (helper.pending.size === 0) helper.link.hold(false);
    if (reply.ok) pending.resolve(reply.result);
    // The helper's own error as the cause, its class, name, message and causes revived: isOutOfMemoryError follows causes.
    else pending.reject(new TrainerReplicaError(helper.index, this.size, pending.during, `${reply.error.name}: ${reply.error.message}`, { cause: reviveError(reply.error) }));
  }

  private died(helper: Helper, reason: string): void {
    helper.failure ??= reason;
    for (const pending of helper.pending.values()) pending.reject(new TrainerReplicaError(helper.index, this.size, pending.during, reason));
    helper.pending.clear();
  }

  private request(helper: Helper, during: string, request: ReplicaRequest, transfer: ArrayBuffer[]): Promise<ReplicaResult> {
    if (this.closed) return Promise.reject(new TrainerReplicaError(helper.index, this.size, during, 'the replica pool is closed'));
    if (helper.failure !== null) return Promise.reject(new TrainerReplicaError(helper.index, this.size, during, helper.failure));
    const promise = new Promise<ReplicaResult>((resolve, reject) => {
      helper.pending.set(request.id, { during, resolve, reject });
    });
    // Rejections are awaited later, in replica order; this keeps an early one from counting as unhandled.
    promise.catch(noop);
    helper.link.hold(true);
    helper.link.post(request, transfer);
    return promise;
  }

  /** Waits until every helper has loaded its backend and CLIP; refuses a helper that loaded another backend or other matrix kernels. */
  async ready(): Promise<void> {
    const results = await Promise.allSettled(this.helpers.map((h) => h.started));
    const backend = tf.getBackend();
    const matmul = backend === 'wasm' ? matmulFacts()?.kernel : undefined;
    results.forEach((outcome, i) => {
      if (outcome.status === 'rejected') throw outcome.reason;
      const loaded = outcome.value as Extract<ReplicaResult, { type: 'start' }>;
      if (loaded.backend !== backend) throw new TrainerReplicaError(i + 1, this.size, 'start-up', `it runs on the ${loaded.backend} backend; the trainer runs on ${backend}, and replicas must compute alike`);
      if (loaded.matmul !== matmul) throw new TrainerReplicaError(i + 1, this.size, 'start-up', `its matrix products run on ${loaded.matmul ?? 'the backend\'s own kernels'}, the trainer's on ${matmul ?? 'the backend\'s own kernels'}; replicas must compute alike (SAGE_MATMUL and native/gemm must be the same for all)`);
    });
  }

  /** Waits for every promise, then throws the first rejection in replica order (so no helper is still busy after a throw). */
  private static async inOrder<T>(promises: readonly (Promise<T> | null)[]): Promise<(T | null)[]> {
    const outcomes = await Promise.allSettled(promises.map((p) => p ?? Promise.resolve(null)));
    for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
    return outcomes.map((o) => (o as PromiseFulfilledResult<T | null>).value);
  }

  /** The text classifier's prompt batches, batch k on replica k mod W (zeroShotClassifier's `encoder`). */
  readonly encodePrompts: PromptEncoder = async (clip: ClipModel, batches: readonly TokenBatch[], done: (prompts: number) => void) => {
    await this.ready();
    const remote = batches.map((batch, k) =>
      k % this.size === 0 ? null : this.request(this.helpers[(k % this.size) - 1]!, 'the text classifier', { type: 'prompts', id: this.nextId++, ids: batch.ids.slice(), rows: batch.rows, contextLength: batch.contextLength }, []),
    );
    const out: tf.Tensor2D[] = [];
    try {
      let prompts = 0;
      for (const [k, batch] of batches.entries()) {
        const promise = remote[k];
        if (!promise) out.push(encodePromptBatch(clip, batch));
        else {
          const result = (await promise) as Extract<ReplicaResult, { type: 'prompts' }>;
          out.push(tf.tensor2d(result.embeddings, [result.rows, result.dim]));
        }
        prompts += batch.rows;
        done(prompts);
      }
    } catch (error) {
      tf.dispose(out);
      await Promise.allSettled(remote.map((p) => p ?? Promise.resolve()));
      throw error;
    }
    return out;
  };

  /**
   * Builds every helper's copy of `model` (settings, classes, the frozen W^zs and text
   * embeddings as this model holds them, the trainable variables' order). Call once, before
   * the pool's gradients or logits are used with it.
   */
  async attach(model: SageModel): Promise<void> {
    await this.ready();
    const layout = model.trainableVariables().map((v) => ({ name: v.name, shape: [...v.variable.shape] }));
    const total = layoutSize(layout);
    const zeroShotWeightsT = model.zeroShotWeightsT.dataSync() as Float32Array;
    const textEmbeddings = model.textEmbeddings ? (model.textEmbeddings.dataSync() as Float32Array) : null;
    const sharesMemory = this.helpers.every((h) => h.link.sharesMemory);
    this.sharedValues = sharesMemory ? new Float32Array(new SharedArrayBuffer(Math.max(1, total) * 4), 0, total) : null;
    await ReplicaPool.inOrder(
      this.helpers.map((helper) => {
        helper.gradients = sharesMemory ? new Float32Array(new SharedArrayBuffer(Math.max(1, total) * 4), 0, total) : null;
        helper.sentVersion = -1;
        const shared = sharesMemory ? { values: this.sharedValues!.buffer as SharedArrayBuffer, gradients: helper.gradients!.buffer as SharedArrayBuffer } : null;
        return this.request(
          helper,
          'building its model',
          { type: 'attach', id: this.nextId++, settings: model.settings, classNames: [...model.classNames], zeroShotWeightsT: zeroShotWeightsT.slice(), textEmbeddings: textEmbeddings?.slice() ?? null, variables: layout, shared },
          [],
        );
      }),
    );
    this.layout = layout;
    this.attachedTo = model;
  }

  private checkAttached(model: SageModel): VariableLayout[] {
    if (!this.layout || this.attachedTo !== model) throw new TrainerError('the replica pool is used with a model it was not attached to: call attach(model) first');
    return this.layout;
  }

  /** Publishes the trainer's current trainable values for the next requests. */
  private publishValues(model: SageModel): void {
    const layout = this.checkAttached(model);
    const target = this.sharedValues ?? new Float32Array(layoutSize(layout));
    let offset = 0;
    for (const v of model.trainableVariables()) {
      const data = v.variable.dataSync() as Float32Array;
      target.set(data, offset);
      offset += data.length;
    }
    this.values = { version: this.values.version + 1, values: null, data: this.sharedValues ? null : target };
  }

  /** The values part of a request to `helper`: nothing over shared memory, the array over IPC when the helper lacks this version. */
  private valuesFor(helper: Helper): ValuesUpdate {
    const update = { version: this.values.version, values: helper.sentVersion === this.values.version ? null : this.values.data };
    helper.sentVersion = this.values.version;
    return update;
  }

  /** trainSage's `gradients`: the effective batch's gradient sums over the replicas. */
  readonly gradients: GradientSource = async (batch: ImageBatch, context: StepContext): Promise<BatchGradients> => {
    checkTrainingBatch(context.model, batch);
    const layout = this.checkAttached(context.model);
    const plan = dealMicroBatches(batch.n, context.microBatchSize, this.size);
    // A helper known to be dead fails the step before any work is done.
    const dead = this.helpers.find((h) => h.failure !== null && plan[h.index]!.length > 0);
    if (dead) throw new TrainerReplicaError(dead.index, this.size, 'a training step', dead.failure!);
    this.publishValues(context.model);
    const adjustment = context.adjustment.dataSync() as Float32Array;
    const pixels = batch.size * batch.size * 3;
    const remote = this.helpers.map((helper) => {
      const parts = plan[helper.index]!;
      if (parts.length === 0) return null;
      const count = parts.reduce((a, p) => a + p.count, 0);
      const images = new Float32Array(count * pixels);
      const labels = new Int32Array(count);
      let at = 0;
      for (const p of parts) {
        images.set(batch.images.subarray(p.start * pixels, (p.start + p.count) * pixels), at * pixels);
        labels.set(batch.labels.subarray(p.start, p.start + p.count), at);
        at += p.count;
      }
      const request: ReplicaRequest = { type: 'step', id: this.nextId++, values: this.valuesFor(helper), images, labels, size: batch.size, counts: parts.map((p) => p.count), adjustment: adjustment.slice() };
      return this.request(helper, 'a training step', request, [images.buffer, labels.buffer]);
    });
    // Replica 0: this thread's micro-batches, summed in order exactly as batchGradients does.
    let own: BatchGradients;
    try {
      own = this.ownShare(batch, context, plan[0]!);
    } catch (error) {
      await Promise.allSettled(remote.map((p) => p ?? Promise.resolve()));
      throw error;
    }
    let results: (ReplicaResult | null)[];
    try {
      results = await ReplicaPool.inOrder(remote);
    } catch (error) {
      tf.dispose(own.sums);
      throw error;
    }
    let { sums, lossSum, correct } = own;
    for (const [i, result] of results.entries()) {
      if (!result) continue;
      const part = result as Extract<ReplicaResult, { type: 'step' }>;
      const data = part.gradients ?? this.helpers[i]!.gradients!;
      let offset = 0;
      const previous = sums;
      sums = tf.tidy(() =>
        previous.map((s, v) => {
          const size = layout[v]!.shape.reduce((a, b) => a * b, 1);
          const added = tf.add(s, tf.tensor(data.slice(offset, offset + size), layout[v]!.shape));
          offset += size;
          return added;
        }),
      );
      tf.dispose(previous);
      lossSum += part.lossSum;
      correct += part.correct;
    }
    return { sums, lossSum, correct, count: batch.n };
  };

  private ownShare(batch: ImageBatch, context: StepContext, parts: readonly { start: number; count: number }[]): BatchGradients {
    // The parts are consecutive micro-batches of equal size but spread over the batch; gather them into one batch of their own.
    const pixels = batch.size * batch.size * 3;
    const count = parts.reduce((a, p) => a + p.count, 0);
    const images = new Float32Array(count * pixels);
    const labels = new Int32Array(count);
    const keys: string[] = [];
    let at = 0;
    for (const p of parts) {
      images.set(batch.images.subarray(p.start * pixels, (p.start + p.count) * pixels), at * pixels);
      labels.set(batch.labels.subarray(p.start, p.start + p.count), at);
      keys.push(...batch.keys.slice(p.start, p.start + p.count));
      at += p.count;
    }
    const size = parts[0]?.count ?? 1;
    return batchGradients({ images, labels, keys, n: count, size: batch.size, crops: 1 }, { ...context, microBatchSize: size });
  }

  /** evaluate's `logits`: test batch j on replica j mod W, the logits yielded in the batches' order. */
  readonly logits: LogitSource = (model: SageModel, batches: AsyncIterable<ImageBatch>) => this.logitStream(model, batches);

  private async *logitStream(model: SageModel, batches: AsyncIterable<ImageBatch>): AsyncGenerator<{ batch: ImageBatch; logits: tf.Tensor2D }> {
    this.publishValues(model);
    const iterator = batches[Symbol.asyncIterator]();
    let remote: (Promise<ReplicaResult> | null)[] = [];
    try {
      for (;;) {
        const group: ImageBatch[] = [];
        while (group.length < this.size) {
          const next = await iterator.next();
          if (next.done) break;
          group.push(next.value);
        }
        if (group.length === 0) return;
        remote = group.map((batch, j) => {
          if (j === 0) return null;
          const helper = this.helpers[j - 1]!;
          const images = batch.images.slice();
          return this.request(helper, 'evaluation', { type: 'logits', id: this.nextId++, values: this.valuesFor(helper), images, n: batch.n, size: batch.size, crops: batch.crops }, [images.buffer]);
        });
        const own = batchLogits(model, group[0]!);
        yield { batch: group[0]!, logits: own };
        for (let j = 1; j < group.length; j++) {
          const result = (await remote[j]!) as Extract<ReplicaResult, { type: 'logits' }>;
          yield { batch: group[j]!, logits: tf.tensor2d(result.logits, [result.n, result.classes]) };
        }
        remote = [];
      }
    } finally {
      // A consumer that stops early (or a failed helper) leaves no helper busy behind it.
      await Promise.allSettled(remote.map((p) => p ?? Promise.resolve()));
    }
  }

  /**
   * Tests: sets helper `index`'s fault (protocol.ts: 'throw' or 'exit' in its next step, an
   * allocator that refuses large tensors, null for none), replacing the one before. Answers the
   * helper's live tensors before the change and the allocations it refused so far.
   */
  async injectFault(index: number, fault: ReplicaFault): Promise<{ tensors: number; refused: number }> {
    const helper = this.helpers[index - 1];
    if (!helper) throw new RangeError(`no helper replica ${index}; the pool has 1..${this.size - 1}`);
    const result = (await this.request(helper, 'fault injection', { type: 'fault', id: this.nextId++, fault }, [])) as Extract<ReplicaResult, { type: 'fault' }>;
    return { tensors: result.tensors, refused: result.refused };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const helper of this.helpers) this.died(helper, 'the replica pool was closed');
    await Promise.all(this.helpers.map((h) => h.link.close()));
  }
}
