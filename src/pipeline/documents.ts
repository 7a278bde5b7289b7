/**
 * The pipeline's own bookkeeping documents in the results bucket (layout in
 * src/contracts/layout.ts): the claim of one upload and the record of one run.
 */
import { z } from 'zod';
import { ObjectNotFoundError, type ObjectStore } from '../storage';
import { PipelineDocumentError } from './errors';

/**
 * `claims/<name>/<etag>.json`. Written with If-None-Match so one upload is handled once;
 * `claimed` while the handler works, then `submitted` or `rejected`.
 */
export const UploadClaim = z.object({
  state: z.enum(['claimed', 'submitted', 'rejected']),
  manifestUri: z.string(),
  etag: z.string(),
  claimedAt: z.string(),
  /** Who holds the claim (a Lambda request id), for logs. */
  owner: z.string().optional(),
  runId: z.string().optional(),
  jobId: z.string().optional(),
  rejectionUri: z.string().optional(),
});
export type UploadClaim = z.infer<typeof UploadClaim>;

export const RunEntry = z.object({
  sweepIndex: z.number().int().nonnegative(),
  method: z.string(),
  overrides: z.record(z.string(), z.unknown()),
});
export type RunEntry = z.infer<typeof RunEntry>;

/** `runs/<runId>/run.json`: what the aggregation step needs to find the run's manifest and rows. */
export const RunRecord = z.object({
  version: z.literal(1),
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
});
export type RunRecord = z.infer<typeof RunRecord>;

/** `runs/<runId>/<index>/status.json`: how one run (or sweep child) ended. */
export const RunStatusDocument = z.object({
  runId: z.string(),
  sweepIndex: z.number().int().nonnegative(),
  status: z.enum(['SUCCEEDED', 'FAILED']),
  jobId: z.string(),
  reason: z.string().optional(),
  finishedAt: z.string(),
});
export type RunStatusDocument = z.infer<typeof RunStatusDocument>;

export interface StoredDocument<T> {
  value: T;
  etag: string;
}

/** Reads and validates a JSON document; null when it does not exist. */
export async function readDocument<T>(store: ObjectStore, uri: string, schema: z.ZodType<T>): Promise<StoredDocument<T> | null> {
  const info = await store.head(uri);
  if (!info) return null;
  let text: string;
  try {
    text = await store.getText(uri);
  } catch (error) {
    // Deleted between head and get.
    if (error instanceof ObjectNotFoundError) return null;
    throw error;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new PipelineDocumentError(uri, 'expected a JSON document, found text that does not parse', { cause: error });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new PipelineDocumentError(uri, `unexpected shape at "${first?.path.join('.') ?? ''}": ${first?.message ?? 'invalid'}`, { cause: parsed.error });
  }
  return { value: parsed.data, etag: info.etag };
}

export function toJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
