/**
 * `sage submit`'s follow logic against folder buckets, with the real validation and
 * aggregation cores playing the deployed Lambdas and a scripted trainer playing Batch.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JOB_ENV } from '../../src/contracts/job';
import { aggregationStalledLine, awaitVerdict, bucketsFromOutputs, findEarlierUpload, followRun, manifestForUpload, rerunUploadName, uploadManifest, uploadNameFor, type FollowOptions, type SubmitTargets } from '../../src/cli/submit-follow';
import { Summary } from '../../src/contracts/summary';
import { localBuckets } from '../../src/local/buckets';
import { LocalJobSubmitter } from '../../src/local/submitter';
import { processJobStateChange, processManifestUpload, randomIds, systemClock, type PipelineContext } from '../../src/pipeline';
import { LocalObjectStore } from '../../src/storage';
import { sampleMetrics } from '../report/sample-report';
import { writeTinyClip, writeTinyDataset } from './fixtures';

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const store = new LocalObjectStore();

describe('sage submit, following a run', () => {
  let root: string;
  let weights: string;
  let context: PipelineContext;
  let targets: SubmitTargets;

  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'sage-submit-'));
    weights = await writeTinyClip(path.join(root, 'clip'));
    const locations = localBuckets(path.join(root, 'buckets'));
    context = { locations, dataStore: store, resultsStore: store, clock: systemClock, log: silent };
    targets = { dataRoot: locations.data, resultsRoot: locations.results, dataStore: store, resultsStore: store };
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  function options(lines: string[], sleep: () => Promise<void>, statuses: string[] = []): FollowOptions {
    return { pollSeconds: 0, validationTimeoutSeconds: 5, runTimeoutSeconds: 0, onLine: (l) => lines.push(l), sleep, jobStatus: async () => statuses.shift() ?? 'SUCCEEDED' };
  }

  it('reports the verdict, each row as it ends, and the final rows', async () => {
    const manifestPath = await writeTinyDataset(path.join(root, 'ok'), weights, { name: 'followed', sweep: [{ method: 'zero-shot' }, { method: 'lift' }] });
    const text = await readFile(manifestPath, 'utf8');
    // A manifest uploaded to a bucket resolves relative references there, so give absolute ones.
    const absolute = text.replace('"images": "images"', `"images": "${path.join(root, 'ok', 'dataset', 'images')}"`).replace(/"(train|test)\.jsonl"/g, (_m, split: string) => `"${path.join(root, 'ok', 'dataset', `${split}.jsonl`)}"`);
    expect(uploadNameFor(absolute, manifestPath)).toBe('followed');
    const upload = await uploadManifest(targets, absolute, 'followed');

    const submitter = new LocalJobSubmitter({
      runner: {
        run: async (env) => {
          const index = Number(env[JOB_ENV.arrayIndex]);
          const metrics = sampleMetrics(index === 0 ? 'zero-shot' : 'lift', index, env[JOB_ENV.runId]!);
          await store.put(path.join(env[JOB_ENV.resultsUri]!, String(index), 'metrics.json'), JSON.stringify(metrics));
          return { status: 'SUCCEEDED' };
        },
      },
      onStateChange: async (change) => void (await processJobStateChange(change, context)),
    });
    // The "Lambda" handles the upload event; Batch runs the jobs while the CLI sleeps between polls.
    const outcome = await processManifestUpload({ key: upload.key, etag: upload.etag }, { ...context, submitter, ids: randomIds });
    expect(outcome.outcome).toBe('submitted');

    const lines: string[] = [];
    const verdict = await awaitVerdict(targets, upload, options(lines, async () => {}));
    if (verdict.outcome !== 'submitted') throw new Error(`expected submitted, got ${verdict.outcome}`);
    const followed = await followRun(targets, verdict, options(lines, async () => void (await submitter.runSubmitted()), ['RUNNABLE', 'RUNNING']));
    if (followed.outcome !== 'finished') throw new Error(`expected finished, got ${followed.outcome}`);

    expect(followed.rows.map((r) => [r.method, r.status])).toEqual([
      ['zero-shot', 'SUCCEEDED'],
      ['lift', 'SUCCEEDED'],
    ]);
    expect(followed.reportUri).toBe(path.join(root, 'buckets', 'results', 'summaries', 'followed', 'report.html'));
    expect(lines).toContain(`job ${verdict.jobId}: RUNNABLE`);
    expect(lines).toContain('#1 lift: SUCCEEDED, top-1 60.0%');
    // Before Batch's first event the summary has no rows for the run: the follower says so once.
    const waiting = lines.findIndex((line) => line.startsWith(`run ${verdict.runId}: no summary rows yet`));
    expect(waiting).toBeGreaterThanOrEqual(0);
    expect(waiting).toBeLessThan(lines.indexOf('#0 zero-shot: SUCCEEDED, top-1 50.0%'));

    // The same text again is the run above: its claim is found before anything is uploaded.
    const earlier = await findEarlierUpload(targets, absolute, 'followed');
    expect(earlier?.claim).toMatchObject({ state: 'submitted', runId: verdict.runId, jobId: verdict.jobId });
    expect(earlier?.upload).toMatchObject({ key: 'manifests/followed.json', etag: upload.etag, manifestName: 'followed' });
    // Any other text under the name is a new upload.
    expect(await findEarlierUpload(targets, absolute.replace('"followed"', '"followed" '), 'followed')).toBeUndefined();

    // --rerun: the same bytes under a new name are a new claim, a new run, and the same summary.
    const rerunName = rerunUploadName('followed', new Date('2026-12-02T18:30:05.123Z'));
    expect(rerunName).toBe('followed.rerun-20261202T183005Z');
    const rerun = await uploadManifest(targets, absolute, rerunName, 'followed');
    expect(await readFile(rerun.uri, 'utf8')).toBe(absolute);
    const again = await processManifestUpload({ key: rerun.key, etag: rerun.etag }, { ...context, submitter, ids: randomIds });
    if (again.outcome !== 'submitted') throw new Error(`expected the rerun to be submitted, got ${again.outcome}`);
    expect(again.runId).not.toBe(verdict.runId);
    const rerunVerdict = await awaitVerdict(targets, rerun, options([], async () => {}));
    expect(rerunVerdict).toMatchObject({ outcome: 'submitted', runId: again.runId, manifestName: 'followed' });
    await submitter.runSubmitted();
    const summary = Summary.parse(JSON.parse(await readFile(followed.summaryUri, 'utf8')));
    expect(new Set(summary.rows.map((r) => r.runId))).toEqual(new Set([verdict.runId, again.runId]));
  });

  it('says once that aggregation has not run when Batch ended the job and the summary stays still, naming the log group', async () => {
    const runId = 'stalled-run';
    const summaryUri = path.join(root, 'buckets', 'results', 'summaries', 'stalled', 'summary.json');
    const row = { runId, sweepIndex: 0, status: 'RUNNING' as const, method: 'lift', overrides: {} };
    await store.put(summaryUri, JSON.stringify({ version: 1, manifestName: 'stalled', updatedAt: '2026-12-02T00:00:00Z', rows: [row] }));
    const lines: string[] = [];
    let polls = 0;
    const followed = await followRun(targets, { runId, jobId: 'job-9', manifestName: 'stalled' }, {
      pollSeconds: 30,
      validationTimeoutSeconds: 1,
      runTimeoutSeconds: 0,
      onLine: (line) => lines.push(line),
      jobStatus: async () => (polls < 1 ? 'RUNNING' : 'SUCCEEDED'),
      aggregationLogGroup: '/aws/lambda/SagePipeline-AggregateMetrics',
      sleep: async () => {
        polls++;
        // The aggregation finally runs after six polls.
        if (polls === 6) await store.put(summaryUri, JSON.stringify({ version: 1, manifestName: 'stalled', updatedAt: '2026-12-02T01:00:00Z', rows: [{ ...row, status: 'SUCCEEDED' }] }));
      },
    });
    expect(followed.outcome).toBe('finished');
    const stalled = lines.filter((line) => line.includes('the aggregation function has not run'));
    // 30 s polls: the default patience is 2 polls (a minute) after Batch's end was first seen.
    expect(stalled).toEqual([aggregationStalledLine('job-9', 'SUCCEEDED', 60, '/aws/lambda/SagePipeline-AggregateMetrics')]);
    expect(stalled[0]).toContain('aws logs tail /aws/lambda/SagePipeline-AggregateMetrics');
    expect(lines.indexOf(stalled[0]!)).toBeGreaterThan(lines.indexOf('job job-9: SUCCEEDED'));
  });

  it('says nothing of aggregation while Batch is still running the job', async () => {
    const runId = 'slow-run';
    const summaryUri = path.join(root, 'buckets', 'results', 'summaries', 'slow', 'summary.json');
    const row = { runId, sweepIndex: 0, status: 'RUNNING' as const, method: 'lift', overrides: {} };
    await store.put(summaryUri, JSON.stringify({ version: 1, manifestName: 'slow', updatedAt: '2026-12-02T00:00:00Z', rows: [row] }));
    const lines: string[] = [];
    let polls = 0;
    await followRun(targets, { runId, jobId: 'job-8', manifestName: 'slow' }, {
      pollSeconds: 1,
      validationTimeoutSeconds: 1,
      runTimeoutSeconds: 0,
      stallPolls: 2,
      onLine: (line) => lines.push(line),
      jobStatus: async () => 'RUNNING',
      sleep: async () => {
        if (++polls === 8) await store.put(summaryUri, JSON.stringify({ version: 1, manifestName: 'slow', updatedAt: '2026-12-02T01:00:00Z', rows: [{ ...row, status: 'FAILED', reason: 'x' }] }));
      },
    });
    expect(lines.some((line) => line.includes('aggregation'))).toBe(false);
  });

  it('returns the rejection problems when the handler refuses the upload', async () => {
    const upload = await uploadManifest(targets, JSON.stringify({ version: 1, name: 'refused', classes: ['a', 'b'] }), 'refused');
    await processManifestUpload({ key: upload.key, etag: upload.etag }, { ...context, submitter: { submit: async () => ({ jobId: 'never' }), find: async () => undefined }, ids: randomIds });
    const verdict = await awaitVerdict(targets, upload, options([], async () => {}));
    expect(verdict.outcome).toBe('rejected');
    if (verdict.outcome !== 'rejected') return;
    expect(verdict.problems.map((p) => p.path)).toEqual(expect.arrayContaining(['train', 'test', 'weights']));
  });

  it('gives up waiting for a verdict after the validation timeout', async () => {
    const upload = await uploadManifest(targets, '{}', 'nobody-listens');
    const verdict = await awaitVerdict(targets, upload, { ...options([], async () => {}), validationTimeoutSeconds: 0 });
    expect(verdict).toMatchObject({ outcome: 'timed-out', stage: 'validation' });
  });
});

describe('bucketsFromOutputs', () => {
  it('reads the data and results bucket names from the stack outputs', () => {
    const outputs = [
      { OutputKey: 'DataBucketName', OutputValue: 'sage-data-123' },
      { OutputKey: 'ResultsBucketName', OutputValue: 's3://sage-results-123/' },
    ];
    expect(bucketsFromOutputs(outputs, 'SagePipeline')).toEqual({ data: 'sage-data-123', results: 'sage-results-123' });
    const withLogs = [...outputs, { OutputKey: 'AggregateLogGroupName', OutputValue: '/aws/lambda/agg' }];
    expect(bucketsFromOutputs(withLogs, 'SagePipeline')).toEqual({ data: 'sage-data-123', results: 'sage-results-123', aggregationLogGroup: '/aws/lambda/agg' });
  });

  it('names the outputs it found when one is missing', () => {
    expect(() => bucketsFromOutputs([{ OutputKey: 'DataBucketName', OutputValue: 'd' }], 'SagePipeline')).toThrow(/no ResultsBucket\.\.\. output \(outputs: DataBucketName\)/);
  });
});

describe('manifestForUpload', () => {
  const manifest = { version: 1, name: 'm', images: 'images/', train: { shards: 'train/index.json' }, test: { list: 's3://other/test.txt' }, weights: 's3://w/clip/' };

  it('resolves relative references against the manifest in S3 so they survive the move to manifests/', () => {
    const uploaded = JSON.parse(manifestForUpload(JSON.stringify(manifest), 's3://data/datasets/cifar/manifest.json')) as typeof manifest;
    expect(uploaded.images).toBe('s3://data/datasets/cifar/images/');
    expect(uploaded.train.shards).toBe('s3://data/datasets/cifar/train/index.json');
    expect(uploaded.test.list).toBe('s3://other/test.txt');
    expect(uploaded.weights).toBe('s3://w/clip/');
  });

  it('refuses a manifest that refers to local files, naming each field', () => {
    expect(() => manifestForUpload(JSON.stringify(manifest), '/home/me/cifar/manifest.json')).toThrow(/images = \/home\/me\/cifar\/images, train\.shards = \/home\/me\/cifar\/train\/index\.json: upload them/);
  });

  it('folds a settings layer into the uploaded sweep entries', () => {
    const swept = { ...manifest, sweep: [{ method: 'lift' }, { method: 'sage' }] };
    const uploaded = JSON.parse(manifestForUpload(JSON.stringify(swept), 's3://data/d/manifest.json', { epochs: 3 })) as { sweep: unknown[] };
    expect(uploaded.sweep).toEqual([{ method: 'lift', epochs: 3 }, { method: 'sage', epochs: 3 }]);
  });

  it('passes text that is not JSON through for the validator to report', () => {
    expect(manifestForUpload('{ not json', '/x/m.json')).toBe('{ not json');
  });
});
