/**
 * Test doubles for the pipeline cores: an in-memory ObjectStore whose conditional writes
 * are atomic (as S3's are), a submitter that records jobs, a fixed clock, counted run ids,
 * and a small valid dataset (placeholder images, weights, manifest) in the "data bucket".
 */
import type { Context } from 'aws-lambda';
import type { MetricsDocument } from '../../src/contracts/metrics';
import type { Manifest } from '../../src/manifest';
import type { JobSubmission, JobSubmitter, SubmittedJob } from '../../src/pipeline/job-submitter';
import { StructuredLog } from '../../src/pipeline/log';
import { MemoryObjectStore } from '../../src/storage/memory';
import { tinyClipFiles } from '../helpers/tiny-clip';

export { MemoryObjectStore };

export class RecordingSubmitter implements JobSubmitter {
  readonly jobs: JobSubmission[] = [];
  failNext = 0;
  /** Batch takes the next job but its answer is lost (a time-out): the caller sees an error. */
  loseAnswerNext = 0;
  async submit(job: JobSubmission): Promise<SubmittedJob> {
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('SubmitJob throttled');
    }
    this.jobs.push(job);
    if (this.loseAnswerNext > 0) {
      this.loseAnswerNext -= 1;
      throw new Error('SubmitJob timed out');
    }
    return { jobId: `job-${this.jobs.length}` };
  }
  async find(name: string): Promise<SubmittedJob | undefined> {
    const index = this.jobs.findIndex((job) => job.name === name);
    return index >= 0 ? { jobId: `job-${index + 1}` } : undefined;
  }
}

export const LOCATIONS = { data: 's3://data', results: 's3://results', artifacts: 's3://artifacts' } as const;

export function fixedClock(iso = '2026-11-29T10:00:00.000Z'): { now: () => Date; set(iso: string): void; advance(ms: number): void } {
  let current = new Date(iso);
  return {
    now: () => new Date(current),
    set: (next: string) => (current = new Date(next)),
    advance: (ms: number) => (current = new Date(current.getTime() + ms)),
  };
}

export function countingIds(): { runId: () => string } {
  let n = 0;
  return { runId: () => `run-${++n}` };
}

export const CLASSES = ['apple', 'bicycle', 'cloud'];
export const TRAIN_COUNTS = [4, 2, 1];

/** Writes placeholder images and weights under s3://data and returns a manifest that validates. */
export async function writeDataset(store: MemoryObjectStore, overrides: Partial<Manifest> = {}): Promise<Manifest> {
  const train = CLASSES.flatMap((name, label) => Array.from({ length: TRAIN_COUNTS[label]! }, (_, i) => ({ path: `train/${name}/${i}.png`, label })));
  const test = CLASSES.map((name, label) => ({ path: `test/${name}/0.png`, label }));
  for (const item of [...train, ...test]) await store.put(`s3://data/images/${item.path}`, 'png');
  const clip = tinyClipFiles();
  await store.put('s3://artifacts/weights/tiny/config.json', clip.config);
  await store.put('s3://artifacts/weights/tiny/model.safetensors', clip.model);
  return {
    version: 1,
    name: 'tiny-lt',
    classes: CLASSES,
    images: 's3://data/images/',
    train: { items: train },
    test: { items: test },
    weights: 's3://artifacts/weights/tiny/',
    training: { method: 'sage', epochs: 1 },
    ...overrides,
  };
}

/** Uploads a manifest as the user would; returns the key and etag an S3 event would carry. */
export async function uploadManifest(store: MemoryObjectStore, name: string, body: unknown): Promise<{ key: string; etag: string }> {
  const key = `manifests/${name}.json`;
  const etag = await store.put(`s3://data/${key}`, typeof body === 'string' ? body : JSON.stringify(body, null, 2));
  return { key, etag };
}

export function lambdaContext(requestId = 'request-1'): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'test-function',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:test-function',
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: '/aws/lambda/test-function',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => 60_000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** The EventBridge "Object Created" event S3 sends for an upload (shape from the S3 docs). */
export function objectCreatedEvent(bucket: string, key: string, etag: string, size = 100) {
  return {
    version: '0',
    id: `event-${key}-${etag}`,
    'detail-type': 'Object Created' as const,
    source: 'aws.s3',
    account: '123456789012',
    time: '2026-11-29T10:00:00Z',
    region: 'us-east-1',
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0' as const,
      bucket: { name: bucket },
      object: { key, size, etag: etag.replace(/"/g, ''), 'version-id': 'null', sequencer: '0061' },
      'request-id': 'R',
      requester: '123456789012',
      'source-ip-address': '1.2.3.4',
      reason: 'PutObject' as const,
    },
  };
}

export interface BatchEventOptions {
  jobId: string;
  status: 'SUCCEEDED' | 'FAILED' | 'RUNNING';
  env: Record<string, string>;
  arrayProperties?: { size?: number; index?: number };
  statusReason?: string;
  container?: { reason?: string; exitCode?: number };
  stoppedAt?: number;
}

/** The EventBridge "Batch Job State Change" event (detail = the job's description, as in the Batch docs). */
export function batchStateChangeEvent(options: BatchEventOptions) {
  return {
    version: '0',
    id: `event-${options.jobId}-${options.status}`,
    'detail-type': 'Batch Job State Change' as const,
    source: 'aws.batch',
    account: '123456789012',
    time: '2026-11-29T11:00:00Z',
    region: 'us-east-1',
    resources: [`arn:aws:batch:us-east-1:123456789012:job/${options.jobId}`],
    detail: {
      jobArn: `arn:aws:batch:us-east-1:123456789012:job/${options.jobId}`,
      jobName: 'sage-tiny-lt-run-1',
      jobId: options.jobId,
      jobQueue: 'arn:aws:batch:us-east-1:123456789012:job-queue/gpu',
      status: options.status,
      ...(options.statusReason ? { statusReason: options.statusReason } : {}),
      attempts: [],
      createdAt: 1_764_400_000_000,
      retryStrategy: { attempts: 5 },
      startedAt: 1_764_400_100_000,
      stoppedAt: options.stoppedAt ?? 1_764_403_600_000,
      dependsOn: [],
      jobDefinition: 'arn:aws:batch:us-east-1:123456789012:job-definition/train:1',
      parameters: {},
      ...(options.arrayProperties ? { arrayProperties: options.arrayProperties } : {}),
      container: {
        image: 'trainer:latest',
        command: [],
        environment: Object.entries(options.env).map(([name, value]) => ({ name, value })),
        ...(options.container ?? {}),
      },
      tags: {},
      platformCapabilities: ['EC2'],
    },
  };
}

/** A metrics.json as the trainer writes it. */
export function metricsDocument(runId: string, sweepIndex: number, all: number, method = 'sage'): MetricsDocument {
  const perClass = CLASSES.map((name, index) => ({
    index,
    name,
    trainCount: TRAIN_COUNTS[index]!,
    testCount: 1,
    accuracy: index === 0 ? 1 : 0,
    group: 'tail' as const,
  }));
  return {
    version: 1,
    runId,
    sweepIndex,
    method,
    config: { epochs: 1 },
    dataset: { name: 'tiny-lt', numClasses: 3, trainCount: 7, testCount: 3 },
    parameters: { adapters: 10, classifier: 6, fitScalars: 2, total: 18, perBlock: 5, bottleneck: 1 },
    accuracy: { all, head: null, medium: null, tail: all },
    perClass,
    epochs: [{ epoch: 1, loss: 1.2, trainAccuracy: 0.5, learningRate: 0, seconds: 1 }],
    timings: { totalSeconds: 2, trainSeconds: 1, evalSeconds: 1, trainImagesPerSecond: 7 },
    backend: 'wasm',
    startedAt: '2026-11-29T10:00:00.000Z',
    finishedAt: '2026-11-29T10:00:02.000Z',
  };
}

/** A JSON log that keeps its lines, parsed, for assertions. */
export function capturingLog(): { log: StructuredLog; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { log: new StructuredLog({ base: { service: 'test' }, write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) }), lines };
}
