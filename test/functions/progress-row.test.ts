/**
 * A run longer than one attempt: the trainer writes progress.json at each checkpoint
 * (src/trainer/attempt.ts writeProgress, at jobLocations' progressUri), the attempt ends, and
 * Batch's retry takes the job back through RUNNABLE and STARTING to RUNNING. The aggregation
 * step (processJobStateChange) must read that file on each state event and put the run's epoch
 * and step in its summary row, so that between attempts the row (and the report) shows a run in
 * progress and where it stands, not a run waiting to start. A finished row keeps no progress.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { RunRecord } from '../../src/contracts/documents';
import { resultsKeys, runChildFiles } from '../../src/contracts/layout';
import { TrainingProgress } from '../../src/contracts/progress';
import { Summary, type SummaryRow } from '../../src/contracts/summary';
import { jobStateChangeFromEvent } from '../../src/pipeline/events';
import { silentLog } from '../../src/pipeline/log';
import { processJobStateChange } from '../../src/pipeline/process-job-state-change';
import { processManifestUpload } from '../../src/pipeline/process-manifest-upload';
import { writeProgress } from '../../src/trainer/attempt';
import { jobLocations } from '../../src/trainer/job-locations';
import { LOCATIONS, MemoryObjectStore, RecordingSubmitter, batchStateChangeEvent, countingIds, fixedClock, metricsDocument, uploadManifest, writeDataset } from './helpers';

let store: MemoryObjectStore;
let submitter: RecordingSubmitter;

beforeEach(() => {
  store = new MemoryObjectStore();
  submitter = new RecordingSubmitter();
});

/** Submits the manifest through the validation core; returns the job's environment and its run record. */
async function submitRun(sweep?: object[]): Promise<{ env: Record<string, string>; record: RunRecord }> {
  const manifest = await writeDataset(store, sweep ? { sweep } : {});
  const upload = await uploadManifest(store, 'tiny', manifest);
  await processManifestUpload(upload, { locations: LOCATIONS, dataStore: store, resultsStore: store, referenceStore: store, submitter, clock: fixedClock(), ids: countingIds(), log: silentLog });
  const record = RunRecord.parse(await store.json(`${LOCATIONS.results}/${resultsKeys.runRecord('run-1')}`));
  return { env: submitter.jobs.at(-1)!.env, record };
}

type BatchStatus = 'SUBMITTED' | 'PENDING' | 'RUNNABLE' | 'STARTING' | 'RUNNING' | 'SUCCEEDED';

/** Batch's state-change event for one job (or array child) at a given time, through the aggregation core. */
async function stateEvent(env: Record<string, string>, status: BatchStatus, time: string, child?: { index: number; size: number }): Promise<void> {
  const event = batchStateChangeEvent({ jobId: child ? `job-1:${child.index}` : 'job-1', status: 'RUNNING', env, ...(child ? { arrayProperties: child } : {}) });
  const change = jobStateChangeFromEvent({ ...event, time, detail: { ...event.detail, status } });
  const outcome = await processJobStateChange(change, { locations: LOCATIONS, dataStore: store, resultsStore: store, clock: fixedClock(time), log: silentLog });
  expect(outcome.outcome, `${status} at ${time}`).toBe('recorded');
}

async function rowOf(sweepIndex = 0): Promise<SummaryRow> {
  const summary = Summary.parse(await store.json('s3://results/summaries/tiny-lt/summary.json'));
  const row = summary.rows.find((candidate) => candidate.sweepIndex === sweepIndex);
  expect(row, `row ${sweepIndex}`).toBeDefined();
  return row!;
}

/** What the trainer writes at a checkpoint, where it writes it; returns the document as read back. */
async function checkpoint(record: RunRecord, sweepIndex: number, attempt: number, point: { epoch: number; step: number; epochs: number; stepsPerEpoch: number }): Promise<TrainingProgress> {
  const { progressUri } = jobLocations({ resultsUri: record.resultsUri, checkpointUri: record.checkpointUri, sweepIndex });
  await writeProgress(store, progressUri, { runId: record.runId, sweepIndex, attempt }, point);
  return TrainingProgress.parse(await store.json(progressUri));
}

/** The row's progress is exactly the position the progress.json holds. */
function expectProgressOf(row: SummaryRow, progress: TrainingProgress): void {
  expect(row.progress).toEqual({ epoch: progress.epoch, epochs: progress.epochs, step: progress.step, stepsPerEpoch: progress.stepsPerEpoch, updatedAt: progress.updatedAt });
}

describe('progress.json reaches the summary row between attempts', () => {
  it('a single job: no progress before the first checkpoint; its epoch and step while RUNNABLE, STARTING and RUNNING again; none once it ends', async () => {
    const { env, record } = await submitRun();
    await stateEvent(env, 'SUBMITTED', '2026-11-29T10:01:00Z');
    await stateEvent(env, 'RUNNABLE', '2026-11-29T10:02:00Z');
    await stateEvent(env, 'RUNNING', '2026-11-29T10:05:00Z');
    expect((await rowOf()).status).toBe('RUNNING');
    expect((await rowOf()).progress).toBeUndefined();

    // Attempt 1 checkpoints before its deadline and exits "to be continued"; Batch retries the job.
    const first = await checkpoint(record, 0, 1, { epoch: 2, step: 40, epochs: 10, stepsPerEpoch: 85 });
    await stateEvent(env, 'RUNNABLE', '2026-11-29T11:00:00Z');
    let row = await rowOf();
    expect(row.status).toBe('RUNNABLE');
    expectProgressOf(row, first);
    expect(row.progress).toMatchObject({ epoch: 2, epochs: 10, step: 40, stepsPerEpoch: 85 });
    // What a person reads in the report between attempts: running, Batch's state word and the position.
    expect(await store.getText('s3://results/summaries/tiny-lt/report.md')).toContain('RUNNING (between attempts: Batch RUNNABLE; epoch 3/10, step 40/85)');

    await stateEvent(env, 'STARTING', '2026-11-29T11:02:00Z');
    row = await rowOf();
    expect(row.status).toBe('RUNNABLE');
    expectProgressOf(row, first);

    await stateEvent(env, 'RUNNING', '2026-11-29T11:06:00Z');
    row = await rowOf();
    expect(row.status).toBe('RUNNING');
    expectProgressOf(row, first);
    expect(await store.getText('s3://results/summaries/tiny-lt/report.md')).toContain('RUNNING (epoch 3/10, step 40/85)');

    // Attempt 2 gets further and is cut again: the row follows the newer file.
    const second = await checkpoint(record, 0, 2, { epoch: 6, step: 0, epochs: 10, stepsPerEpoch: 85 });
    expect(second.attempt).toBe(2);
    await stateEvent(env, 'RUNNABLE', '2026-11-29T12:00:00Z');
    row = await rowOf();
    expect(row.status).toBe('RUNNABLE');
    expectProgressOf(row, second);

    await store.put(runChildFiles(record.resultsUri, 0).metrics, JSON.stringify(metricsDocument('run-1', 0, 0.5)));
    const ended = jobStateChangeFromEvent({ ...batchStateChangeEvent({ jobId: 'job-1', status: 'SUCCEEDED', env }), time: '2026-11-29T13:00:00Z' });
    await processJobStateChange(ended, { locations: LOCATIONS, dataStore: store, resultsStore: store, clock: fixedClock('2026-11-29T13:00:00Z'), log: silentLog });
    row = await rowOf();
    expect(row.status).toBe('SUCCEEDED');
    expect(row.progress).toBeUndefined();
  });

  it('a sweep: each array child’s row reads its own progress.json', async () => {
    const { env, record } = await submitRun([{ alpha: 0.1 }, { alpha: 0.5 }]);
    const size = record.arraySize;
    expect(size).toBe(2);
    const zero = await checkpoint(record, 0, 1, { epoch: 1, step: 7, epochs: 4, stepsPerEpoch: 9 });
    const one = await checkpoint(record, 1, 3, { epoch: 3, step: 2, epochs: 4, stepsPerEpoch: 9 });
    await stateEvent(env, 'RUNNABLE', '2026-11-29T11:00:00Z', { index: 0, size });
    await stateEvent(env, 'RUNNABLE', '2026-11-29T11:00:00Z', { index: 1, size });
    const [row0, row1] = [await rowOf(0), await rowOf(1)];
    expect([row0.status, row1.status]).toEqual(['RUNNABLE', 'RUNNABLE']);
    expectProgressOf(row0, zero);
    expectProgressOf(row1, one);
    expect(row1.progress).toMatchObject({ epoch: 3, step: 2 });
  });
});
