/**
 * The metrics document a training run writes (`metrics.json`) and everything downstream
 * reads: the aggregation Lambda, the report, the CLI. Versioned; validated on read.
 */
import { z } from 'zod';

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

export const EpochMetrics = z.object({
  epoch: z.number().int().positive(),
  /** Mean training loss over the epoch. */
  loss: z.number(),
  /** Training top-1 over the epoch's batches, in [0, 1]. */
  trainAccuracy: z.number().min(0).max(1),
  learningRate: z.number(),
  seconds: z.number().nonnegative(),
  /** Test top-1 after the epoch when evaluated then, in [0, 1]. */
  testAccuracy: z.number().min(0).max(1).optional(),
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

/** Accuracies in [0, 1]. A group with no classes is null. */
export const Accuracies = z.object({
  all: z.number().min(0).max(1),
  head: z.number().min(0).max(1).nullable(),
  medium: z.number().min(0).max(1).nullable(),
  tail: z.number().min(0).max(1).nullable(),
});
export type Accuracies = z.infer<typeof Accuracies>;

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
  timings: z.object({
    totalSeconds: z.number().nonnegative(),
    trainSeconds: z.number().nonnegative(),
    evalSeconds: z.number().nonnegative(),
    trainImagesPerSecond: z.number().nonnegative(),
  }),
  /** tfjs backend that ran the job: `tensorflow` (node / node-gpu), `wasm` or `cpu`. */
  backend: z.string(),
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
