/**
 * The pipeline's own bookkeeping documents in the results bucket (keys in layout.ts), one
 * zod schema each, parsed on every read. Each carries a `version`; documents written before
 * the field existed read as version 1.
 *
 *   claims/<name>/<etag>.json         UploadClaim: one upload handled once
 *   runs/<runId>/run.json             RunRecord: what the aggregation step needs to find a run
 *   runs/<runId>/<index>/status.json  RunStatusDocument: how one run (or sweep child) ended
 *   rejections/<name>/<etag>.json     RejectionReport: every problem of a refused manifest
 */
import { z } from 'zod';

const version1 = z.literal(1).default(1);

/**
 * `claims/<name>/<etag>.json`, written with If-None-Match so one upload is handled once
 * (the shape of Powertools' idempotency record). `claimed` while a handler works on it, until
 * `expiresAt` (the handler's own deadline); then `submitted` or `rejected`. The run id is
 * drawn once, when the upload is first claimed, so a handler that takes over a dead one's
 * claim submits under the same run id and job name and can find the job it may have submitted.
 */
export const UploadClaim = z.object({
  version: version1,
  state: z.enum(['claimed', 'submitted', 'rejected']),
  manifestUri: z.string(),
  etag: z.string(),
  claimedAt: z.string(),
  /** End of the holder's lease (ISO): after it, a `claimed` claim belongs to a handler that died. */
  expiresAt: z.string().optional(),
  /** Who holds the claim (a Lambda request id), for logs. */
  owner: z.string().optional(),
  runId: z.string().optional(),
  jobName: z.string().optional(),
  jobId: z.string().optional(),
  rejectionUri: z.string().optional(),
  /** When it became submitted or rejected. */
  completedAt: z.string().optional(),
});
export type UploadClaim = z.infer<typeof UploadClaim>;

export const RunEntry = z.object({
  sweepIndex: z.number().int().nonnegative(),
  method: z.string(),
  overrides: z.record(z.string(), z.unknown()),
});
export type RunEntry = z.infer<typeof RunEntry>;

/** The estimate as a run record or rejection report stores it (src/estimate/sweep.ts storedEstimate). */
export const StoredEstimateSchema = z.object({
  attempts: z.number().int().positive(),
  fits: z.boolean(),
  totals: z.object({ hours: z.number(), onDemandUsd: z.number(), spotUsd: z.number() }),
  entries: z.array(
    z.object({
      sweepIndex: z.number().int().nonnegative(),
      method: z.string(),
      flops: z.number().nonnegative(),
      byInstance: z.array(z.object({ instanceType: z.string(), gpu: z.string(), hours: z.number(), onDemandUsd: z.number(), spotUsd: z.number(), attempts: z.number().int(), microBatch: z.number().int().optional() })),
    }),
  ),
});

/** `runs/<runId>/run.json`: what the aggregation step needs to find the run's manifest and rows. */
export const RunRecord = z.object({
  version: z.literal(1),
  /** Training (the default, also for records written before the field) or inference. */
  kind: z.enum(['train', 'predict']).optional(),
  runId: z.string(),
  manifestName: z.string(),
  manifestUri: z.string(),
  manifestEtag: z.string(),
  jobName: z.string(),
  /** Absent until the submitter answered. */
  jobId: z.string().optional(),
  arraySize: z.number().int().positive(),
  resultsUri: z.string(),
  checkpointUri: z.string(),
  submittedAt: z.string(),
  entries: z.array(RunEntry),
  /** The job's environment, as submitted. */
  env: z.record(z.string(), z.string()),
  /** What validation estimated (absent when the function had no budget or a count was unknown). */
  estimate: StoredEstimateSchema.optional(),
  /** An inference run: the images it labels. */
  images: z.number().int().nonnegative().optional(),
});
export type RunRecord = z.infer<typeof RunRecord>;

/** `runs/<runId>/<index>/status.json`: how one run (or sweep child) ended. */
export const RunStatusDocument = z.object({
  version: version1,
  runId: z.string(),
  sweepIndex: z.number().int().nonnegative(),
  status: z.enum(['SUCCEEDED', 'FAILED']),
  jobId: z.string(),
  reason: z.string().optional(),
  finishedAt: z.string(),
});
export type RunStatusDocument = z.infer<typeof RunStatusDocument>;

/** One problem, as the manifest validator reports it (src/manifest/schema.ts ManifestProblem). */
export const ReportedProblem = z.object({
  path: z.string(),
  message: z.string(),
  line: z.number().int().optional(),
  column: z.number().int().optional(),
  code: z.string().optional(),
});

/** `rejections/<name>/<etag>.json`: the validation verdict on a refused manifest. */
export const RejectionReport = z.object({
  version: z.literal(1),
  manifestUri: z.string(),
  manifestName: z.string(),
  etag: z.string(),
  rejectedAt: z.string(),
  problemCount: z.number().int().nonnegative(),
  problems: z.array(ReportedProblem),
  /** The estimate, when the manifest got far enough to have one (a run that cannot fit its budget is refused with it). */
  estimate: StoredEstimateSchema.optional(),
});
export type RejectionReport = z.infer<typeof RejectionReport>;
