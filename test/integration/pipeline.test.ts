/**
 * The AWS pipeline end to end on moto: the real template deployed through CloudFormation,
 * S3 events captured from EventBridge, the handlers run in-process against the emulator,
 * and the Batch job's container command (runJob with the job's environment) run locally.
 * moto never emits Batch state-change events, so each event is built from the job's
 * DescribeJobs description, which is what Batch puts in the event's `detail`.
 */
import { BatchClient, DescribeJobsCommand, ListJobsCommand, type JobDetail } from '@aws-sdk/client-batch';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAggregateMetricsHandler, depsFromEnv as aggregateDepsFromEnv } from '../../functions/aggregate-metrics/index';
import { createValidateManifestHandler, depsFromEnv as validateDepsFromEnv } from '../../functions/validate-manifest/index';
import { jobSpecFromEnv, JOB_ENV } from '../../src/contracts/job';
import { MetricsDocument } from '../../src/contracts/metrics';
import { Summary } from '../../src/contracts/summary';
import type { Manifest } from '../../src/manifest';
import type { JobStateChangeOutcome, ManifestUploadOutcome, RejectionReport } from '../../src/pipeline';
import { StructuredLog } from '../../src/pipeline/log';
import { joinUri, storeFor, type ObjectStore } from '../../src/storage';
import { lambdaContext } from '../functions/helpers';
import { cfnLint, deployOnEmulator, physicalIdOf, synthesizeForDeploy, type DeployedStack, type SynthesizedApp } from './deploy';
import { emulatorUnavailableReason, startEmulator, useEmulatorEnvironment, type Emulator } from './moto';

const unavailable = emulatorUnavailableReason();
if (unavailable) console.warn(unavailable);

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const quietLog = new StructuredLog({ level: 'error' });

describe.skipIf(unavailable !== null)('the AWS pipeline on the emulator', () => {
  let emulator: Emulator;
  let synth: SynthesizedApp;
  let stack: DeployedStack;
  let buckets: { data: string; results: string; artifacts: string };
  let env: Record<string, string>;
  let store: ObjectStore;
  let sqs: SQSClient;
  let batch: BatchClient;
  let tapQueueUrl: string;
  let weightsUri: string;
  let dataset: { images: string; train: string; test: string; classes: string[] };
  const eventsByKey = new Map<string, unknown[]>();
  const scratch: string[] = [];

  beforeAll(async () => {
    emulator = await startEmulator();
    useEmulatorEnvironment(emulator.endpoint);
    synth = synthesizeForDeploy();
    // moto cannot deliver to a Lambda target (and a failing target stops the delivery), so the
    // stack's own rules keep their patterns but target SQS queues the test reads (SPEC section 4).
    const retargeted = structuredClone(synth.template);
    const tapQueues: Record<string, string> = { ManifestUploaded: 'TestManifestTap', TrainingJobEnded: 'TestJobEndedTap' };
    for (const [logicalId, resource] of Object.entries(retargeted.Resources)) {
      const prefix = Object.keys(tapQueues).find((name) => logicalId.startsWith(name));
      if (resource.Type !== 'AWS::Events::Rule' || !prefix) continue;
      resource.Properties!.Targets = [{ Id: 'tap', Arn: { 'Fn::GetAtt': [tapQueues[prefix]!, 'Arn'] } }];
    }
    stack = await deployOnEmulator({ ...synth, template: retargeted }, emulator.endpoint, {
      TestManifestTap: { Type: 'AWS::SQS::Queue', Properties: {} },
      TestJobEndedTap: { Type: 'AWS::SQS::Queue', Properties: {} },
    });
    buckets = {
      data: physicalIdOf(stack, 'AWS::S3::Bucket', 'DataBucket'),
      results: physicalIdOf(stack, 'AWS::S3::Bucket', 'ResultsBucket'),
      artifacts: physicalIdOf(stack, 'AWS::S3::Bucket', 'ArtifactsBucket'),
    };
    env = {
      DATA_BUCKET: buckets.data,
      RESULTS_BUCKET: buckets.results,
      ARTIFACTS_BUCKET: buckets.artifacts,
      JOB_QUEUE: stack.batch.jobQueueArn,
      JOB_DEFINITION: stack.batch.jobDefinitionArn,
    };
    tapQueueUrl = stack.physicalIds.TestManifestTap!;
    sqs = new SQSClient({ useQueueUrlAsEndpoint: false });
    batch = new BatchClient({});
    store = await storeFor(`s3://${buckets.data}/`);

    // CLIP weights: the mini-CLIP fixture when present, else a tiny random checkpoint in the same layout.
    let weightsDir = path.join(REPO_ROOT, 'fixtures', 'mini-clip');
    if (!existsSync(path.join(weightsDir, 'model.safetensors'))) {
      console.warn('fixtures/mini-clip is absent: using a tiny random CLIP (src/clip/testing.ts) instead');
      const { createRandomClip } = await import('../../src/clip/testing');
      weightsDir = await mkdtemp(path.join(os.tmpdir(), 'random-clip-'));
      scratch.push(weightsDir);
      await createRandomClip(weightsDir, { text: { maxPositionEmbeddings: 32 } }, 7);
    }
    weightsUri = `s3://${buckets.artifacts}/weights/mini-clip/`;
    for (const file of await readdir(weightsDir)) await store.put(joinUri(weightsUri, file), await readFile(path.join(weightsDir, file)));

    const { generateProceduralDataset } = await import('../../src/procedural/dataset');
    const outDir = `s3://${buckets.data}/datasets/procedural`;
    const generated = await generateProceduralDataset({ outDir, imbalanceRatio: 4, maxPerClass: 8, testPerClass: 2, imageSize: 32, seed: 3, classes: 3, weights: weightsUri });
    const jsonl = (source: Manifest['train']) => ('jsonl' in source ? source.jsonl : '');
    dataset = {
      images: joinUri(outDir, String(generated.manifest.images)),
      train: joinUri(outDir, jsonl(generated.manifest.train)),
      test: joinUri(outDir, jsonl(generated.manifest.test)),
      classes: generated.classNames,
    };
  }, 600_000);

  afterAll(async () => {
    await emulator?.stop();
    if (synth) scratch.push(synth.outdir);
    for (const dir of scratch) await rm(dir, { recursive: true, force: true });
  });

  /** A manifest of the procedural dataset with absolute references (it lives under manifests/, not beside the data). */
  function manifestFor(name: string, extra: Partial<Manifest> = {}): Manifest {
    return {
      version: 1,
      name,
      classes: dataset.classes,
      images: `${dataset.images}/`,
      train: { jsonl: dataset.train },
      test: { jsonl: dataset.test },
      weights: weightsUri,
      training: { method: 'sage', epochs: 1, batchSize: 8, tte: false },
      ...extra,
    };
  }

  async function upload(key: string, body: unknown): Promise<void> {
    await store.put(`s3://${buckets.data}/${key}`, typeof body === 'string' ? body : JSON.stringify(body, null, 2), { contentType: 'application/json' });
  }

  /** The S3 "Object Created" event the stack's rule delivered for `key` (from its tap queue). */
  async function objectCreatedEventFor(key: string): Promise<unknown> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const queued = eventsByKey.get(key);
      if (queued?.length) return queued.shift();
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: tapQueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      for (const message of Messages) {
        const event = JSON.parse(message.Body!) as { detail: { object: { key: string } } };
        eventsByKey.set(event.detail.object.key, [...(eventsByKey.get(event.detail.object.key) ?? []), event]);
        await sqs.send(new DeleteMessageCommand({ QueueUrl: tapQueueUrl, ReceiptHandle: message.ReceiptHandle! }));
      }
      if (Messages.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`no Object Created event for ${key} reached the tap queue`);
  }

  const validate = (event: unknown): Promise<ManifestUploadOutcome> =>
    createValidateManifestHandler(() => validateDepsFromEnv(env), quietLog)(event as Parameters<ReturnType<typeof createValidateManifestHandler>>[0], lambdaContext());
  const aggregate = (event: unknown): Promise<JobStateChangeOutcome> =>
    createAggregateMetricsHandler(() => aggregateDepsFromEnv(env), quietLog)(event as Parameters<ReturnType<typeof createAggregateMetricsHandler>>[0], lambdaContext());

  async function describeJob(jobId: string): Promise<JobDetail> {
    const [job] = (await batch.send(new DescribeJobsCommand({ jobs: [jobId] }))).jobs ?? [];
    if (!job) throw new Error(`DescribeJobs knows no job ${jobId}`);
    return job;
  }

  /** The job's environment as its container sees it (job definition plus submit-time overrides). */
  function containerEnv(job: JobDetail, arrayIndex?: number): Record<string, string> {
    const vars = Object.fromEntries((job.container?.environment ?? []).map(({ name, value }) => [name!, value ?? '']));
    return arrayIndex === undefined ? vars : { ...vars, [JOB_ENV.arrayIndex]: String(arrayIndex) };
  }

  /** Runs the job's container command here: the trainer with the job's environment. */
  async function runContainer(job: JobDetail, arrayIndex?: number) {
    const [{ runJob }, { silentProgress }] = await Promise.all([import('../../src/trainer'), import('../../src/engine/progress')]);
    return runJob(jobSpecFromEnv(containerEnv(job, arrayIndex)), { log: () => {}, progress: silentProgress, workers: 0 });
  }

  /** The Batch Job State Change event for a job whose description DescribeJobs gave. */
  function stateChangeEvent(job: JobDetail, overrides: Partial<JobDetail> = {}) {
    return {
      version: '0',
      id: `event-${job.jobId}`,
      'detail-type': 'Batch Job State Change',
      source: 'aws.batch',
      account: '123456789012',
      time: new Date().toISOString(),
      region: 'us-east-1',
      resources: [job.jobArn],
      detail: { ...job, ...overrides },
    };
  }

  async function summaryOf(name: string): Promise<Summary> {
    return Summary.parse(JSON.parse(await store.getText(`s3://${buckets.results}/summaries/${name}/summary.json`)));
  }

  async function jobsOnQueue(): Promise<string[]> {
    const statuses = ['SUBMITTED', 'PENDING', 'RUNNABLE', 'STARTING', 'RUNNING', 'SUCCEEDED', 'FAILED'] as const;
    const ids: string[] = [];
    for (const jobStatus of statuses) {
      const { jobSummaryList = [] } = await batch.send(new ListJobsCommand({ jobQueue: stack.batch.jobQueueArn, jobStatus }));
      ids.push(...jobSummaryList.map((job) => job.jobId!));
    }
    return [...new Set(ids)];
  }

  it('synthesizes a template that cfn-lint passes without errors', (context) => {
    const lint = cfnLint(synth.templatePath);
    if (!lint) return context.skip('cfn-lint is not installed');
    expect(lint.errors, lint.output).toBe(false);
  });

  it('deploys through the emulator’s CloudFormation to CREATE_COMPLETE', () => {
    expect(stack.status).toBe('CREATE_COMPLETE');
    expect(Object.keys(stack.physicalIds)).toEqual(expect.arrayContaining([expect.stringMatching(/^ValidateManifestFunction/), expect.stringMatching(/^AggregateMetricsFunction/)]));
  });

  it('validates an upload, runs its job and summarizes the run’s own metrics', async () => {
    await upload('manifests/procedural.json', manifestFor('procedural'));
    const outcome = await validate(await objectCreatedEventFor('manifests/procedural.json'));
    expect(outcome).toMatchObject({ outcome: 'submitted', arraySize: 1 });
    if (outcome.outcome !== 'submitted') return;

    const job = await describeJob(outcome.jobId);
    expect(job.jobQueue).toBe(stack.batch.jobQueueArn);
    // The summary row comes from Batch's own SUBMITTED event, not from validation.
    expect(await store.exists(`s3://${buckets.results}/summaries/procedural/summary.json`)).toBe(false);
    await aggregate(stateChangeEvent(job, { status: 'SUBMITTED' }));
    expect((await summaryOf('procedural')).rows).toEqual([expect.objectContaining({ runId: outcome.runId, status: 'SUBMITTED', jobId: outcome.jobId })]);
    const { metrics } = await runContainer(job);
    const aggregated = await aggregate(stateChangeEvent(await describeJob(outcome.jobId), { status: 'SUCCEEDED' }));
    expect(aggregated.outcome).toBe('recorded');

    const stored = MetricsDocument.parse(JSON.parse(await store.getText(`s3://${buckets.results}/runs/${outcome.runId}/0/metrics.json`)));
    expect(stored.accuracy).toEqual(metrics.accuracy);
    // The text classifier is kept beside the checkpoints, where the job's next attempt reads it.
    const kept = (await store.list(`s3://${buckets.artifacts}/checkpoints/${outcome.runId}/0/text-classifier/`)).map((object) => object.uri);
    expect(kept).toEqual([expect.stringMatching(/\/zero-shot-[0-9a-f]{24}\.safetensors$/)]);
    const summary = await summaryOf('procedural');
    expect(summary.rows).toHaveLength(1);
    expect(summary.rows[0]).toMatchObject({ runId: outcome.runId, status: 'SUCCEEDED', accuracy: stored.accuracy, parameters: stored.parameters });
    for (const file of ['results.csv', 'report.md', 'report.html']) {
      expect(await store.exists(`s3://${buckets.results}/summaries/procedural/${file}`)).toBe(true);
    }
  });

  it('labels images with that run’s adapter through an inference manifest: an array job over slices, joined and reported', async () => {
    const { Summary: SummarySchema } = await import('../../src/contracts/summary');
    const trained = (await summaryOf('procedural')).rows[0]!;
    const adapter = `s3://${buckets.results}/runs/${trained.runId}/0/`;
    await upload('manifests/label.json', { version: 1, kind: 'predict', name: 'label', adapter, weights: weightsUri, images: { folder: `${dataset.images}/test/` }, topK: 2, sliceSize: 4 });
    const outcome = await validate(await objectCreatedEventFor('manifests/label.json'));
    expect(outcome).toMatchObject({ outcome: 'submitted', arraySize: 2 });
    if (outcome.outcome !== 'submitted') return;
    const parent = await describeJob(outcome.jobId);
    expect(containerEnv(parent).SAGE_ADAPTER_URI).toBe(adapter.replace(/\/$/, ''));
    const { runAnyJob } = await import('../../src/trainer');
    for (const index of [0, 1]) {
      const result = await runAnyJob(jobSpecFromEnv(containerEnv(parent, index)), { log: () => {}, workers: 0 });
      expect(result.kind).toBe('predict');
      await aggregate(stateChangeEvent(await describeJob(`${outcome.jobId}:${index}`), { status: 'SUCCEEDED', arrayProperties: { index, size: 2 } }));
    }
    const summary = SummarySchema.parse(JSON.parse(await store.getText(`s3://${buckets.results}/summaries/label/summary.json`)));
    expect(summary.rows.map((row) => [row.sweepIndex, row.status, row.predictions?.images])).toEqual([
      [0, 'SUCCEEDED', 4],
      [1, 'SUCCEEDED', 2],
    ]);
    const joined = (await store.getText(`s3://${buckets.results}/runs/${outcome.runId}/predictions.jsonl`)).trim().split('\n');
    expect(joined).toHaveLength(6);
    expect(await store.getText(`s3://${buckets.results}/summaries/label/report.html`)).toContain('Inference report: label');
  });

  it('answers a bad manifest with a rejection report and no job', async () => {
    const before = await jobsOnQueue();
    await upload('manifests/bad.json', { ...manifestFor('bad'), classes: ['only-one'], weights: `s3://${buckets.artifacts}/weights/missing/` });
    const outcome = await validate(await objectCreatedEventFor('manifests/bad.json'));
    expect(outcome.outcome).toBe('rejected');
    if (outcome.outcome !== 'rejected') return;
    const report = JSON.parse(await store.getText(outcome.rejectionUri)) as RejectionReport;
    expect(report.problems.map((problem) => problem.path)).toEqual(expect.arrayContaining(['classes', 'weights']));
    expect(outcome.rejectionUri).toMatch(new RegExp(`^s3://${buckets.results}/rejections/bad/`));
    expect(await jobsOnQueue()).toEqual(before);
  });

  it('submits one job when EventBridge delivers the same upload twice', async () => {
    await upload('manifests/twice.json', manifestFor('twice'));
    const event = await objectCreatedEventFor('manifests/twice.json');
    const before = await jobsOnQueue();
    const [first, second] = [await validate(event), await validate(event)];
    expect(first.outcome).toBe('submitted');
    expect(second.outcome).toBe('duplicate');
    expect((await jobsOnQueue()).length).toBe(before.length + 1);
  });

  it('finds a submitted job by its run-id name through ListJobs, as a handler taking over a dead one does', async () => {
    const { BatchJobSubmitter } = await import('../../src/pipeline/batch-submitter');
    const submitter = new BatchJobSubmitter({ jobQueue: stack.batch.jobQueueArn, jobDefinition: stack.batch.jobDefinitionArn });
    const name = 'sage-lookup-20261201T100000Z-abc123';
    expect(await submitter.find(name)).toBeUndefined();
    const { jobId } = await submitter.submit({ runId: '20261201T100000Z-abc123', name, arraySize: 1, env: { SAGE_RUN_ID: '20261201T100000Z-abc123' } });
    expect(await submitter.find(name)).toEqual({ jobId });
    expect(await submitter.find(`${name}-other`)).toBeUndefined();
  });

  it('runs a sweep of three as an array job and summarizes three rows', async () => {
    await upload('manifests/sweep.json', manifestFor('sweep', { sweep: [{ method: 'zero-shot' }, { method: 'lift' }, { method: 'sage', alpha: 0.5 }] }));
    const outcome = await validate(await objectCreatedEventFor('manifests/sweep.json'));
    expect(outcome).toMatchObject({ outcome: 'submitted', arraySize: 3 });
    if (outcome.outcome !== 'submitted') return;
    const parent = await describeJob(outcome.jobId);
    expect(parent.arrayProperties?.size).toBe(3);
    const accuracies: number[] = [];
    for (const index of [0, 1, 2]) {
      const { metrics } = await runContainer(parent, index);
      accuracies.push(metrics.accuracy.all);
      const child = await describeJob(`${outcome.jobId}:${index}`);
      await aggregate(stateChangeEvent(child, { status: 'SUCCEEDED', arrayProperties: { index, size: 3 } }));
    }
    const summary = await summaryOf('sweep');
    expect(summary.rows.map((row) => [row.sweepIndex, row.status, row.method, row.accuracy?.all])).toEqual([
      [0, 'SUCCEEDED', 'zero-shot', accuracies[0]],
      [1, 'SUCCEEDED', 'lift', accuracies[1]],
      [2, 'SUCCEEDED', 'sage', accuracies[2]],
    ]);
    const csv = await store.getText(`s3://${buckets.results}/summaries/sweep/results.csv`);
    expect(csv.trim().split('\n')).toHaveLength(4);
  });

  it('records a failed job with the reason Batch gives', async () => {
    // Weights whose config and tensor layout are right (validation reads only those) but whose
    // tensors hold NaN: the trainer fails on them and the container exits non-zero.
    const brokenWeights = `s3://${buckets.artifacts}/weights/broken/`;
    const good = `s3://${buckets.artifacts}/weights/mini-clip/`;
    const { readSafetensors, writeSafetensors } = await import('../../src/clip/safetensors');
    const tensors = readSafetensors(new Uint8Array(await store.get(joinUri(good, 'model.safetensors'))));
    const poisoned = Object.fromEntries([...tensors].map(([name, entry]) => [name, { shape: entry.shape, data: name === 'visual_projection.weight' ? new Float32Array(entry.data.length).fill(Number.NaN) : entry.data }]));
    for (const file of ['config.json', 'tokenizer.json']) if (await store.exists(joinUri(good, file))) await store.put(joinUri(brokenWeights, file), await store.get(joinUri(good, file)));
    await store.put(joinUri(brokenWeights, 'model.safetensors'), writeSafetensors(poisoned));
    await upload('manifests/broken.json', { ...manifestFor('broken'), weights: brokenWeights });
    const outcome = await validate(await objectCreatedEventFor('manifests/broken.json'));
    expect(outcome.outcome).toBe('submitted');
    if (outcome.outcome !== 'submitted') return;
    const job = await describeJob(outcome.jobId);
    await expect(runContainer(job)).rejects.toThrow();
    await aggregate(
      stateChangeEvent(job, { status: 'FAILED', statusReason: 'Essential container in task exited', container: { ...job.container, exitCode: 1 } }),
    );
    const [row] = (await summaryOf('broken')).rows;
    expect(row).toMatchObject({ status: 'FAILED', reason: 'Essential container in task exited; exit code 1' });
  });
});
