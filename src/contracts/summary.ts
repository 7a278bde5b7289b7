/**
 * The per-manifest summary the aggregation step maintains in the results bucket
 * (`summaries/<name>/summary.json`): one row per run and sweep child, whatever its end.
 */
import { z } from 'zod';
import { Accuracies, ParameterReport } from './metrics';

export const SUMMARY_VERSION = 1 as const;

export const RunStatus = z.enum(['SUBMITTED', 'RUNNING', 'SUCCEEDED', 'FAILED']);
export type RunStatus = z.infer<typeof RunStatus>;

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
