/**
 * The two EventBridge events the pipeline reacts to, checked at the boundary and reduced
 * to what the cores need. Shapes: S3 "Object Created" (EventBridge delivery) and AWS Batch
 * "Batch Job State Change" (the job's DescribeJobs description as `detail`).
 */
import type { EventBridgeEvent, S3ObjectCreatedNotificationEventDetail } from 'aws-lambda';
import { z } from 'zod';
import { JOB_ENV } from '../contracts/job';
import { PipelineEventShapeError } from './errors';
import type { ManifestUpload } from './process-manifest-upload';

export type S3ObjectCreatedEvent = EventBridgeEvent<'Object Created', S3ObjectCreatedNotificationEventDetail>;

const S3ObjectCreatedDetail = z.object({
  bucket: z.object({ name: z.string().min(1) }),
  // AWS sends `etag`; moto 5.2 sends `eTag`. Accept either so tests see the emulator's real event.
  object: z
    .object({ key: z.string().min(1), etag: z.string().min(1).optional(), eTag: z.string().min(1).optional(), size: z.number().nonnegative().optional() })
    .refine((object) => object.etag !== undefined || object.eTag !== undefined, { message: 'expected an etag, found none', path: ['etag'] }),
});

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `detail.${issue.path.join('.')}: ${issue.message}`).join('; ');
}

/** The bucket and upload of an S3 Object Created event. */
export function manifestUploadFromEvent(event: { 'detail-type'?: string; detail?: unknown }): { bucket: string; upload: ManifestUpload } {
  if (event['detail-type'] !== 'Object Created') {
    throw new PipelineEventShapeError(`expected an S3 "Object Created" event, got detail-type "${String(event['detail-type'])}"`);
  }
  const parsed = S3ObjectCreatedDetail.safeParse(event.detail);
  if (!parsed.success) throw new PipelineEventShapeError(`S3 Object Created event: ${describeIssues(parsed.error)}`);
  const { bucket, object } = parsed.data;
  return { bucket: bucket.name, upload: { key: object.key, etag: (object.etag ?? object.eTag)!, ...(object.size !== undefined ? { size: object.size } : {}) } };
}

const KeyValue = z.object({ name: z.string(), value: z.string().optional() });
const ContainerDetail = z.object({
  environment: z.array(KeyValue).optional(),
  reason: z.string().optional(),
  exitCode: z.number().optional(),
  logStreamName: z.string().optional(),
});

/** The parts of a Batch job description the aggregation step reads. */
export const BatchJobDetail = z.object({
  jobId: z.string().min(1),
  jobName: z.string().optional(),
  jobQueue: z.string().optional(),
  status: z.string(),
  statusReason: z.string().optional(),
  stoppedAt: z.number().optional(),
  container: ContainerDetail.optional(),
  attempts: z.array(z.object({ container: ContainerDetail.optional(), statusReason: z.string().optional() })).optional(),
  arrayProperties: z.object({ size: z.number().int().optional(), index: z.number().int().optional() }).optional(),
});
export type BatchJobDetail = z.infer<typeof BatchJobDetail>;

export type BatchJobStateChangeEvent = EventBridgeEvent<'Batch Job State Change', BatchJobDetail>;

/** Whether the event is about one job, an array job's child, or an array job's parent. */
export type JobRole = { kind: 'single'; sweepIndex: number } | { kind: 'child'; sweepIndex: number } | { kind: 'parent'; arraySize: number };

export interface JobStateChange {
  jobId: string;
  jobName?: string;
  status: string;
  /** The run, from the job's SAGE_RUN_ID; absent for jobs this pipeline did not submit. */
  runId?: string;
  role: JobRole;
  /** Everything Batch says about why the job ended, joined: status reason, container reason, exit code. */
  reason?: string;
  /** When the job stopped (ISO), from stoppedAt or else the event time. */
  finishedAt: string;
  /** When the event happened (ISO): orders state changes that arrive out of order. Default finishedAt. */
  at?: string;
  /** Attempts the job has finished so far (Batch's attempts list), when Batch says. */
  attemptsDone?: number;
}

function failureReason(detail: BatchJobDetail): string | undefined {
  const lastAttempt = detail.attempts?.at(-1);
  const container = detail.container ?? lastAttempt?.container;
  const parts = [
    detail.statusReason,
    container?.reason ?? lastAttempt?.statusReason,
    container?.exitCode !== undefined ? `exit code ${container.exitCode}` : undefined,
  ].filter((part): part is string => typeof part === 'string' && part.length > 0);
  return parts.length > 0 ? [...new Set(parts)].join('; ') : undefined;
}

function roleOf(detail: BatchJobDetail, env: Map<string, string>): JobRole {
  const array = detail.arrayProperties;
  if (array?.index !== undefined) return { kind: 'child', sweepIndex: array.index };
  if (array?.size !== undefined) return { kind: 'parent', arraySize: array.size };
  const index = Number(env.get(JOB_ENV.sweepIndex) ?? '0');
  return { kind: 'single', sweepIndex: Number.isInteger(index) && index >= 0 ? index : 0 };
}

/** Reduces a Batch Job State Change event to what the aggregation step needs. */
export function jobStateChangeFromEvent(event: { 'detail-type'?: string; time?: string; detail?: unknown }): JobStateChange {
  if (event['detail-type'] !== 'Batch Job State Change') {
    throw new PipelineEventShapeError(`expected a "Batch Job State Change" event, got detail-type "${String(event['detail-type'])}"`);
  }
  const parsed = BatchJobDetail.safeParse(event.detail);
  if (!parsed.success) throw new PipelineEventShapeError(`Batch Job State Change event: ${describeIssues(parsed.error)}`);
  const detail = parsed.data;
  const env = new Map((detail.container?.environment ?? []).map(({ name, value }) => [name, value ?? '']));
  const runId = env.get(JOB_ENV.runId) || undefined;
  const reason = failureReason(detail);
  const finishedAt = detail.stoppedAt !== undefined ? new Date(detail.stoppedAt).toISOString() : (event.time ?? new Date(0).toISOString());
  return {
    jobId: detail.jobId,
    ...(detail.jobName ? { jobName: detail.jobName } : {}),
    status: detail.status,
    ...(runId ? { runId } : {}),
    role: roleOf(detail, env),
    ...(reason ? { reason } : {}),
    finishedAt,
    ...(event.time ? { at: new Date(event.time).toISOString() } : {}),
    ...(detail.attempts ? { attemptsDone: detail.attempts.length } : {}),
  };
}
