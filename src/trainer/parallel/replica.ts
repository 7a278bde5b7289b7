/**
 * A helper replica's side of the protocol (protocol.ts), the same in a worker thread and in a
 * child process: it loads its own backend and CLIP, builds a copy of the trainer's model from
 * the frozen tensors it is sent, and answers requests one at a time, in order: prompt batches
 * of the text classifier, the gradient sums of its micro-batches, the logits of test batches.
 * Before each step or logits request it takes the trainable values the trainer published.
 */
import * as tf from '@tensorflow/tfjs';
import { encodePromptBatch, initBackend, loadClip, matmulFacts, type ClipModel } from '../../clip';
import type { ImageBatch } from '../../contracts/batches';
import { batchLogits, createSageModel, GradientAccumulator, microBatchGradients, releaseAbandonedTape, type SageModel } from '../../engine';
import { layoutSize, serialiseError, type ReplicaFault, type ReplicaReply, type ReplicaRequest, type ReplicaResult, type SharedBuffers, type ValuesUpdate, type VariableLayout } from './protocol';

type AllocatorFault = Extract<ReplicaFault, { type: 'out-of-memory' }>;

/**
 * Tests: the backend's `write` refuses, inside a gradient pass (while tfjs has a tape, where a
 * real out-of-memory hits), tensors above the limit, as test/engine/out-of-memory.test.ts does
 * on the trainer's thread. Returns how to take it off again.
 */
function refuseLargeTensors(fault: AllocatorFault, refused: () => void): () => void {
  const backend = tf.backend() as unknown as { write: (values: unknown, shape: number[], dtype: string) => unknown };
  const state = (tf.engine() as unknown as { state: { activeTape: unknown[] | null } }).state;
  const original = backend.write;
  backend.write = function (this: unknown, values, shape, dtype) {
    if (state.activeTape && 4 * shape.reduce((a, b) => a * b, 1) > fault.limitBytes) {
      refused();
      throw new RangeError('Array buffer allocation failed');
    }
    return original.call(this, values, shape, dtype);
  };
  return () => {
    backend.write = original;
  };
}

interface Attached {
  model: SageModel;
  layout: VariableLayout[];
  shared: SharedBuffers | null;
  version: number;
}

/** The request handler of one helper; `send` posts a reply (and the buffers it may transfer). */
export function replicaHandler(send: (reply: ReplicaReply, transfer: ArrayBuffer[]) => void, exit: (code: number) => void): (request: ReplicaRequest) => void {
  let clip: ClipModel | null = null;
  let attached: Attached | null = null;
  let fault: 'throw' | 'exit' | null = null;
  let clearAllocatorFault: (() => void) | null = null;
  let refused = 0;
  // Requests are handled strictly in order, each after the one before has replied.
  let queue: Promise<void> = Promise.resolve();

  const needClip = (): ClipModel => {
    if (!clip) throw new Error('the replica got a request before its start request');
    return clip;
  };
  const needModel = (): Attached => {
    if (!attached) throw new Error('the replica got a step before the model was attached');
    return attached;
  };

  /** Takes the trainer's trainable values when they changed since the last request. */
  const takeValues = (state: Attached, update: ValuesUpdate) => {
    if (update.version === state.version) return;
    const values = update.values ?? (state.shared ? new Float32Array(state.shared.values) : null);
    if (!values) throw new Error(`the replica got values version ${update.version} with no values and no shared buffer`);
    let offset = 0;
    state.model.trainableVariables().forEach((v, i) => {
      const size = state.layout[i]!.shape.reduce((a, b) => a * b, 1);
      // A copy: the shared buffer changes under a view, and the cpu backend would keep the view.
      const value = tf.tensor(values.slice(offset, offset + size), state.layout[i]!.shape);
      v.variable.assign(value);
      value.dispose();
      offset += size;
    });
    state.version = update.version;
  };

  const handle = async (request: ReplicaRequest): Promise<{ result: ReplicaResult; transfer: ArrayBuffer[] }> => {
    switch (request.type) {
      case 'start': {
        const backend = await initBackend({ backend: request.start.backend, log: () => {} });
        clip = await loadClip(request.start.clip.location, request.start.clip.cacheDir ? { cacheDir: request.start.clip.cacheDir } : {});
        const matmul = backend === 'wasm' ? matmulFacts()?.kernel : undefined;
        return { result: { type: 'start', backend, ...(matmul ? { matmul } : {}) }, transfer: [] };
      }
      case 'prompts': {
        const model = needClip();
        const features = encodePromptBatch(model, { ids: request.ids, rows: request.rows, contextLength: request.contextLength });
        // Copies: a transferred buffer must not be the backend's own storage (the cpu backend hands that out).
        const embeddings = (features.dataSync() as Float32Array).slice();
        const dim = features.shape[1];
        features.dispose();
        return { result: { type: 'prompts', embeddings, rows: request.rows, dim }, transfer: [embeddings.buffer as ArrayBuffer] };
      }
      case 'attach': {
        const model = needClip();
        attached?.model.dispose();
        attached = null;
        const [width, classes] = [model.config.vision.hiddenSize, request.classNames.length];
        const zeroShotWeightsT = tf.tensor2d(request.zeroShotWeightsT, [width, classes]);
        const zeroShotWeights = tf.transpose(zeroShotWeightsT) as tf.Tensor2D;
        const textEmbeddings = request.textEmbeddings ? tf.tensor2d(request.textEmbeddings, [classes, model.config.projectionDim]) : undefined;
        try {
          const built = await createSageModel({ clip: model, settings: request.settings, classNames: request.classNames, zeroShotWeights, zeroShotWeightsT, textEmbeddings });
          const names = built.trainableVariables().map((v) => v.name);
          const expected = request.variables.map((v) => v.name);
          if (names.join('\n') !== expected.join('\n')) {
            built.dispose();
            throw new Error(`the replica's trainable variables [${names.join(', ')}] differ from the trainer's [${expected.join(', ')}]`);
          }
          attached = { model: built, layout: request.variables, shared: request.shared, version: -1 };
        } finally {
          tf.dispose([zeroShotWeightsT, zeroShotWeights, ...(textEmbeddings ? [textEmbeddings] : [])]);
        }
        return { result: { type: 'attach' }, transfer: [] };
      }
      case 'step': {
        const state = needModel();
        takeValues(state, request.values);
        const adjustment = tf.tensor1d(request.adjustment);
        const n = request.labels.length;
        const batch: ImageBatch = { images: request.images, labels: request.labels, keys: Array.from({ length: n }, (_, i) => `replica-item-${i}`), n, size: request.size, crops: 1 };
        const accumulator = new GradientAccumulator();
        let lossSum = 0;
        let correct = 0;
        try {
          let start = 0;
          for (const [k, count] of request.counts.entries()) {
            if (fault === 'throw') throw new Error('injected fault: this replica was told to fail its step');
            if (fault === 'exit' && k === 0) exit(7);
            const part = microBatchGradients({ model: state.model, adjustment }, batch, start, count);
            accumulator.add(part.sums);
            lossSum += part.lossSum;
            correct += part.correct;
            start += count;
          }
          const sums = accumulator.take();
          const total = layoutSize(state.layout);
          const target = state.shared ? new Float32Array(state.shared.gradients) : new Float32Array(total);
          let offset = 0;
          for (const sum of sums) {
            const data = sum.dataSync() as Float32Array;
            target.set(data, offset);
            offset += data.length;
          }
          tf.dispose(sums);
          const gradients = state.shared ? null : target;
          return { result: { type: 'step', lossSum, correct, count: n, gradients }, transfer: gradients ? [gradients.buffer as ArrayBuffer] : [] };
        } catch (error) {
          // A failed pass leaves its saved tensors on tfjs's tape (out-of-memory.ts). This helper lives on, and
          // after an out-of-memory the trainer has it redo the step at half the micro-batch: not with them still held.
          releaseAbandonedTape();
          throw error;
        } finally {
          accumulator.dispose();
          adjustment.dispose();
        }
      }
      case 'logits': {
        const state = needModel();
        takeValues(state, request.values);
        const logits = batchLogits(state.model, { images: request.images, n: request.n, size: request.size, crops: request.crops });
        const values = (logits.dataSync() as Float32Array).slice();
        const classes = logits.shape[1];
        logits.dispose();
        return { result: { type: 'logits', logits: values, n: request.n, classes }, transfer: [values.buffer as ArrayBuffer] };
      }
      case 'fault': {
        const tensors = tf.memory().numTensors;
        clearAllocatorFault?.();
        clearAllocatorFault = null;
        if (request.fault !== null && typeof request.fault === 'object') {
          clearAllocatorFault = refuseLargeTensors(request.fault, () => refused++);
          fault = null;
        } else fault = request.fault;
        return { result: { type: 'fault', tensors, refused }, transfer: [] };
      }
    }
  };

  return (request) => {
    queue = queue.then(async () => {
      try {
        const { result, transfer } = await handle(request);
        send({ id: request.id, ok: true, result }, transfer);
      } catch (error) {
        send({ id: request.id, ok: false, error: serialiseError(error) }, []);
      }
    });
  };
}
