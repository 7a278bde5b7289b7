/**
 * The metrics document a training run writes (`metrics.json`) and everything downstream
 * reads: the aggregation Lambda, the report, the CLI. Versioned; validated on read.
 */
import { z } from 'zod';
import { KeepMetric, KeepRule } from './settings';

export const METRICS_VERSION = 1 as const;

export const ShotGroup = z.enum(['head', 'medium', 'tail']);
export type ShotGroup = z.infer<typeof ShotGroup>;

export const ClassMetrics = z.object({
  index: z.number().int().nonnegative(),
  name: z.string(),
  trainCount: z.number().int().nonnegative(),
  testCount: z.number().int().nonnegative(),
  /** Top-1 accuracy over this class's test images, in [0, 1]; null when it has none. */
  accuracy: z.number().min(0).max(1).nullable(),
  group: ShotGroup,
});
export type ClassMetrics = z.infer<typeof ClassMetrics>;

/** Accuracies in [0, 1]. A group with no classes is null. */
export const Accuracies = z.object({
  all: z.number().min(0).max(1),
  head: z.number().min(0).max(1).nullable(),
  medium: z.number().min(0).max(1).nullable(),
  tail: z.number().min(0).max(1).nullable(),
  /** Share of test images whose label is among the five highest logits (1 with fewer than 5 classes); added within version 1. */
  top5: z.number().min(0).max(1).optional(),
});
export type Accuracies = z.infer<typeof Accuracies>;

/** The split an evaluation during training ran on: the manifest's held-out `val` when it has one, else `test`. */
export const EvalSplit = z.enum(['test', 'val']);
export type EvalSplit = z.infer<typeof EvalSplit>;

/** One evaluation during training: the split, and the value of the metric `keep: best` compares. */
export const EvaluatedEpoch = z.object({
  /** 1-based epoch after which the weights were evaluated. */
  epoch: z.number().int().positive(),
  split: EvalSplit,
  metric: KeepMetric,
  /** The metric's value in [0, 1] (top-1 over all images when the chosen group has no class). */
  value: z.number().min(0).max(1),
});
export type EvaluatedEpoch = z.infer<typeof EvaluatedEpoch>;

export const EpochMetrics = z.object({
  epoch: z.number().int().positive(),
  /** Mean training loss over the epoch. */
  loss: z.number(),
  /** Training top-1 over the epoch's batches, in [0, 1]. */
  trainAccuracy: z.number().min(0).max(1),
  learningRate: z.number(),
  seconds: z.number().nonnegative(),
  /** Test top-1 after the epoch when evaluated then on the test split, in [0, 1]. */
  testAccuracy: z.number().min(0).max(1).optional(),
  /** Top-1 on the held-out val split after the epoch, when evaluated then on it; added within version 1. */
  valAccuracy: z.number().min(0).max(1).optional(),
  /** The whole evaluation after the epoch (`evalEvery`): its split and accuracies, top-5 included; added within version 1. */
  evaluation: z.object({ split: EvalSplit, accuracy: Accuracies, seconds: z.number().nonnegative() }).optional(),
});
export type EpochMetrics = z.infer<typeof EpochMetrics>;

export const ParameterReport = z.object({
  adapters: z.number().int().nonnegative(),
  classifier: z.number().int().nonnegative(),
  fitScalars: z.number().int().nonnegative(),
  total: z.number().int().nonnegative(),
  /** Per-block adapter count, for checking against SPEC's formulas. */
  perBlock: z.number().int().nonnegative(),
  bottleneck: z.number().int().nonnegative(),
});
export type ParameterReport = z.infer<typeof ParameterReport>;

/**
 * The training loss grew by an order of magnitude while staying finite (src/engine/train.ts,
 * docs/engine.md "Divergence"): the first step at which the smoothed step loss exceeded
 * `factor` × the reference (the loss of the run's first step, the untrained model).
 */
export const DivergenceFlag = z.object({
  /** 1-based epoch and step (within the epoch) at which the rule first held. */
  epoch: z.number().int().positive(),
  step: z.number().int().positive(),
  /** The smoothed step loss at that step. */
  loss: z.number(),
  /** The mean loss of the run's first step. */
  reference: z.number(),
  /** The threshold: flagged when loss > factor × reference. */
  factor: z.number().positive(),
});
export type DivergenceFlag = z.infer<typeof DivergenceFlag>;


/** Pairs and matrices of the confusion information: a matrix up to this many classes, the top pairs always. */
export const CONFUSION_MATRIX_MAX_CLASSES = 100;
export const CONFUSION_TOP_PAIRS = 20;

/** `count` test images of class `label` were predicted as `predicted` (≠ label). */
export const ConfusedPair = z.object({
  label: z.number().int().nonnegative(),
  predicted: z.number().int().nonnegative(),
  count: z.number().int().positive(),
});
export type ConfusedPair = z.infer<typeof ConfusedPair>;

/** Which classes the test images were mistaken for. */
export const Confusion = z.object({
  /** The most frequent mistakes (label ≠ predicted), most first (ties by label, then predicted), at most CONFUSION_TOP_PAIRS. */
  pairs: z.array(ConfusedPair).max(CONFUSION_TOP_PAIRS),
  /** With at most CONFUSION_MATRIX_MAX_CLASSES classes: `matrix[label][predicted]`, counts of test images. */
  matrix: z.array(z.array(z.number().int().nonnegative())).optional(),
});
export type Confusion = z.infer<typeof Confusion>;

/**
 * Whose weights the document's evaluation (accuracy, perClass, confusion) measured: the last
 * epoch's (`rule: last`), or the best evaluated epoch's (`rule: best`, with that evaluation).
 */
export const KeptWeights = z.object({
  rule: KeepRule,
  /** 1-based epoch whose weights were evaluated and saved; 0 for an untrained method (zero-shot). */
  epoch: z.number().int().nonnegative(),
  /** With `rule: best`: the evaluation during training that chose them. */
  best: EvaluatedEpoch.optional(),
});
export type KeptWeights = z.infer<typeof KeptWeights>;

/** The machine a run trained on (added within version 1): the backend, its GPU, the tfjs packages. */
export const DeviceFacts = z.object({
  /** tfjs backend: `tensorflow`, `wasm` or `cpu`. */
  backend: z.string(),
  /** The GPU this process used, as nvidia-smi reported it before TensorFlow loaded; absent without one. */
  gpu: z
    .object({
      name: z.string(),
      memoryMiB: z.number().nonnegative(),
      /** Used by other processes at start. */
      usedMiB: z.number().nonnegative().optional(),
      driver: z.string(),
      /** The image's CUDA runtime (CUDA_VERSION). */
      cuda: z.string().optional(),
      /** GPUs visible on the host. */
      count: z.number().int().positive().optional(),
    })
    .optional(),
  /** Package name → version (tfjs, tfjs-core, tfjs-backend-wasm, tfjs-node-gpu, libtensorflow, ...). */
  tfjs: z.record(z.string(), z.string()),
  /**
   * On wasm, what runs the matrix products (added within version 1): `openblas` through the
   * optional addon (native/gemm) or wasm's own `xnnpack`; `detail` is OpenBLAS's build line or why
   * the addon is not used.
   */
  matmul: z.object({ kernel: z.enum(['openblas', 'xnnpack']), detail: z.string() }).optional(),
});
export type DeviceFacts = z.infer<typeof DeviceFacts>;

/** One halving of the micro-batch after an out-of-memory error (the batch was redone). */
export const MicroBatchBackoffRecord = z.object({
  /** 1-based epoch and step of the batch that ran out. */
  epoch: z.number().int().positive(),
  step: z.number().int().positive(),
  from: z.number().int().positive(),
  to: z.number().int().positive(),
  error: z.string(),
});
export type MicroBatchBackoffRecord = z.infer<typeof MicroBatchBackoffRecord>;

/**
 * How the micro-batch was chosen (added within version 1): `set` by the settings, from the
 * `memory-model` and the device's free memory when microBatchSize is null, or the whole `batch`
 * when the model allows it; `detail` has the figures. `final` is the micro-batch after the back-offs.
 */
export const MicroBatchChoice = z.object({
  chosen: z.number().int().positive(),
  reason: z.enum(['set', 'memory-model', 'batch']),
  detail: z.string(),
  final: z.number().int().positive(),
  backoffs: z.array(MicroBatchBackoffRecord),
});
export type MicroBatchChoice = z.infer<typeof MicroBatchChoice>;

export const MetricsDocument = z.object({
  version: z.literal(METRICS_VERSION),
  runId: z.string(),
  /** Index in the manifest's sweep (0 without a sweep). */
  sweepIndex: z.number().int().nonnegative(),
  /** A label for the method: `zero-shot`, `lift`, `sage` or a component list such as `lift+sg+init`. */
  method: z.string(),
  /** The resolved settings the run used (preset plus overrides). */
  config: z.record(z.string(), z.unknown()),
  dataset: z.object({
    name: z.string(),
    numClasses: z.number().int().positive(),
    trainCount: z.number().int().nonnegative(),
    testCount: z.number().int().nonnegative(),
  }),
  parameters: ParameterReport,
  accuracy: Accuracies,
  perClass: z.array(ClassMetrics),
  epochs: z.array(EpochMetrics),
  /** Present only when training diverged (a finite loss that grew by an order of magnitude); added within version 1. */
  diverged: DivergenceFlag.optional(),
  /** The mistakes on the test split (added within version 1). */
  confusion: Confusion.optional(),
  /** Which epoch's weights `accuracy` and `perClass` are of (added within version 1; absent: the last). */
  kept: KeptWeights.optional(),
  timings: z.object({
    totalSeconds: z.number().nonnegative(),
    trainSeconds: z.number().nonnegative(),
    evalSeconds: z.number().nonnegative(),
    trainImagesPerSecond: z.number().nonnegative(),
  }),
  /** tfjs backend that ran the job: `tensorflow` (node / node-gpu), `wasm` or `cpu`. */
  backend: z.string(),
  /** The backend, GPU and package versions of the attempt that finished (added within version 1). */
  device: DeviceFacts.optional(),
  /** The micro-batch and its back-offs (added within version 1). */
  microBatch: MicroBatchChoice.optional(),
  startedAt: z.string(),
  finishedAt: z.string(),
});
export type MetricsDocument = z.infer<typeof MetricsDocument>;

/** Head / medium / tail by training count, per SPEC: >100, 20..100, <20. */
export function shotGroupOf(trainCount: number): ShotGroup {
  if (trainCount > 100) return 'head';
  if (trainCount >= 20) return 'medium';
  return 'tail';
}
