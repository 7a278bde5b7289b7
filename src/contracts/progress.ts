/**
 * `runs/<runId>/<sweepIndex>/progress.json`: where a training child stands, written by the
 * trainer at each checkpoint so that the summary can show a run between its attempts (a spot
 * reclaim, a "to be continued" exit) with its epoch and step.
 */
import { z } from 'zod';

export const TrainingProgress = z.object({
  version: z.literal(1),
  runId: z.string(),
  sweepIndex: z.number().int().nonnegative(),
  /** Completed epochs (0-based epoch in progress) and steps done within it. */
  epoch: z.number().int().nonnegative(),
  epochs: z.number().int().positive(),
  step: z.number().int().nonnegative(),
  stepsPerEpoch: z.number().int().nonnegative(),
  /** 1-based attempt of the job that wrote it (AWS_BATCH_JOB_ATTEMPT), when known. */
  attempt: z.number().int().positive().optional(),
  updatedAt: z.string(),
});
export type TrainingProgress = z.infer<typeof TrainingProgress>;
