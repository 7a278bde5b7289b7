/**
 * The per-manifest summary the aggregation step maintains in the results bucket
 * (`summaries/<name>/summary.json`): one row per run and sweep child, whatever its end.
 */
import { z } from 'zod';
import { Accuracies, ParameterReport } from './metrics';

export const SUMMARY_VERSION = 1 as const;

/**
 * A row's state, from Batch's job states: SUBMITTED (and PENDING) → SUBMITTED, RUNNABLE and
 * STARTING → RUNNABLE (waiting for or starting on an instance, as between the attempts of a
 * spot-reclaimed or "to be continued" job), RUNNING, then SUCCEEDED or FAILED.
 */
export const RunStatus = z.enum(['SUBMITTED', 'RUNNABLE', 'RUNNING', 'SUCCEEDED', 'FAILED']);
export type RunStatus = z.infer<typeof RunStatus>;

/** Batch's job status as a row status, or undefined for a status the summary does not show. */
export function rowStatusOf(batchStatus: string): RunStatus | undefined {
  switch (batchStatus) {
    case 'SUBMITTED':
    case 'PENDING':
      return 'SUBMITTED';
    case 'RUNNABLE':
    case 'STARTING':
      return 'RUNNABLE';
    case 'RUNNING':
    case 'SUCCEEDED':
    case 'FAILED':
      return batchStatus;
    default:
      return undefined;
  }
}

/** Where a running child stands, from the trainer's progress.json (src/contracts/progress.ts). */
export const RowProgress = z.object({
  epoch: z.number().int().nonnegative(),
  epochs: z.number().int().positive(),
  step: z.number().int().nonnegative(),
  stepsPerEpoch: z.number().int().nonnegative(),
  updatedAt: z.string(),
});
export type RowProgress = z.infer<typeof RowProgress>;

export const SummaryRow = z.object({
  runId: z.string(),
  sweepIndex: z.number().int().nonnegative(),
  status: RunStatus,
  /** Method label, e.g. `sage`, `lift`, `zero-shot`. */
  method: z.string(),
  /** The sweep entry's overrides, for the table. */
  overrides: z.record(z.string(), z.unknown()),
  jobId: z.string().optional(),
  /** Why it failed (Batch statusReason / container reason), when FAILED. */
  reason: z.string().optional(),
  /** Results-bucket key of metrics.json when SUCCEEDED. */
  metricsKey: z.string().optional(),
  accuracy: Accuracies.optional(),
  parameters: ParameterReport.optional(),
  submittedAt: z.string().optional(),
  finishedAt: z.string().optional(),
  /** Time of the Batch event the status came from: a late event never overwrites a newer one. */
  statusAt: z.string().optional(),
  /** The last checkpointed position while the run is not finished. */
  progress: RowProgress.optional(),
  /** What validation estimated for this run on the slowest instance type the queue may pick (absent without a budget). */
  estimate: z.object({ instanceType: z.string(), gpu: z.string(), hours: z.number().nonnegative(), onDemandUsd: z.number().nonnegative(), spotUsd: z.number().nonnegative() }).optional(),
  /** An inference slice that ended: its images labelled and skipped, and its summary document's key. */
  predictions: z.object({ images: z.number().int().nonnegative(), skipped: z.number().int().nonnegative(), summaryKey: z.string() }).optional(),
});
export type SummaryRow = z.infer<typeof SummaryRow>;

export const Summary = z.object({
  version: z.literal(SUMMARY_VERSION),
  manifestName: z.string(),
  updatedAt: z.string(),
  /** Sorted by (submittedAt, runId, sweepIndex); one row per (runId, sweepIndex). */
  rows: z.array(SummaryRow),
});
export type Summary = z.infer<typeof Summary>;
