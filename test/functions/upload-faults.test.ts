/**
 * Fault injection on the validation step: a handler that dies (its promise never settles, as
 * a timed-out or out-of-memory Lambda never runs its catch block) before or after SubmitJob,
 * with the event redelivered before and after the dead handler's lease. Each case ends with
 * exactly one job and a completed claim: no upload lost, none done twice.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import type { UploadClaim } from '../../src/contracts/documents';
import { PipelineClaimInProgressError } from '../../src/pipeline/errors';
import type { JobSubmission, JobSubmitter, SubmittedJob } from '../../src/pipeline/job-submitter';
import { silentLog } from '../../src/pipeline/log';
import { processManifestUpload, type ProcessManifestUploadDeps } from '../../src/pipeline/process-manifest-upload';
import type { PutOptions } from '../../src/storage';
import { LOCATIONS, MemoryObjectStore, fixedClock, uploadManifest, writeDataset } from './helpers';

const never = <T>(): Promise<T> => new Promise<T>(() => {});

/** Waits until `done()` holds: the dying handler has reached its point of death. */
async function until(done: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000 && !(await done()); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!(await done())) throw new Error('the handler never reached the point where it dies');
}

/** A submitter standing in for Batch: it may die before recording the job, or keep it and let the caller die after. */
class FaultySubmitter implements JobSubmitter {
  readonly jobs: JobSubmission[] = [];
  dieBeforeSubmit = false;
  async submit(job: JobSubmission): Promise<SubmittedJob> {
    if (this.dieBeforeSubmit) {
      this.dieBeforeSubmit = false;
      return never();
    }
    this.jobs.push(job);
    return { jobId: `job-${this.jobs.length}` };
  }
  async find(name: string): Promise<SubmittedJob | undefined> {
    const index = this.jobs.findIndex((job) => job.name === name);
    return index >= 0 ? { jobId: `job-${index + 1}` } : undefined;
  }
}

/** The results store, able to "kill" the process at the first put matching a predicate (the put never settles). */
class DyingStore extends MemoryObjectStore {
  dieAt: ((uri: string, body: string) => boolean) | undefined;
  override async put(uri: string, body: Buffer | string | Uint8Array, options?: PutOptions): Promise<string> {
    if (this.dieAt?.(uri, Buffer.from(body).toString('utf8'))) {
      this.dieAt = undefined;
      return never();
    }
    return super.put(uri, body, options);
  }
}

const LAMBDA_TIMEOUT_MS = 300_000;

let store: DyingStore;
let submitter: FaultySubmitter;
let clock: ReturnType<typeof fixedClock>;
let runIds: number;
let sleeps: number[];

function deps(owner: string): ProcessManifestUploadDeps {
  return {
    locations: LOCATIONS,
    dataStore: store,
    resultsStore: store,
    referenceStore: store,
    submitter,
    clock,
    log: silentLog,
    ids: { runId: () => `run-${++runIds}` },
    owner,
    remainingMs: LAMBDA_TIMEOUT_MS,
    // Waiting moves the test's clock instead of the wall clock.
    sleep: async (ms) => {
      sleeps.push(ms);
      clock.advance(ms);
    },
  };
}

async function claimOf(upload: { etag: string }): Promise<UploadClaim> {
  return store.json<UploadClaim>(`s3://results/claims/tiny/${upload.etag.replace(/"/g, '')}.json`);
}

beforeEach(() => {
  store = new DyingStore();
  submitter = new FaultySubmitter();
  clock = fixedClock('2026-12-01T10:00:00.000Z');
  runIds = 0;
  sleeps = [];
});

describe('a validation handler that dies', () => {
  it('before SubmitJob, redelivered within its lease: the retry waits the lease out, takes over and submits once', async () => {
    const upload = await uploadManifest(store, 'tiny', await writeDataset(store));
    submitter.dieBeforeSubmit = true;
    void processManifestUpload(upload, deps('first'));
    await until(() => !submitter.dieBeforeSubmit);
    expect(await claimOf(upload)).toMatchObject({ state: 'claimed', owner: 'first', runId: 'run-1', expiresAt: '2026-12-01T10:05:00.000Z' });
    expect(submitter.jobs).toEqual([]);

    // Lambda's first async retry comes about a minute later.
    clock.advance(60_000);
    const retry = await processManifestUpload(upload, deps('second'));

    expect(retry).toMatchObject({ outcome: 'submitted', runId: 'run-1', jobId: 'job-1', tookOver: true });
    expect(sleeps.length).toBeGreaterThan(0);
    expect(clock.now().getTime()).toBeGreaterThan(Date.parse('2026-12-01T10:05:00.000Z'));
    expect(submitter.jobs).toHaveLength(1);
    expect(await claimOf(upload)).toMatchObject({ state: 'submitted', owner: 'second', runId: 'run-1', jobId: 'job-1' });
  });

  it('after SubmitJob, redelivered within its lease: the retry finds the job by name and submits nothing', async () => {
    const upload = await uploadManifest(store, 'tiny', await writeDataset(store));
    // Dies writing the claim's "submitted" state, right after Batch accepted the job.
    store.dieAt = (uri, body) => uri.includes('/claims/') && body.includes('"submitted"');
    void processManifestUpload(upload, deps('first'));
    await until(() => store.dieAt === undefined);
    expect(submitter.jobs).toHaveLength(1);
    expect(await claimOf(upload)).toMatchObject({ state: 'claimed', runId: 'run-1' });

    clock.advance(60_000);
    const retry = await processManifestUpload(upload, deps('second'));

    expect(retry).toMatchObject({ outcome: 'submitted', runId: 'run-1', jobId: 'job-1', tookOver: true });
    expect(submitter.jobs).toHaveLength(1);
    expect(await claimOf(upload)).toMatchObject({ state: 'submitted', jobId: 'job-1', jobName: 'sage-tiny-lt-run-1' });
    expect((await store.json<{ jobId?: string }>('s3://results/runs/run-1/run.json')).jobId).toBe('job-1');
  });

  it.each([
    ['before SubmitJob', 'before' as const],
    ['after SubmitJob', 'after' as const],
  ])('%s, redelivered after its lease: the retry takes over at once and there is one job', async (_name, when) => {
    const upload = await uploadManifest(store, 'tiny', await writeDataset(store));
    if (when === 'before') submitter.dieBeforeSubmit = true;
    else store.dieAt = (uri, body) => uri.includes('/claims/') && body.includes('"submitted"');
    void processManifestUpload(upload, deps('first'));
    await until(() => !submitter.dieBeforeSubmit && store.dieAt === undefined);

    clock.advance(LAMBDA_TIMEOUT_MS + 10_000);
    const retry = await processManifestUpload(upload, deps('second'));

    expect(sleeps).toEqual([]);
    expect(retry).toMatchObject({ outcome: 'submitted', runId: 'run-1', jobId: 'job-1' });
    expect(submitter.jobs).toHaveLength(1);
    // A third delivery is a plain duplicate.
    expect(await processManifestUpload(upload, deps('third'))).toMatchObject({ outcome: 'duplicate', claim: { state: 'submitted', jobId: 'job-1' } });
  });

  it('fails a redelivery that cannot outwait a live claim, so Lambda retries it later; the later one finishes', async () => {
    const upload = await uploadManifest(store, 'tiny', await writeDataset(store));
    submitter.dieBeforeSubmit = true;
    void processManifestUpload(upload, deps('first'));
    await until(() => !submitter.dieBeforeSubmit);

    clock.advance(10_000);
    // Only 40 s left for this delivery: it cannot wait the ~290 s the holder may still use.
    await expect(processManifestUpload(upload, { ...deps('short'), remainingMs: 40_000 })).rejects.toBeInstanceOf(PipelineClaimInProgressError);
    expect(await claimOf(upload)).toMatchObject({ state: 'claimed', owner: 'first' });
    expect(submitter.jobs).toEqual([]);

    clock.advance(LAMBDA_TIMEOUT_MS);
    expect(await processManifestUpload(upload, deps('later'))).toMatchObject({ outcome: 'submitted', runId: 'run-1' });
    expect(submitter.jobs).toHaveLength(1);
  });

  it('answers duplicate when the live holder finishes while the redelivery waits', async () => {
    const upload = await uploadManifest(store, 'tiny', await writeDataset(store));
    const claimUri = `s3://results/claims/tiny/${upload.etag.replace(/"/g, '')}.json`;
    const expiresAt = new Date(clock.now().getTime() + LAMBDA_TIMEOUT_MS).toISOString();
    await store.put(claimUri, JSON.stringify({ version: 1, state: 'claimed', manifestUri: 'x', etag: 'e', claimedAt: clock.now().toISOString(), expiresAt, owner: 'slow', runId: 'run-9' }));
    const waiting = deps('second');
    waiting.sleep = async (ms) => {
      clock.advance(ms);
      // The slow holder completes during the first wait.
      await MemoryObjectStore.prototype.put.call(store, claimUri, JSON.stringify({ version: 1, state: 'submitted', manifestUri: 'x', etag: 'e', claimedAt: '2026-12-01T10:00:00.000Z', runId: 'run-9', jobId: 'job-9' }));
    };
    clock.advance(60_000);
    expect(await processManifestUpload(upload, waiting)).toMatchObject({ outcome: 'duplicate', claim: { state: 'submitted', runId: 'run-9' } });
    expect(submitter.jobs).toEqual([]);
  });
});
