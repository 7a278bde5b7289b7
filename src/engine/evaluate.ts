/**
 * Evaluation per SPEC: top-1 over all test images, per-class accuracy, and head / medium /
 * tail as the mean per-class accuracy over classes with >100 / 20-100 / <20 training images
 * (`groupCounts` lets CIFAR-100-LT β = 50, 10 reuse the β = 100 split). With five-crop TTE
 * the logits of an image's five crops are averaged. Also: top-k prediction on new images, and
 * the run's MetricsDocument (src/contracts/metrics.ts) from training and evaluation.
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchSource, ImageBatch } from '../contracts/batches';
import {
  CONFUSION_MATRIX_MAX_CLASSES,
  CONFUSION_TOP_PAIRS,
  METRICS_VERSION,
  MetricsDocument,
  shotGroupOf,
  type Accuracies,
  type ClassMetrics,
  type ConfusedPair,
  type Confusion,
  type DeviceFacts,
  type MicroBatchChoice,
  type ShotGroup,
} from '../contracts/metrics';
import { methodLabel, type Settings } from '../contracts/settings';
import { EngineInputError } from './errors';
import { localLogits, type LogitSource } from './logit-source';
import { batchLogits, type SageModel } from './model';
import type { TrainResult } from './train';

export interface EvaluateOptions {
  model: SageModel;
  test: BatchSource;
  /** Training images per class (reported per class; grouping unless groupCounts is given). */
  trainCounts: readonly number[];
  /** Counts that decide head / medium / tail (default trainCounts). */
  groupCounts?: readonly number[];
  /** Five-crop test-time ensemble (default: the model's settings.tte). */
  tte?: boolean;
  /** Images per forward pass (default the settings' micro-batch size). */
  batchSize?: number;
  /** Where each batch's logits come from; default this thread (localLogits). Data-parallel replicas share the batches out. */
  logits?: LogitSource;
}

/** Labels among the highest logits that count as a top-k hit (`accuracy.top5`). */
export const TOP_K = 5;

export interface EvaluationResult {
  accuracy: Accuracies;
  perClass: ClassMetrics[];
  /** The most confused pairs, and the whole matrix of counts up to CONFUSION_MATRIX_MAX_CLASSES classes. */
  confusion: Confusion;
  testCount: number;
  seconds: number;
}

/** Mean per-class accuracy over the classes of a group that have test images; null when none. */
function groupMean(perClass: readonly ClassMetrics[], group: ShotGroup): number | null {
  const values = perClass.filter((c) => c.group === group && c.accuracy !== null).map((c) => c.accuracy as number);
  return values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : null;
}

/**
 * Which classes the images were mistaken for: the CONFUSION_TOP_PAIRS most frequent
 * (label, predicted ≠ label) pairs, most first (ties: lower label, then lower prediction), and
 * with at most CONFUSION_MATRIX_MAX_CLASSES classes the full `[label][predicted]` count matrix.
 */
export function confusionOf(labels: ArrayLike<number>, predictions: ArrayLike<number>, numClasses: number): Confusion {
  const withMatrix = numClasses <= CONFUSION_MATRIX_MAX_CLASSES;
  const matrix = withMatrix ? Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0)) : undefined;
  // Keyed label·C + predicted: only the mistakes that happened, so iNat's 8,142 classes cost no C² table.
  const mistakes = new Map<number, number>();
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    const predicted = predictions[i]!;
    if (matrix) matrix[label]![predicted]! += 1;
    if (predicted !== label) mistakes.set(label * numClasses + predicted, (mistakes.get(label * numClasses + predicted) ?? 0) + 1);
  }
  const pairs: ConfusedPair[] = [...mistakes.entries()]
    .map(([key, count]) => ({ label: Math.floor(key / numClasses), predicted: key % numClasses, count }))
    .sort((a, b) => b.count - a.count || a.label - b.label || a.predicted - b.predicted)
    .slice(0, CONFUSION_TOP_PAIRS);
  return { pairs, ...(matrix ? { matrix } : {}) };
}

/** Accuracies from per-item predictions; exported for tests and for other callers' predictions. */
export function summarizePredictions(parts: {
  labels: ArrayLike<number>;
  predictions: ArrayLike<number>;
  /** Per item 1 when its label is among the TOP_K highest logits, else 0; gives `accuracy.top5`. */
  topKHits?: ArrayLike<number>;
  classNames: readonly string[];
  trainCounts: readonly number[];
  groupCounts?: readonly number[];
}): { accuracy: Accuracies; perClass: ClassMetrics[]; confusion: Confusion } {
  const numClasses = parts.classNames.length;
  const groupCounts = parts.groupCounts ?? parts.trainCounts;
  if (parts.trainCounts.length !== numClasses || groupCounts.length !== numClasses) {
    throw new EngineInputError(`counts have ${parts.trainCounts.length} (train) / ${groupCounts.length} (group) entries; expected one per class (${numClasses})`);
  }
  const total = new Array<number>(numClasses).fill(0);
  const correct = new Array<number>(numClasses).fill(0);
  let allCorrect = 0;
  for (let i = 0; i < parts.labels.length; i++) {
    const label = parts.labels[i]!;
    total[label]! += 1;
    if (parts.predictions[i] === label) {
      correct[label]! += 1;
      allCorrect += 1;
    }
  }
  const perClass: ClassMetrics[] = parts.classNames.map((name, index) => ({
    index,
    name,
    trainCount: parts.trainCounts[index]!,
    testCount: total[index]!,
    accuracy: total[index]! > 0 ? correct[index]! / total[index]! : null,
    group: shotGroupOf(groupCounts[index]!),
  }));
  let topKHits = 0;
  if (parts.topKHits) for (let i = 0; i < parts.topKHits.length; i++) topKHits += parts.topKHits[i]!;
  return {
    accuracy: {
      all: parts.labels.length > 0 ? allCorrect / parts.labels.length : 0,
      head: groupMean(perClass, 'head'),
      medium: groupMean(perClass, 'medium'),
      tail: groupMean(perClass, 'tail'),
      ...(parts.topKHits ? { top5: parts.labels.length > 0 ? topKHits / parts.labels.length : 0 } : {}),
    },
    perClass,
    confusion: confusionOf(parts.labels, parts.predictions, numClasses),
  };
}

export async function evaluate(options: EvaluateOptions): Promise<EvaluationResult> {
  const { model, test } = options;
  const started = performance.now();
  const tte = options.tte ?? model.settings.tte;
  const batchSize = options.batchSize ?? model.settings.microBatchSize ?? model.settings.batchSize;
  const labels: number[] = [];
  const predictions: number[] = [];
  const topKHits: number[] = [];
  // With fewer than TOP_K classes every label is among the k = C highest: top-5 is 1.
  const k = Math.min(TOP_K, model.numClasses);
  const batches = test.batches(0, { batchSize, shuffle: false, seed: model.settings.seed, transform: tte ? 'tte' : 'test' });
  for await (const { batch, logits } of (options.logits ?? localLogits)(model, batches)) {
    // logits: [n, C]
    const [predicted, top] = tf.tidy(() => [tf.argMax(logits, 1), tf.topk(logits, k).indices] as const); // [n], [n, k]
    logits.dispose();
    const [values, topValues] = await Promise.all([predicted.data(), top.data()]);
    tf.dispose([predicted, top]);
    for (let i = 0; i < batch.n; i++) {
      const label = batch.labels[i]!;
      if (label < 0 || label >= model.numClasses) throw new EngineInputError(`test item ${batch.keys[i]} has label ${label}; expected 0..${model.numClasses - 1}`);
      labels.push(label);
      predictions.push(values[i]!);
      let hit = 0;
      for (let j = 0; j < k; j++) if (topValues[i * k + j] === label) hit = 1;
      topKHits.push(hit);
    }
  }
  const summary = summarizePredictions({ labels, predictions, topKHits, classNames: model.classNames, trainCounts: options.trainCounts, groupCounts: options.groupCounts });
  return { ...summary, testCount: labels.length, seconds: (performance.now() - started) / 1000 };
}

export interface ClassScore {
  index: number;
  name: string;
  /** Softmax probability over the classes, from the prediction logits. */
  probability: number;
}

export interface Prediction {
  key: string | null;
  top: ClassScore[];
}

/** CLIP-normalised images `[n·crops, S, S, 3]` (crops 1, or 5 for TTE) → the k best classes of each. */
export async function predict(model: SageModel, images: Pick<ImageBatch, 'images' | 'n' | 'size' | 'crops'> & { keys?: string[] }, options: { k?: number } = {}): Promise<Prediction[]> {
  const size = model.clip.config.vision.imageSize;
  if (images.size !== size || images.images.length !== images.n * images.crops * size * size * 3) {
    throw new EngineInputError(`images hold ${images.images.length} values of size ${images.size}; expected n·crops·${size}·${size}·3 = ${images.n * images.crops * size * size * 3}`);
  }
  const k = Math.min(options.k ?? 5, model.numClasses);
  const { values, indices } = tf.tidy(() => tf.topk(tf.softmax(batchLogits(model, images)), k));
  const [probabilities, classes] = await Promise.all([values.data(), indices.data()]);
  tf.dispose([values, indices]);
  return Array.from({ length: images.n }, (_, item) => ({
    key: images.keys?.[item] ?? null,
    top: Array.from({ length: k }, (_, j) => {
      const index = classes[item * k + j]!;
      return { index, name: model.classNames[index] ?? `#${index}`, probability: probabilities[item * k + j]! };
    }),
  }));
}

export interface MetricsInputs {
  runId: string;
  sweepIndex?: number;
  datasetName: string;
  settings: Settings;
  train: TrainResult;
  evaluation: EvaluationResult;
  backend: string;
  /** Data-parallel replicas the run used (recorded as config.engine.replicas); default 1. */
  replicas?: number;
  /** The backend, GPU and package versions (src/clip/backend.ts deviceFacts). */
  device?: DeviceFacts;
  /** How the micro-batch was chosen and its back-offs (the trainer's automatic micro-batch). */
  microBatch?: MicroBatchChoice;
  startedAt: Date;
  finishedAt: Date;
}

/** The document, validated against the schema (throws a ZodError naming the field when it does not fit). */
export function buildMetricsDocument(inputs: MetricsInputs): MetricsDocument {
  const { train, evaluation, settings } = inputs;
  const trainCount = evaluation.perClass.reduce((a, c) => a + c.trainCount, 0);
  return MetricsDocument.parse({
    version: METRICS_VERSION,
    runId: inputs.runId,
    sweepIndex: inputs.sweepIndex ?? 0,
    method: methodLabel(settings),
    // The engine's own choices travel with the settings, so a reader knows how f^zs was obtained.
    config: { ...settings, engine: { fitZeroShotFeatures: train.zeroShotFeatures, resumedFrom: train.resumedFrom, replicas: inputs.replicas ?? 1 } },
    dataset: { name: inputs.datasetName, numClasses: evaluation.perClass.length, trainCount, testCount: evaluation.testCount },
    parameters: train.parameters,
    accuracy: evaluation.accuracy,
    perClass: evaluation.perClass,
    epochs: train.epochs,
    ...(train.diverged ? { diverged: train.diverged } : {}),
    confusion: evaluation.confusion,
    ...(train.kept ? { kept: train.kept } : {}),
    timings: {
      totalSeconds: Math.max(0, (inputs.finishedAt.getTime() - inputs.startedAt.getTime()) / 1000),
      trainSeconds: train.trainSeconds,
      evalSeconds: evaluation.seconds,
      trainImagesPerSecond: train.trainImagesPerSecond,
    },
    backend: inputs.backend,
    ...(inputs.device ? { device: inputs.device } : {}),
    ...(inputs.microBatch ? { microBatch: inputs.microBatch } : {}),
    startedAt: inputs.startedAt.toISOString(),
    finishedAt: inputs.finishedAt.toISOString(),
  });
}
