/**
 * The training memory model (SPEC section 6, "Memory"): bytes a training micro-batch needs, from
 * the CLIP config and the method, so that the trainer picks a micro-batch that fits the device
 * and validation refuses a run whose micro-batch 1 cannot fit, before any GPU starts.
 * Handler-safe (no TensorFlow.js).
 *
 * Two parts, both float32 and counted as `tf.memory().numBytes` counts them:
 *
 * - fixed: the frozen weights (the vision tower's linear layers twice, as W and Wᵀ, so that both
 *   passes are plain matMuls; the text tower's once), W^zs and the text embeddings, and five
 *   copies of the trainable parameters (the variables, their momentum, the accumulated gradient
 *   sums, the micro-batch's gradients and the sum being formed), and the cosine heads' work;
 * - per image: tfjs keeps, until a backward pass ends, every tensor the forward pass saved and
 *   the gradient of every intermediate it went through (tfjs-core's backpropagateGradients frees
 *   none before the end). So a block that the backward pass crosses holds far more than its
 *   activations. Every block but the first is crossed (the first block's input needs no
 *   gradient); that block, the head and the pixels hold about half a block, which is the floor.
 *
 * Floats kept per token in a crossed block, fitted to `tf.profile()` peaks on the wasm backend
 * (the difference between micro-batch 2 and 1 at L = 3 and 4, so only the blocks remain) at
 * widths 64 to 1280, MLP widths 256 to 3072, 4 to 12 heads and 37 to 197 tokens, each term
 * within 3 % of its own measurements:
 *
 *   (76 + d/128)·d  (+4d when d > 1024)   the residual stream, layer norms, q/k/v, the outputs
 *   9·m             (11·m when m > 1024)  the MLP (a frozen matrix wider than 1024 is split in
 *                                         blocks, clip's BlockedMatrix, whose splits and concats add two)
 *   6·h·T                                 the attention maps and their softmax
 *   7·r (AdaptFormer) or 30·r (SG-Adapter) the adapter's bottleneck
 *
 * Checked end to end at mini-CLIP (d 64, 2 blocks, 37 tokens) and ViT-B/16 (12 blocks, 197
 * tokens) against tf.profile() peaks at micro-batches 1 and 2 in test/engine/memory-model.test.ts.
 * The tensorflow backend runs the same tfjs-core gradient code, so its tensors are the same; what
 * each device adds beyond its tensors is in the budgets below.
 */
import { liftBottleneck, perBlockFormula, type AdapterKind } from './parameters';
import type { RunShape, TowerShapes } from './work';

/** The config's parts the model reads beyond TowerShapes; absent fields take CLIP's values (64-wide heads, 49,408 tokens). */
export type MemoryShapes = TowerShapes & {
  vision: TowerShapes['vision'] & { numHeads?: number };
  text: TowerShapes['text'] & { vocabSize?: number };
};

/** The settings the model reads beyond RunShape (a resolved Settings has them all). */
export type MemoryRun = RunShape & {
  components: RunShape['components'] & { sg?: boolean };
  /** null or absent: LIFT's rule from the classes and blocks. */
  bottleneck?: number | null;
  /** false: the SG-Adapter without W_proj. */
  sgProjection?: boolean;
};

const FLOAT_BYTES = 4;
/** tfjs-backend-wasm 4.22's heap limit: emscripten's getHeapMax(), 4 GiB less 64 KiB. */
export const WASM_HEAP_BYTES = 4_294_901_760;
/** Share of a budget kept free for the allocators' fragmentation. */
const WASM_SLACK = 0.95;
const GPU_SLACK = 0.9;
/** CUDA context, cuDNN and cuBLAS workspaces: outside TensorFlow's tensors, assumed (no GPU measured here). */
export const GPU_RESERVED_BYTES = 2 ** 30;
/** Classes assumed when a caller gives none (the bottleneck grows with them). */
const DEFAULT_CLASSES = 1000;

function tokensOf(shapes: TowerShapes): number {
  return Math.floor(shapes.vision.imageSize / shapes.vision.patchSize) ** 2 + 1;
}

function adapterKind(run: MemoryRun): AdapterKind | null {
  if (run.method === 'zero-shot') return null;
  const sg = run.components.sg ?? run.method === 'sage';
  if (!sg) return 'adaptformer';
  return run.sgProjection === false ? 'sg-no-proj' : 'sg';
}

function bottleneckOf(shapes: TowerShapes, run: MemoryRun, classes: number): number {
  return run.bottleneck ?? liftBottleneck(classes, shapes.vision.numLayers);
}

/** Floats one image keeps per token in a block the backward pass crosses (the fitted terms above). */
function crossedBlockFloatsPerToken(shapes: MemoryShapes, run: MemoryRun, classes: number): number {
  const { hiddenSize: d, intermediateSize: m } = shapes.vision;
  const heads = shapes.vision.numHeads ?? Math.max(1, Math.round(d / 64));
  const tokens = tokensOf(shapes);
  const kind = adapterKind(run);
  const r = kind ? bottleneckOf(shapes, run, classes) : 0;
  const width = (76 + d / 128) * d + (d > 1024 ? 4 * d : 0);
  const mlp = (m > 1024 ? 11 : 9) * m;
  const attention = 6 * heads * tokens;
  const adapter = kind === null ? 0 : (kind === 'adaptformer' ? 7 : 30) * r;
  return width + mlp + attention + adapter;
}

/**
 * Bytes one training image adds to a micro-batch's peak (forward and backward of the vision
 * tower). `classes` sets LIFT's bottleneck when the run does not (default 1,000). 0 for zero-shot.
 */
export function trainingBytesPerImage(shapes: MemoryShapes, run: MemoryRun, classes = DEFAULT_CLASSES): number {
  if (run.method === 'zero-shot') return 0;
  const crossedBlocks = Math.max(shapes.vision.numLayers - 1, 0.5);
  return FLOAT_BYTES * tokensOf(shapes) * crossedBlocks * crossedBlockFloatsPerToken(shapes, run, classes);
}

/** Trainable parameters: adapters in every block, the classifier W (C·d), FIT's s1 and s2. */
export function trainableParameters(shapes: TowerShapes, run: MemoryRun, classes: number): number {
  const kind = adapterKind(run);
  if (kind === null) return 0;
  const { hiddenSize: d, numLayers } = shapes.vision;
  const fit = run.components.fit ? 2 : 0;
  return numLayers * perBlockFormula(kind, d, bottleneckOf(shapes, run, classes)) + classes * d + fit;
}

/** The frozen linear layers' weights of each tower, in floats (what the matMuls read). */
export function frozenMatrixFloats(shapes: TowerShapes): { vision: number; text: number } {
  const { vision, text } = shapes;
  const block = (d: number, m: number) => 4 * d * d + 2 * d * m;
  const patch = 3 * vision.patchSize ** 2 * vision.hiddenSize;
  return {
    vision: vision.numLayers * block(vision.hiddenSize, vision.intermediateSize) + patch + vision.hiddenSize * shapes.projectionDim,
    text: text.numLayers * block(text.hiddenSize, text.intermediateSize) + text.hiddenSize * shapes.projectionDim,
  };
}

/**
 * Bytes a training run holds whatever its micro-batch: the frozen weights (vision linear layers
 * as W and Wᵀ, text once, embeddings, norms and biases), W^zs `[C, d]` and the text embeddings
 * `[C, p]`, a step's cosine heads (fitted to the intercept of the peaks at C = 100 to 4,000), and
 * five copies of the trainable parameters (variables, momentum, the gradient sums, a
 * micro-batch's gradients and their sum being formed).
 */
export function fixedTrainingBytes(shapes: MemoryShapes, run: MemoryRun, classes: number): number {
  const { vision, text } = shapes;
  const matrices = frozenMatrixFloats(shapes);
  const tokens = tokensOf(shapes);
  const vocab = text.vocabSize ?? 49_408;
  const visionVectors = tokens * vision.hiddenSize + vision.numLayers * (9 * vision.hiddenSize + vision.intermediateSize) + 5 * vision.hiddenSize;
  const textVectors = (vocab + text.maxPositionEmbeddings) * text.hiddenSize + text.numLayers * (9 * text.hiddenSize + text.intermediateSize) + 2 * text.hiddenSize;
  const heads = classes * (vision.hiddenSize + shapes.projectionDim);
  // A step's cosine heads: the normalised classifier and its gradients, four `[C, d]` copies, 24 with FIT's three heads and the SG guidance.
  const headWorkspace = run.method === 'zero-shot' ? 0 : (run.components.fit ? 24 : 4) * classes * vision.hiddenSize;
  const floats = 2 * matrices.vision + visionVectors + matrices.text + textVectors + heads + headWorkspace + 5 * trainableParameters(shapes, run, classes);
  return FLOAT_BYTES * floats;
}

/**
 * The largest micro-batch whose peak fits in `freeBytes`, the memory the run may use in all
 * (its weights included: a budget from wasmTrainingBudget or gpuTrainingBudget). 0 when even one
 * image does not fit. Not capped by the batch size; the caller takes the smaller.
 */
export function fitMicroBatch(shapes: MemoryShapes, run: MemoryRun, classes: number, freeBytes: number): number {
  const perImage = trainingBytesPerImage(shapes, run, classes);
  const room = freeBytes - fixedTrainingBytes(shapes, run, classes);
  if (room <= 0) return 0;
  if (perImage === 0) return Number.MAX_SAFE_INTEGER;
  return Math.floor(room / perImage);
}

/**
 * Bytes one image crop adds to an evaluation pass (no gradient tape): the vision tower frees each
 * block's intermediates when the block ends, so a pass holds about one block's forward tensors
 * whatever the depth, measured at 0.56 of a crossed block's training bytes (tf.profile() at L = 2
 * to 12, LIFT and Sage alike: FIT's frozen pass runs after the adapted one, not beside it).
 */
export function inferenceBytesPerCrop(shapes: MemoryShapes, run: MemoryRun, classes = DEFAULT_CLASSES): number {
  return 0.56 * FLOAT_BYTES * tokensOf(shapes) * crossedBlockFloatsPerToken(shapes, run, classes);
}

/**
 * The most images an evaluation pass may take with `crops` crops each (5 with TTE) in half the
 * room `freeBytes` leaves (a budget as for fitMicroBatch); at least 1, so a run that trained can
 * evaluate. Half: a pass's tensors are few and large (an MLP activation of 45 ViT-B/16 crops is
 * 109 MB) and the heap after training is fragmented (measured on wasm: 45 crops, within the
 * whole room, aborted the module after training; a few dozen crops a pass already run at full rate).
 */
export function fitEvaluationBatch(shapes: MemoryShapes, run: MemoryRun, classes: number, freeBytes: number, crops: number): number {
  const room = 0.5 * (freeBytes - fixedTrainingBytes(shapes, run, classes));
  return Math.max(1, Math.floor(room / (inferenceBytesPerCrop(shapes, run, classes) * crops)));
}

/**
 * What the wasm backend's 4 GiB heap holds for tensors: XNNPACK keeps a packed copy of every
 * matrix a matMul multiplies by (measured: the heap stands about 690 MiB above the tensors'
 * peak at ViT-B/16, whose vision matrices as W and Wᵀ are 648 MiB), and 5 % goes to the
 * allocator's fragmentation. A run on wasm cannot recover from running out (the module aborts).
 */
export function wasmTrainingBudget(shapes: TowerShapes): number {
  const matrices = frozenMatrixFloats(shapes);
  return WASM_SLACK * (WASM_HEAP_BYTES - FLOAT_BYTES * (2 * matrices.vision + matrices.text));
}

/**
 * What a GPU holds for TensorFlow's tensors: 90 % of its memory not used by other processes
 * (the BFC allocator's fragmentation) less GPU_RESERVED_BYTES for the CUDA context and the
 * cuDNN / cuBLAS workspaces. `totalBytes` from nvidia-smi or the GPU table's memoryGiB.
 */
export function gpuTrainingBudget(totalBytes: number, usedBytes = 0): number {
  return Math.max(0, GPU_SLACK * (totalBytes - usedBytes) - GPU_RESERVED_BYTES);
}
