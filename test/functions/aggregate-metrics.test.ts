import { beforeEach, describe, expect, it } from 'vitest';
import { createAggregateMetricsHandler, type AggregateMetricsDeps } from '../../functions/aggregate-metrics/index';
import type { Summary } from '../../src/contracts/summary';
import { jobStateChangeFromEvent } from '../../src/pipeline/events';
import { silentLog } from '../../src/pipeline/log';
import { processJobStateChange, type JobStateChangeOutcome } from '../../src/pipeline/process-job-state-change';
import { processManifestUpload } from '../../src/pipeline/process-manifest-upload';
import {
  LOCATIONS,
  MemoryObjectStore,
  RecordingSubmitter,
  batchStateChangeEvent,
  capturingLog,
  countingIds,
  fixedClock,
  lambdaContext,
  metricsDocument,
  uploadManifest,
  writeDataset,
  type BatchEventOptions,
} from './helpers';

let store: MemoryObjectStore;
let submitter: RecordingSubmitter;
let deps: AggregateMetricsDeps;

beforeEach(() => {
  store = new MemoryObjectStore();
  submitter = new RecordingSubmitter();
  deps = { locations: LOCATIONS, dataStore: store, resultsStore: store, clock: fixedClock('2026-11-29T12:00:00.000Z') };
});

/** Submits a manifest (optionally a sweep) through the validation core; returns the job's environment. */
async function submitRun(sweep?: object[]): Promise<Record<string, string>> {
  const manifest = await writeDataset(store, sweep ? { sweep } : {});
  const upload = await uploadManifest(store, 'tiny', manifest);
  await processManifestUpload(upload, {
    locations: LOCATIONS,
    dataStore: store,
    resultsStore: store,
    referenceStore: store,
    submitter,
    clock: fixedClock(),
    ids: countingIds(),
    log: silentLog,
  });
  return submitter.jobs.at(-1)!.env;
}

const summaryOf = (): Promise<Summary> => store.json<Summary>('s3://results/summaries/tiny-lt/summary.json');

const paths: [string, (options: BatchEventOptions) => Promise<JobStateChangeOutcome>][] = [
  ['the plain core', (options) => processJobStateChange(jobStateChangeFromEvent(batchStateChangeEvent(options)), { ...deps, log: silentLog })],
  ['the Middy handler', (options) => createAggregateMetricsHandler(() => deps, capturingLog().log)(batchStateChangeEvent(options), lambdaContext())],
];

describe.each(paths)('job state changes through %s', (_name, handle) => {
  it('records a succeeded run with the numbers of its metrics and renders the report', async () => {
    const env = await submitRun();
    await store.put('s3://results/runs/run-1/0/metrics.json', JSON.stringify(metricsDocument('run-1', 0, 0.625)));

    const outcome = await handle({ jobId: 'job-1', status: 'SUCCEEDED', env });

    expect(outcome.outcome).toBe('recorded');
    const summary = await summaryOf();
    expect(summary.rows).toHaveLength(1);
    expect(summary.rows[0]).toMatchObject({
      runId: 'run-1',
      sweepIndex: 0,
      status: 'SUCCEEDED',
      method: 'sage',
      metricsKey: 'runs/run-1/0/metrics.json',
      accuracy: { all: 0.625, head: null, medium: null, tail: 0.625 },
      submittedAt: '2026-11-29T10:00:00.000Z',
      finishedAt: new Date(1_764_403_600_000).toISOString(),
    });
    expect(await store.json('s3://results/runs/run-1/0/status.json')).toMatchObject({ status: 'SUCCEEDED', jobId: 'job-1' });
    const csv = await store.getText('s3://results/summaries/tiny-lt/results.csv');
    expect(csv).toContain('run-1');
    expect(await store.getText('s3://results/summaries/tiny-lt/report.md')).toContain('62.5');
    expect(await store.getText('s3://results/summaries/tiny-lt/report.html')).toMatch(/^<!doctype html>/i);
  });

  it('records a failed run with Batch’s reasons', async () => {
    const env = await submitRun();
    await handle({ jobId: 'job-1', status: 'FAILED', env, statusReason: 'Essential container in task exited', container: { reason: 'OutOfMemoryError: Container killed', exitCode: 137 } });
    const [row] = (await summaryOf()).rows;
    expect(row).toMatchObject({ status: 'FAILED' });
    expect(row!.reason).toBe('Essential container in task exited; OutOfMemoryError: Container killed; exit code 137');
    expect(row!.accuracy).toBeUndefined();
  });

  it('leaves the same summary when the same event arrives twice', async () => {
    const env = await submitRun();
    await store.put('s3://results/runs/run-1/0/metrics.json', JSON.stringify(metricsDocument('run-1', 0, 0.5)));
    await handle({ jobId: 'job-1', status: 'SUCCEEDED', env });
    const first = await store.getText('s3://results/summaries/tiny-lt/summary.json');
    (deps.clock as ReturnType<typeof fixedClock>).set('2026-11-29T13:00:00.000Z');
    const again = await handle({ jobId: 'job-1', status: 'SUCCEEDED', env });
    expect(again).toMatchObject({ outcome: 'recorded', summaryWritten: false });
    expect(await store.getText('s3://results/summaries/tiny-lt/summary.json')).toBe(first);
  });
});

describe('array jobs and concurrency', () => {
  const run = (options: BatchEventOptions) => processJobStateChange(jobStateChangeFromEvent(batchStateChangeEvent(options)), { ...deps, log: silentLog });

  it('aggregates each child of a sweep from its own event, all finishing at once', async () => {
    const env = await submitRun([{ alpha: 0.1 }, { alpha: 0.5 }, { method: 'lift' }]);
    const accuracies = [0.25, 0.5, 0.75];
    for (const [index, all] of accuracies.entries()) {
      await store.put(`s3://results/runs/run-1/${index}/metrics.json`, JSON.stringify(metricsDocument('run-1', index, all, index === 2 ? 'lift' : 'sage')));
    }
    await Promise.all(accuracies.map((_, index) => run({ jobId: `job-1:${index}`, status: 'SUCCEEDED', env, arrayProperties: { index, size: 3 } })));
    const parent = await run({ jobId: 'job-1', status: 'SUCCEEDED', env, arrayProperties: { size: 3 } });

    expect(parent.outcome).toBe('ignored');
    const summary = await summaryOf();
    expect(summary.rows.map((row) => [row.sweepIndex, row.status, row.jobId, row.accuracy?.all])).toEqual([
      [0, 'SUCCEEDED', 'job-1:0', 0.25],
      [1, 'SUCCEEDED', 'job-1:1', 0.5],
      [2, 'SUCCEEDED', 'job-1:2', 0.75],
    ]);
    const csvLines = (await store.getText('s3://results/summaries/tiny-lt/results.csv')).trim().split('\n');
    expect(csvLines).toHaveLength(4);
  });

  it('lets two different runs finishing at once both land in the summary', async () => {
    const firstEnv = await submitRun();
    const manifest = await writeDataset(store);
    const upload = await uploadManifest(store, 'tiny-again', manifest);
    await processManifestUpload(upload, {
      locations: LOCATIONS, dataStore: store, resultsStore: store, referenceStore: store, submitter, clock: fixedClock('2026-11-29T10:05:00.000Z'),
      ids: { runId: () => 'run-2' }, log: silentLog,
    });
    const secondEnv = submitter.jobs.at(-1)!.env;
    await store.put('s3://results/runs/run-1/0/metrics.json', JSON.stringify(metricsDocument('run-1', 0, 0.4)));
    await store.put('s3://results/runs/run-2/0/metrics.json', JSON.stringify(metricsDocument('run-2', 0, 0.6)));

    await Promise.all([run({ jobId: 'job-1', status: 'SUCCEEDED', env: firstEnv }), run({ jobId: 'job-2', status: 'SUCCEEDED', env: secondEnv })]);

    expect((await summaryOf()).rows.map((row) => [row.runId, row.status, row.accuracy?.all])).toEqual([
      ['run-1', 'SUCCEEDED', 0.4],
      ['run-2', 'SUCCEEDED', 0.6],
    ]);
  });

  it('marks only the children that never reported when an array job fails', async () => {
    const env = await submitRun([{ alpha: 0.1 }, { alpha: 0.5 }]);
    await store.put('s3://results/runs/run-1/0/metrics.json', JSON.stringify(metricsDocument('run-1', 0, 0.3)));
    await run({ jobId: 'job-1:0', status: 'SUCCEEDED', env, arrayProperties: { index: 0, size: 2 } });
    await run({ jobId: 'job-1', status: 'FAILED', env, arrayProperties: { size: 2 }, statusReason: 'Job cancelled' });
    const rows = (await summaryOf()).rows;
    expect(rows.map((row) => [row.sweepIndex, row.status])).toEqual([
      [0, 'SUCCEEDED'],
      [1, 'FAILED'],
    ]);
    expect(rows[1]!.reason).toMatch(/Job cancelled/);
    // The child's own event, arriving late, still wins.
    await store.put('s3://results/runs/run-1/1/metrics.json', JSON.stringify(metricsDocument('run-1', 1, 0.9)));
    await run({ jobId: 'job-1:1', status: 'SUCCEEDED', env, arrayProperties: { index: 1, size: 2 } });
    expect((await summaryOf()).rows[1]).toMatchObject({ status: 'SUCCEEDED', accuracy: { all: 0.9 } });
  });

  it('records a job that succeeded without metrics as failed, saying so', async () => {
    const env = await submitRun();
    await run({ jobId: 'job-1', status: 'SUCCEEDED', env });
    expect((await summaryOf()).rows[0]).toMatchObject({ status: 'FAILED', reason: expect.stringMatching(/wrote no metrics at s3:\/\/results\/runs\/run-1\/0\/metrics.json/) });
  });

  it('ignores jobs this pipeline did not submit and states that are not terminal', async () => {
    expect(await run({ jobId: 'other', status: 'SUCCEEDED', env: {} })).toMatchObject({ outcome: 'ignored' });
    expect(await run({ jobId: 'job-1', status: 'RUNNING', env: { SAGE_RUN_ID: 'run-1' } })).toMatchObject({ outcome: 'ignored' });
    expect(store.keys('s3://results/summaries/')).toEqual([]);
  });

  it('refuses an event that is not a Batch job state change, naming what came', () => {
    expect(() => jobStateChangeFromEvent({ 'detail-type': 'Object Created', detail: {} })).toThrow(/expected a "Batch Job State Change" event, got detail-type "Object Created"/);
    expect(() => jobStateChangeFromEvent({ 'detail-type': 'Batch Job State Change', detail: { status: 'FAILED' } })).toThrow(/detail\.jobId/);
  });
});
