import { beforeEach, describe, expect, it } from 'vitest';
import { createValidateManifestHandler, type ValidateManifestDeps } from '../../functions/validate-manifest/index';
import { jobSpecFromEnv } from '../../src/contracts/job';
import { silentLog } from '../../src/pipeline/log';
import { processManifestUpload, type ManifestUploadOutcome, type RejectionReport } from '../../src/pipeline/process-manifest-upload';
import type { RunRecord, UploadClaim } from '../../src/pipeline/documents';
import { DEFAULT_GPUS, textForwardFlops, visionForwardFlops, type AttemptBudget } from '../../src/estimate';
import { TINY_CLIP_CONFIG } from '../helpers/tiny-clip';
import {
  LOCATIONS,
  MemoryObjectStore,
  RecordingSubmitter,
  countingIds,
  capturingLog,
  fixedClock,
  lambdaContext,
  objectCreatedEvent,
  uploadManifest,
  writeDataset,
} from './helpers';

let store: MemoryObjectStore;
let submitter: RecordingSubmitter;
let deps: ValidateManifestDeps;

beforeEach(() => {
  store = new MemoryObjectStore();
  submitter = new RecordingSubmitter();
  deps = { locations: LOCATIONS, dataStore: store, resultsStore: store, referenceStore: store, submitter, clock: fixedClock(), ids: countingIds() };
});

type Upload = { key: string; etag: string };

/** The same behaviour through the plain core and through the Middy handler on the real event shape. */
const paths: [string, (upload: Upload) => Promise<ManifestUploadOutcome>][] = [
  ['the plain core', (upload) => processManifestUpload(upload, { ...deps, log: silentLog })],
  [
    'the Middy handler',
    (upload) => createValidateManifestHandler(() => deps, capturingLog().log)(objectCreatedEvent('data', upload.key, upload.etag), lambdaContext()),
  ],
];

describe.each(paths)('manifest upload through %s', (_name, handle) => {
  it('submits one job whose environment names the run, and records the run', async () => {
    const manifest = await writeDataset(store);
    const upload = await uploadManifest(store, 'tiny', manifest);
    const before = await store.getText('s3://data/manifests/tiny.json');

    const outcome = await handle(upload);

    expect(outcome).toMatchObject({ outcome: 'submitted', runId: 'run-1', jobId: 'job-1', arraySize: 1 });
    expect(submitter.jobs).toHaveLength(1);
    const spec = jobSpecFromEnv(submitter.jobs[0]!.env);
    expect(spec).toEqual({
      runId: 'run-1',
      manifestUri: 's3://data/manifests/tiny.json',
      resultsUri: 's3://results/runs/run-1/',
      checkpointUri: 's3://artifacts/checkpoints/run-1/',
      cudaCacheUri: 's3://artifacts/cuda-cache/',
      sweepIndex: 0,
      referenceRoots: ['s3://data/', 's3://artifacts/weights/'],
      weightsUri: 's3://artifacts/weights/tiny/',
    });
    expect(submitter.jobs[0]!.name).toBe('sage-tiny-lt-run-1');
    const record = await store.json<RunRecord>('s3://results/runs/run-1/run.json');
    expect(record).toMatchObject({ runId: 'run-1', manifestName: 'tiny-lt', jobId: 'job-1', arraySize: 1, entries: [{ sweepIndex: 0, method: 'sage' }] });
    // Summary rows are the aggregation step's (from Batch's SUBMITTED event onwards): validation writes none.
    expect(store.keys('s3://results/summaries/')).toEqual([]);
    expect(store.keys('s3://results/')).toEqual([`s3://results/claims/tiny/${upload.etag.replace(/"/g, '')}.json`, 's3://results/runs/run-1/run.json']);
    // The upload itself is only read.
    expect(await store.getText('s3://data/manifests/tiny.json')).toBe(before);
  });

  it('rejects a bad manifest with a report that lists every problem, and submits nothing', async () => {
    const manifest = await writeDataset(store);
    const bad = { ...manifest, train: { items: [...(manifest.train as { items: object[] }).items, { path: 'train/apple/missing.png', label: 'pear' }] }, training: { alpha: 7 } };
    const upload = await uploadManifest(store, 'bad', bad);

    const outcome = await handle(upload);

    expect(outcome.outcome).toBe('rejected');
    expect(submitter.jobs).toEqual([]);
    const etag = upload.etag.replace(/"/g, '');
    const report = await store.json<RejectionReport>(`s3://results/rejections/bad/${etag}.json`);
    expect(report.problemCount).toBe(report.problems.length);
    const paths = report.problems.map((p) => p.path).join(' | ');
    expect(paths).toMatch(/label/);
    expect(paths).toMatch(/alpha/);
    expect(store.keys('s3://results/runs/')).toEqual([]);
    const claim = await store.json<UploadClaim>(`s3://results/claims/bad/${etag}.json`);
    expect(claim.state).toBe('rejected');
  });

  it('submits one job when the same upload is delivered twice', async () => {
    const upload = await uploadManifest(store, 'tiny', await writeDataset(store));
    const first = await handle(upload);
    const second = await handle(upload);
    expect(first.outcome).toBe('submitted');
    expect(second).toMatchObject({ outcome: 'duplicate', claim: { state: 'submitted', runId: 'run-1', jobId: 'job-1' } });
    expect(submitter.jobs).toHaveLength(1);
  });

  it('submits one array job with a child per sweep entry', async () => {
    const manifest = await writeDataset(store, { sweep: [{ alpha: 0.1 }, { alpha: 0.5 }, { method: 'lift' }] });
    const outcome = await handle(await uploadManifest(store, 'sweep', manifest));
    expect(outcome).toMatchObject({ outcome: 'submitted', arraySize: 3 });
    expect(submitter.jobs.map((job) => job.arraySize)).toEqual([3]);
    const record = await store.json<RunRecord>('s3://results/runs/run-1/run.json');
    expect(record.entries.map((entry) => [entry.sweepIndex, entry.method, entry.overrides])).toEqual([
      [0, 'sage', { alpha: 0.1 }],
      [1, 'sage', { alpha: 0.5 }],
      [2, 'lift', { method: 'lift' }],
    ]);
  });
});

describe('the estimate at validation', () => {
  const budget = (peakTflops: number): AttemptBudget => ({
    instanceTypes: ['g4dn.xlarge'],
    gpus: { 'g4dn.xlarge': { ...DEFAULT_GPUS['g4dn.xlarge']!, peakTflops } },
    jobTimeoutMinutes: 60,
    spotRetries: 3,
    maxAttempts: 10,
  });

  it('records each run’s estimate in the run record and gives the job the attempts it needs', async () => {
    const upload = await uploadManifest(store, 'tiny', await writeDataset(store, { sweep: [{ method: 'lift' }, { method: 'sage', epochs: 3 }] }));
    // Slow enough that Sage's 3 epochs need several 60-minute attempts: 5 min start-up and 5 min margin leave 50 each.
    const F = visionForwardFlops(TINY_CLIP_CONFIG);
    const sageFlops = 7 * 3 * 3 * F + 3 * 2 * F + 3 * 60 * textForwardFlops(TINY_CLIP_CONFIG);
    const peak = sageFlops / (0.3 * 120 * 60) / 1e12; // Sage computes for 120 minutes
    const outcome = await processManifestUpload(upload, { ...deps, log: silentLog, budget: budget(peak) });
    expect(outcome.outcome).toBe('submitted');
    const record = await store.json<RunRecord>('s3://results/runs/run-1/run.json');
    expect(record.estimate?.entries.map((entry) => entry.method)).toEqual(['lift', 'sage']);
    expect(record.estimate?.entries[1]!.flops).toBeCloseTo(sageFlops, 0);
    // ceil(120 / 50) = 3 attempts of work, plus 3 for spot reclaims.
    expect(record.estimate?.attempts).toBe(6);
    expect(submitter.jobs[0]!.attempts).toBe(6);
  });

  it('refuses a run that cannot fit the job’s attempts, with the figures and the setting to raise, and submits nothing', async () => {
    const upload = await uploadManifest(store, 'tiny', await writeDataset(store));
    const outcome = await processManifestUpload(upload, { ...deps, log: silentLog, budget: budget(1e-12) });
    expect(outcome).toMatchObject({ outcome: 'rejected', problems: [{ path: 'training', code: 'estimate', message: expect.stringMatching(/raise sage:jobTimeoutMinutes/) }] });
    expect(submitter.jobs).toEqual([]);
    const report = await store.json<RejectionReport>(`s3://results/rejections/tiny/${upload.etag.replace(/"/g, '')}.json`);
    expect(report.estimate?.fits).toBe(false);
  });
});

describe('manifest upload edge cases', () => {
  it('keeps the claim and its run id, expired, when SubmitJob fails, so the retried event takes it over and submits once', async () => {
    const upload = await uploadManifest(store, 'tiny', await writeDataset(store));
    const claimUri = `s3://results/claims/tiny/${upload.etag.replace(/"/g, '')}.json`;
    submitter.failNext = 1;
    await expect(processManifestUpload(upload, { ...deps, log: silentLog })).rejects.toThrow(/throttled/);
    const kept = await store.json<UploadClaim>(claimUri);
    expect(kept).toMatchObject({ state: 'claimed', runId: 'run-1' });
    expect(Date.parse(kept.expiresAt!)).toBeLessThan(deps.clock.now().getTime());
    const retry = await processManifestUpload(upload, { ...deps, log: silentLog });
    expect(retry).toMatchObject({ outcome: 'submitted', runId: 'run-1', tookOver: true });
    expect(submitter.jobs).toHaveLength(1);
  });

  it('finds the job whose SubmitJob answer was lost instead of submitting it again', async () => {
    const upload = await uploadManifest(store, 'tiny', await writeDataset(store));
    submitter.loseAnswerNext = 1;
    await expect(processManifestUpload(upload, { ...deps, log: silentLog })).rejects.toThrow(/timed out/);
    // Batch has the job; this delivery never heard so.
    expect(submitter.jobs.map((job) => job.name)).toEqual(['sage-tiny-lt-run-1']);
    const retry = await processManifestUpload(upload, { ...deps, log: silentLog });
    expect(retry).toMatchObject({ outcome: 'submitted', runId: 'run-1', jobId: 'job-1', tookOver: true });
    expect(submitter.jobs).toHaveLength(1);
    expect(await store.json<UploadClaim>(`s3://results/claims/tiny/${upload.etag.replace(/"/g, '')}.json`)).toMatchObject({ state: 'submitted', jobId: 'job-1', runId: 'run-1' });
    expect(await processManifestUpload(upload, { ...deps, log: silentLog })).toMatchObject({ outcome: 'duplicate' });
  });

  it('gives the claim back when the work fails before SubmitJob, so the retry starts afresh', async () => {
    const upload = await uploadManifest(store, 'tiny', await writeDataset(store));
    const failing = new (class extends MemoryObjectStore {
      override async put(...args: Parameters<MemoryObjectStore['put']>): Promise<string> {
        if (args[0].endsWith('/run.json')) throw new Error('S3 put failed');
        return store.put(...args);
      }
      override async get(...args: Parameters<MemoryObjectStore['get']>) {
        return store.get(...args);
      }
      override async head(...args: Parameters<MemoryObjectStore['head']>) {
        return store.head(...args);
      }
      override async delete(...args: Parameters<MemoryObjectStore['delete']>) {
        return store.delete(...args);
      }
    })();
    await expect(processManifestUpload(upload, { ...deps, resultsStore: failing, log: silentLog })).rejects.toThrow(/S3 put failed/);
    expect(store.keys('s3://results/claims/')).toEqual([]);
    expect(submitter.jobs).toEqual([]);
    expect(await processManifestUpload(upload, { ...deps, log: silentLog })).toMatchObject({ outcome: 'submitted', runId: 'run-2', tookOver: false });
  });

  it('stops reading a list file before the invocation’s end and writes a rejection naming the line reached', async () => {
    const manifest = await writeDataset(store);
    const lines = Array.from({ length: 5000 }, (_, i) => `train/apple/${i}.png apple`).join('\n');
    await store.put('s3://data/long/train.txt', `${lines}\n`);
    const upload = await uploadManifest(store, 'long', { ...manifest, train: { list: 's3://data/long/train.txt' } });
    // One millisecond left: every check of the deadline finds it passed.
    const outcome = await processManifestUpload(upload, { ...deps, log: silentLog, remainingMs: 1 });
    expect(outcome.outcome).toBe('rejected');
    if (outcome.outcome !== 'rejected') return;
    expect(outcome.problems).toContainEqual(expect.objectContaining({ path: 's3://data/long/train.txt:1024', code: 'limit', message: expect.stringMatching(/stopped reading at line 1,024: the validation function's time ran out/) }));
    const report = await store.json<RejectionReport>(`s3://results/rejections/long/${upload.etag.replace(/"/g, '')}.json`);
    expect(report.problems.some((problem) => problem.code === 'limit')).toBe(true);
    // With the whole invocation ahead, the same list is read to its end.
    const relaxed = await processManifestUpload(await uploadManifest(store, 'long-ok', { ...manifest, name: 'long-ok', train: { list: 's3://data/long/train.txt' } }), { ...deps, log: silentLog, remainingMs: 300_000 });
    // (Its images are not in the store, so it is refused for them, not for the time.)
    expect(relaxed.outcome).toBe('rejected');
    if (relaxed.outcome === 'rejected') expect(relaxed.problems.filter((problem) => /time ran out/.test(problem.message))).toEqual([]);
  });

  it('leases the claim for the invocation’s remaining time (Lambda’s getRemainingTimeInMillis)', async () => {
    const upload = await uploadManifest(store, 'tiny', await writeDataset(store));
    const claims: UploadClaim[] = [];
    const watching = new (class extends MemoryObjectStore {
      override async put(...args: Parameters<MemoryObjectStore['put']>): Promise<string> {
        if (args[0].includes('/claims/')) claims.push(JSON.parse(Buffer.from(args[1]).toString('utf8')) as UploadClaim);
        return store.put(...args);
      }
      override async get(...args: Parameters<MemoryObjectStore['get']>) {
        return store.get(...args);
      }
      override async head(...args: Parameters<MemoryObjectStore['head']>) {
        return store.head(...args);
      }
    })();
    const context = { ...lambdaContext(), getRemainingTimeInMillis: () => 42_000 };
    await createValidateManifestHandler(() => ({ ...deps, resultsStore: watching }), capturingLog().log)(objectCreatedEvent('data', upload.key, upload.etag), context);
    expect(claims[0]).toMatchObject({ state: 'claimed' });
    expect(Date.parse(claims[0]!.expiresAt!) - deps.clock.now().getTime()).toBe(42_000);
  });

  it('reads a claim written before claims had a lease as leased for 15 minutes from its claim time', async () => {
    const upload = await uploadManifest(store, 'tiny', await writeDataset(store));
    const etag = upload.etag.replace(/"/g, '');
    await store.put(`s3://results/claims/tiny/${etag}.json`, JSON.stringify({ state: 'claimed', manifestUri: 'x', etag, claimedAt: '2026-11-29T09:00:00.000Z' }));
    // The clock is 10:00, an hour past that lease: taken over at once.
    const late = await processManifestUpload(upload, { ...deps, log: silentLog });
    expect(late).toMatchObject({ outcome: 'submitted', tookOver: true });
    expect(submitter.jobs).toHaveLength(1);
  });

  it('rejects a 600 MB manifest from the event size, then from a HEAD, without reading a byte of it', async () => {
    const upload = await uploadManifest(store, 'huge', '{}');
    const size = 600 * 1024 * 1024;
    const fromEvent = await processManifestUpload({ ...upload, size }, { ...deps, log: silentLog });
    expect(fromEvent).toMatchObject({ outcome: 'rejected', problems: [{ code: 'too-large', message: expect.stringContaining('got 629,145,600 bytes') }] });
    // No size in the event: a HEAD tells.
    const second = await uploadManifest(store, 'huge2', '{}');
    const headOnly = Object.assign(Object.create(store) as MemoryObjectStore, { head: async (uri: string) => ({ uri, size, etag: second.etag }) });
    const fromHead = await processManifestUpload(second, { ...deps, dataStore: headOnly, log: silentLog });
    expect(fromHead).toMatchObject({ outcome: 'rejected', problems: [{ code: 'too-large' }] });
    expect(store.reads.has('s3://data/manifests/huge.json')).toBe(false);
    expect(store.reads.has('s3://data/manifests/huge2.json')).toBe(false);
    expect(store.keys('s3://results/rejections/')).toHaveLength(2);
  });

  it('ignores objects that are not manifests/*.json', async () => {
    const outcome = await processManifestUpload({ key: 'images/a.png', etag: 'e' }, { ...deps, log: silentLog });
    expect(outcome.outcome).toBe('ignored');
    expect(store.keys('s3://results/')).toEqual([]);
  });

  it('rejects text that is not JSON, pointing at the line', async () => {
    const upload = await uploadManifest(store, 'broken', '{\n  "version": 1,\n  "name": oops\n}');
    const outcome = await processManifestUpload(upload, { ...deps, log: silentLog });
    expect(outcome.outcome).toBe('rejected');
    if (outcome.outcome === 'rejected') expect(outcome.problems[0]).toMatchObject({ line: 3 });
  });

  it('logs one JSON object per line with the request id on every line', async () => {
    const { log, lines } = capturingLog();
    const upload = await uploadManifest(store, 'tiny', await writeDataset(store));
    await createValidateManifestHandler(() => deps, log)(objectCreatedEvent('data', upload.key, upload.etag), lambdaContext('req-42'));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatchObject({ service: 'test', requestId: 'req-42', level: expect.any(String), timestamp: expect.any(String) });
    expect(lines.at(-1)).toMatchObject({ level: 'info', message: 'job submitted', runId: 'run-1', jobId: 'job-1' });
  });

  it('logs a failed invocation once with its cause, and rethrows for Lambda to retry', async () => {
    const { log, lines } = capturingLog();
    const upload = await uploadManifest(store, 'tiny', await writeDataset(store));
    submitter.failNext = 1;
    const handler = createValidateManifestHandler(() => deps, log);
    await expect(handler(objectCreatedEvent('data', upload.key, upload.etag), lambdaContext())).rejects.toThrow(/throttled/);
    expect(lines.filter((line) => line.message === 'invocation failed')).toEqual([
      expect.objectContaining({ level: 'error', error: expect.objectContaining({ message: 'SubmitJob throttled' }) }),
    ]);
  });

  it('makes the handler refuse events of another bucket', async () => {
    const handler = createValidateManifestHandler(() => ({ ...deps, locations: { ...LOCATIONS } }), capturingLog().log);
    const outcome = await handler(objectCreatedEvent('someone-else', 'manifests/x.json', 'e'), lambdaContext());
    expect(outcome).toMatchObject({ outcome: 'ignored' });
    expect(submitter.jobs).toEqual([]);
  });
});
