/**
 * One line of a run's `log.jsonl` (RUN_FILES.log): the schema the trainer parses each line
 * with when it reopens the log on resume, so a line of another shape is dropped, never taken
 * for a record. Lines carry no version of their own: the log is rewritten whole by the run
 * that owns it, and a line this version cannot read is left out like a torn one.
 */
import { z } from 'zod';
import { EpochMetrics } from './metrics';

export const TRAINING_WARNING_KINDS = ['diverged', 'checkpoint-unusable', 'checkpoint-fresh-start', 'checkpoint-stale-files', 'out-of-memory'] as const;
/** Kinds of warning the engine emits (the log's `kind`). */
export type TrainingWarningKind = (typeof TRAINING_WARNING_KINDS)[number];

export const TrainingLogRecord = z.union([
  z.object({ type: z.literal('step'), epoch: z.number(), step: z.number(), loss: z.number(), accuracy: z.number(), learningRate: z.number(), imagesPerSecond: z.number(), seconds: z.number(), time: z.string() }),
  z.object({ type: z.literal('epoch'), time: z.string() }).and(EpochMetrics),
  /** Training continued from a checkpoint at this 0-based epoch and step; later step records of the same position replace earlier ones. */
  z.object({ type: z.literal('resume'), epoch: z.number(), step: z.number(), generation: z.enum(['latest', 'previous']), time: z.string() }),
  z.object({ type: z.literal('warning'), kind: z.enum(TRAINING_WARNING_KINDS), message: z.string(), time: z.string(), details: z.record(z.string(), z.unknown()).optional() }),
  /** The micro-batch an attempt starts with (the trainer's automatic choice, or the setting) and why. */
  z.object({ type: z.literal('micro-batch'), microBatch: z.number(), reason: z.enum(['set', 'memory-model', 'batch']), detail: z.string(), time: z.string() }),
]);
export type TrainingLogRecord = z.infer<typeof TrainingLogRecord>;
